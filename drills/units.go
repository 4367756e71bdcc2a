package drills

import "math"

// Unit is what an asked quantity is measured in.
type Unit struct {
	// Symbol is the unit as shown: "requests/s", "TB", "Gbit/s", "servers".
	Symbol string
	// Bytes is how many bytes one unit is, for amounts of data (0: not data).
	Bytes float64
	// Rate says the quantity is per second.
	Rate bool
	// Whole says it counts whole things (servers, shards), rounded up.
	Whole bool
	// Exact says only the exact value is right (a code's length).
	Exact bool
	// Words are other ways to write the unit after the number, lower case
	// without spaces.
	Words []string
}

var (
	unitRequests  = Unit{Symbol: "requests/s", Rate: true, Words: []string{"requests/s", "request/s", "req/s", "rps", "qps", "/s", "persecond", "requestspersecond", "requests"}}
	unitWrites    = Unit{Symbol: "writes/s", Rate: true, Words: []string{"writes/s", "write/s", "/s", "persecond", "writespersecond", "writes"}}
	unitReads     = Unit{Symbol: "reads/s", Rate: true, Words: []string{"reads/s", "read/s", "rps", "qps", "/s", "persecond", "readspersecond", "reads"}}
	unitQueries   = Unit{Symbol: "queries/s", Rate: true, Words: []string{"queries/s", "query/s", "qps", "/s", "persecond", "queriespersecond", "queries"}}
	unitMessages  = Unit{Symbol: "messages", Words: []string{"messages", "message", "msgs", "msg"}}
	unitMinutes   = Unit{Symbol: "minutes", Words: []string{"minutes", "minute", "mins", "min"}}
	unitLinks     = Unit{Symbol: "links", Words: []string{"links", "link", "urls", "codes"}}
	unitServers   = Unit{Symbol: "servers", Whole: true, Words: []string{"servers", "server"}}
	unitNodes     = Unit{Symbol: "nodes", Whole: true, Words: []string{"nodes", "node"}}
	unitReplicas  = Unit{Symbol: "replicas", Whole: true, Words: []string{"replicas", "replica"}}
	unitShards    = Unit{Symbol: "shards", Whole: true, Words: []string{"shards", "shard"}}
	unitConsumers = Unit{Symbol: "consumers", Whole: true, Words: []string{"consumers", "consumer"}}
	unitChars     = Unit{Symbol: "characters", Exact: true, Words: []string{"characters", "character", "chars", "char"}}
	unitGB        = Unit{Symbol: "GB", Bytes: 1e9}
	unitTB        = Unit{Symbol: "TB", Bytes: 1e12}
	unitPB        = Unit{Symbol: "PB", Bytes: 1e15}
	unitMBps      = Unit{Symbol: "MB/s", Bytes: 1e6, Rate: true}
	unitGbps      = Unit{Symbol: "Gbit/s", Bytes: 1e9 / 8, Rate: true}
)

// Right reports whether estimate is within the tolerance of the ask's
// answer (or, for a whole count, of the value before rounding up).
func (a Ask) Right(estimate float64) bool {
	if a.Unit.Exact {
		return math.Round(estimate) == a.Answer
	}
	return near(estimate, a.Answer) || near(estimate, a.Raw)
}

func near(got, want float64) bool {
	return math.Abs(got-want) <= Tolerance*math.Abs(want)*(1+1e-12)
}

// ceilWhole rounds a count up, ignoring the float noise of a division
// that should have come out whole.
func ceilWhole(v float64) float64 {
	return math.Ceil(v - 1e-9*math.Max(1, v))
}

// Text is the answer written with its unit.
func (a Ask) Text() string { return In(a.Answer, a.Unit) }
