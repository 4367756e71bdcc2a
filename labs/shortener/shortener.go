package shortener

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// Lab is the URL shortener lab.
var Lab labs.Lab = lab{}

type lab struct{}

// Design field values.
const (
	GenSequence = "sequence_base62"
	GenRandom   = "random"
	GenHash     = "hash_prefix"

	CacheNone  = "none"
	CacheRedis = "redis"
	CacheLocal = "redis_and_local"

	ShardModulo     = "modulo"
	ShardConsistent = "consistent_hash"
)

const (
	// maxShards bounds the shard tables an instance may have.
	maxShards = 16
	// seedLinks demo links are created at launch, so a load run and the
	// shard view have something to work on from the start.
	seedLinks = 1000
	// seqBlock ids are taken from the database at a time by the counter.
	seqBlock = 100
	// maxAttempts bounds the codes tried for one link: random and hash
	// prefix retry on a collision; at this many the code space is
	// considered full.
	maxAttempts = 8
	// Link creation is limited per client address with the rate limiter
	// lab's GCRA script: 20 per second, and 20 at once.
	createLimit     = 20
	createWindowMS  = 1000
	createAlgorithm = limiter.GCRA
	// maxLocalCapacity bounds the in-process tier's local_capacity.
	maxLocalCapacity = 100000
	// maxVnodes bounds the points per shard on the consistent-hash ring.
	maxVnodes = 1024
	// Defaults of local_capacity, click_push_ms and vnodes.
	defaultLocalCap  = 10000
	defaultPushEvery = 100 * time.Millisecond
	defaultVnodes    = 128
	// maxNegativeTTL bounds how long "no such code" is cached.
	maxNegativeTTL = 10 * time.Second
	// clockedRedisTTL is how long Redis keeps a cached entry when the
	// instance runs on a clock a check moves by hand (see redisTTL).
	clockedRedisTTL = time.Hour
	// Clicks are summed in process, added to a Redis hash every
	// click_push_ms and moved from there to the database every flushEvery.
	flushEvery = time.Second
)

func (lab) Info() labs.Info {
	return labs.Info{
		ID:      "shortener",
		Title:   "URL shortener",
		Summary: "Codes from a counter, a random draw or a hash prefix; links in sharded tables behind a Redis and an in-process cache; 301 or 302; resharding by modulo or consistent hashing.",
		Lesson:  "case-url-shortener",
		Explain: "POST shorten stores a link in the database and answers 201 with its code and short URL; GET r/{code} redirects. " +
			"Codes come from the design's generator: sequence_base62 takes ids from a counter in the database, 100 at a time, and writes them in base62 " +
			"(no collisions, but consecutive and guessable); random draws code_length characters from a cryptographic source and retries on a collision; " +
			"hash_prefix keeps code_length characters of the URL's SHA-256, so the same URL gets the same code, and salts and rehashes on a collision. " +
			"Each link lives in one of the shard tables, chosen by a hash of its code: modulo the number of shards, or on a consistent-hash ring with vnodes points per shard (128 by default). " +
			"A redirect looks the code up in process memory (up to local_capacity codes, least recently used evicted), then Redis, then its shard (cache-aside, one database read per code at a time), and caches unknown codes briefly too. " +
			"It answers 301 (browsers may keep it for good, so later clicks are never seen) or, with analytics on, 302 with no-store, and counts the click: " +
			"in process, added to Redis every click_push_ms (100 by default), moved to the database every second; POST crash stops the process as a crash would, losing what it held in memory. Expired links answer 410 and their codes are never reused. " +
			"Creation refuses anything but absolute http and https URLs of at most 2,048 characters without credentials, and is rate-limited to 20 links per second " +
			"per client address by the rate limiter lab's GCRA script. Each instance starts with 1,000 demo links for load runs (load key k0 is demo link 0), " +
			"and POST batch creates up to 10,000 links at once to compare the generators.",
		Try: []string{
			"POST shorten with {\"url\": \"https://example.org/a/long/path?q=1\"}, then GET links/{code} with the code you got: it says what GET r/{code} answers " +
				"(301 and the Location; a browser would follow it), which tier served the lookup and which shard table holds the link.",
			"Create a link with {\"url\": \"https://example.org/soon\", \"ttl_s\": 5}; GET links/{code} before and after 5 s: 301, then 410 Gone.",
			"Try invalid links: {\"url\": \"javascript:alert(1)\"}, {\"url\": \"https://user:pw@bank.example.org\"}, {\"url\": \"https://example.org\", \"alias\": \"admin\"}. " +
				"Each answers 400 naming the problem. Send more than 20 valid ones within a second: the 21st answers 429 with Retry-After.",
			"Run a load of 5,000 requests on 1 key (one viral demo link) with cache none, then redis, then redis_and_local: the tier chart moves from db_hits " +
				"to redis_hits to local_hits, and the p99 drops.",
			"Set cache_ttl_ms to 1000 and run a load over 1,000 keys (every demo link): db_hits come back every second as entries expire.",
			"POST batch with {\"count\": 10000} and compare the collisions: none with random codes of length 7; relaunch with code_length 3 (238,328 codes) and they climb; " +
				"with 2 (3,844 codes) creations start failing long before the space is full. sequence_base62 with length 2 never collides and stops at exactly 3,844 codes.",
			"GET shards to see how the links spread. POST reshard with {\"shards\": 5, \"dry_run\": true}: under modulo about 80% of the links would move. " +
				"Then POST reshard {\"shards\": 4, \"sharding\": \"consistent_hash\"} (changing the scheme moves most of them once) and {\"shards\": 5}: about 1/5 move.",
			"Turn analytics on: redirects answer 302 with Cache-Control: no-store, and GET links/{code} shows the clicks still in process, in Redis and flushed to the database.",
			"With analytics on and click_push_ms 5000, redirect a link a few times and POST crash: the clicks still held in process are lost, the ones already pushed to Redis are not. " +
				"A shorter interval loses fewer and costs Redis more writes (GET stats click_pushes).",
			"Relaunch with consistent_hash and vnodes 4, then POST reshard {\"shards\": 5}: GET shards shows some shards with far more than a fifth of the links. " +
				"With vnodes 128 they even out, and the ring has 640 points (ring_points in GET stats).",
		},
		Pokes: pokes(),
		Key:   &labs.KeyNumber{Label: "Lookups served without the database", Kind: labs.KeyRatio, Of: []string{"local_hits", "redis_hits"}, Rest: []string{"db_hits"}},
		Charts: []labs.Chart{
			{Title: "Redirects per 100 ms", Series: []string{"redirects", "not_found", "gone"}, Kind: "count"},
			{Title: "Lookups by tier per 100 ms", Series: []string{"local_hits", "redis_hits", "db_hits"}, Kind: "count"},
			{Title: "Redirect latency", Series: []string{"redirect_p50", "redirect_p99"}, Kind: "latency"},
			{Title: "Creations per 100 ms", Series: []string{"created", "collisions", "rejected", "rate_limited"}, Kind: "count"},
			{Title: "Keys moved on reshard", Series: []string{"keys_moved"}, Kind: "count"},
			{Title: "Clicks counted per 100 ms", Series: []string{"clicks_to_redis", "clicks_to_db"}, Kind: "count"},
		},
	}
}

func (lab) Fields() []labs.Field {
	lenLo, lenHi := labs.Range(2, 10)
	ttlLo, ttlHi := labs.Range(100, 86400000)
	shLo, shHi := labs.Range(1, maxShards)
	capLo, capHi := labs.Range(16, maxLocalCapacity)
	pushLo, pushHi := labs.Range(10, 10000)
	vnLo, vnHi := labs.Range(1, maxVnodes)
	return []labs.Field{
		{Name: "codegen", Label: "Code generator", Type: labs.Enum, Default: GenRandom, Options: []string{GenSequence, GenRandom, GenHash},
			Help: "sequence_base62: a database counter, 100 ids at a time, in base62; never collides, but codes are consecutive. " +
				"random: code_length random base62 characters, retried on a collision. hash_prefix: the first characters of the URL's SHA-256; " +
				"the same URL gets the same code, and a collision is salted and rehashed."},
		{Name: "code_length", Label: "Code length", Type: labs.Int, Default: 7, Min: lenLo, Max: lenHi, Unit: "characters",
			Help: "Base62 characters per generated code: 62^length codes in all (3,844 for 2, 3.5 trillion for 7)."},
		{Name: "cache", Label: "Cache tiers", Type: labs.Enum, Default: CacheRedis, Options: []string{CacheNone, CacheRedis, CacheLocal},
			Help: "none: every redirect reads the database. redis: cache-aside in Redis. redis_and_local: an in-process cache of up to local_capacity codes in front of Redis, " +
				"which absorbs a viral link without a network round trip."},
		{Name: "local_capacity", Label: "Near-cache capacity", Type: labs.Int, Default: defaultLocalCap, Min: capLo, Max: capHi, Unit: "codes",
			Help: "How many codes the in-process cache (redis_and_local) holds at most, in 64 stripes of local_capacity/64 each; a full stripe evicts its least recently used code. " +
				"Each code costs process memory on every redirect server."},
		{Name: "cache_ttl_ms", Label: "Cache TTL", Type: labs.Int, Default: 60000, Min: ttlLo, Max: ttlHi, Unit: "ms",
			Help: "How long a cached code lives in each tier (an unknown code at most 10 s). Entries carry the link's expiry, so an expired link answers 410 whatever is cached."},
		{Name: "analytics", Label: "Click analytics", Type: labs.Bool, Default: false,
			Help: "Count clicks: redirects answer 302 with Cache-Control: no-store so every click comes back; counts are summed in process, " +
				"added to Redis every click_push_ms and flushed to the database every second. Off: 301, which browsers may cache for good."},
		{Name: "click_push_ms", Label: "Click push interval", Type: labs.Int, Default: 100, Min: pushLo, Max: pushHi, Unit: "ms",
			Help: "How often the clicks summed in process are added to Redis in one write. A crash loses the clicks of the current interval; " +
				"a shorter interval loses fewer and costs Redis more writes a second."},
		{Name: "shards", Label: "Shards", Type: labs.Int, Default: 4, Min: shLo, Max: shHi,
			Help: "Tables the links are spread over, each standing for a database server. POST reshard changes it on a running instance and reports how many links moved."},
		{Name: "sharding", Label: "Sharding", Type: labs.Enum, Default: ShardModulo, Options: []string{ShardModulo, ShardConsistent},
			Help: "modulo: hash(code) mod shards; changing the count moves most links. consistent_hash: a ring with vnodes points per shard; " +
				"adding a shard moves about 1/shards of them."},
		{Name: "vnodes", Label: "Ring points per shard", Type: labs.Int, Default: defaultVnodes, Min: vnLo, Max: vnHi, Unit: "points",
			Help: "consistent_hash only: how many points (virtual nodes) each shard has on the ring. Few points leave some shards with much more than their share; " +
				"many even the shards out, but every router keeps the whole ring (shards × vnodes points)."},
	}
}

// Check has no rule across fields: every combination is a design worth
// running, including the ones that fail (a code space too small for the
// links it must hold).
func (lab) Check(labs.Design) labs.FieldErrors { return nil }

// config is a design in the types the lab computes with.
type config struct {
	codegen   string
	codeLen   int
	cache     string
	cacheTTL  time.Duration
	analytics bool
	shards    int
	sharding  string
	localCap  int
	pushEvery time.Duration
	vnodes    int
}

// configOf reads d; a field missing from a design stored before the field
// existed takes its default.
func configOf(d labs.Design) config {
	c := config{
		codegen:   d.String("codegen"),
		codeLen:   d.Int("code_length"),
		cache:     d.String("cache"),
		cacheTTL:  time.Duration(d.Int("cache_ttl_ms")) * time.Millisecond,
		analytics: d.Bool("analytics"),
		shards:    d.Int("shards"),
		sharding:  d.String("sharding"),
		localCap:  d.Int("local_capacity"),
		pushEvery: time.Duration(d.Int("click_push_ms")) * time.Millisecond,
		vnodes:    d.Int("vnodes"),
	}
	if c.localCap == 0 {
		c.localCap = defaultLocalCap
	}
	if c.pushEvery == 0 {
		c.pushEvery = defaultPushEvery
	}
	if c.vnodes == 0 {
		c.vnodes = defaultVnodes
	}
	return c
}

func (c config) valid() error {
	switch {
	case c.codegen != GenSequence && c.codegen != GenRandom && c.codegen != GenHash:
		return fmt.Errorf("unknown codegen %q", c.codegen)
	case c.codeLen < 2 || c.codeLen > 10:
		return fmt.Errorf("code_length %d is outside 2 to 10", c.codeLen)
	case c.cache != CacheNone && c.cache != CacheRedis && c.cache != CacheLocal:
		return fmt.Errorf("unknown cache %q", c.cache)
	case c.cacheTTL < time.Millisecond:
		return errors.New("cache_ttl_ms must be positive")
	case c.shards < 1 || c.shards > maxShards:
		return fmt.Errorf("shards %d is outside 1 to %d", c.shards, maxShards)
	case c.sharding != ShardModulo && c.sharding != ShardConsistent:
		return fmt.Errorf("unknown sharding %q", c.sharding)
	case c.localCap < 1 || c.localCap > maxLocalCapacity:
		return fmt.Errorf("local_capacity %d is outside 1 to %d", c.localCap, maxLocalCapacity)
	case c.pushEvery < time.Millisecond:
		return errors.New("click_push_ms must be positive")
	case c.vnodes < 1 || c.vnodes > maxVnodes:
		return fmt.Errorf("vnodes %d is outside 1 to %d", c.vnodes, maxVnodes)
	}
	return nil
}

var instanceID = regexp.MustCompile(`^[a-z0-9]{1,40}$`)

// New builds an instance on env. When env's tables already hold links (a
// process restarting on the same database), it rebuilds from them: the
// shard layout, the counter and every link come from the database, and
// only the caches start empty.
func (lab) New(ctx context.Context, env labs.Env, d labs.Design) (labs.Instance, error) {
	cfg := configOf(d)
	if err := cfg.valid(); err != nil {
		return nil, fmt.Errorf("shortener: %w", err)
	}
	if !instanceID.MatchString(env.Instance) {
		return nil, fmt.Errorf("shortener: instance id %q is not [a-z0-9]{1,40}", env.Instance)
	}
	return newInstance(ctx, env, cfg)
}
