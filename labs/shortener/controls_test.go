package shortener

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// A crash loses exactly the clicks held in process and the near cache;
// what was pushed to Redis is counted, and a new process counts on.
func testCrash(t *testing.T, env labs.Env) {
	ctx := context.Background()
	clock := labs.NewManualClock(time.Now().Truncate(time.Second))
	e := fresh(t, env)
	e.Clock, e.Now = clock, clock.Now
	in := launch(t, e, map[string]any{"analytics": true, "cache": CacheLocal, "click_push_ms": 50})
	l := mustCreate(t, in, "https://example.org/crashed")
	served := func(want string) {
		t.Helper()
		rec := expectRedirect(t, in, l.Code, http.StatusFound, l.URL)
		if got := rec.Header().Get("X-Served-By"); got != want {
			t.Errorf("X-Served-By %q, want %q", got, want)
		}
	}
	served(tierDB)
	served(tierLocal)
	clock.Advance(50 * time.Millisecond)
	served(tierLocal) // pushes the 2 clicks before it, then counts itself
	served(tierLocal)
	rep := mustDecode[CrashReport](t, serve(in, http.MethodPost, "crash", ""))
	if rep.ClicksLost != 2 || rep.LocalDropped != 1 {
		t.Fatalf("crash report %+v; want 2 clicks lost and 1 code dropped", rep)
	}
	served(tierRedis) // the near cache starts empty
	if cs := mustDecode[ClickState](t, serve(in, http.MethodGet, "clicks", "")); cs.InProcess != 1 || cs.Pushes != 1 || cs.LostInCrash != 2 || cs.PushMS != 50 {
		t.Errorf("GET clicks %+v", cs)
	}
	c, err := in.clicks.counts(ctx, l.Code)
	if err != nil || c.InRedis != 2 || c.InProcess != 1 || c.Total != 3 {
		t.Fatalf("after the crash: %+v, %v; want 2 in Redis and 1 in process", c, err)
	}
	st := mustDecode[State](t, serve(in, http.MethodGet, "stats", ""))
	if st.Totals.Crashes != 1 || st.Totals.ClickPushes != 1 || st.ClicksPending != 1 || st.LocalPeak != 1 || st.LocalCapacity != 64*(defaultLocalCap/64) {
		t.Errorf("stats %+v", st)
	}
}

// The ring has vnodes points per shard, reported by GET shards and stats.
func testRingSize(t *testing.T, env labs.Env) {
	in := launch(t, fresh(t, env), map[string]any{"sharding": ShardConsistent, "vnodes": 16, "shards": 3})
	v := mustDecode[ShardsView](t, serve(in, http.MethodGet, "shards", ""))
	st := mustDecode[State](t, serve(in, http.MethodGet, "stats", ""))
	if v.VnodesPerShard != 16 || st.RingPoints != 48 || st.Vnodes != 16 {
		t.Errorf("vnodes %d, ring points %d", v.VnodesPerShard, st.RingPoints)
	}
	res := mustDecode[ReshardResult](t, serve(in, http.MethodPost, "reshard", `{"shards": 4}`))
	if res.Moved == 0 || res.Links != seedLinks {
		t.Errorf("reshard %+v", res)
	}
	if st := mustDecode[State](t, serve(in, http.MethodGet, "stats", "")); st.RingPoints != 64 {
		t.Errorf("ring points %d after growing to 4 shards", st.RingPoints)
	}
}

// The near cache evicts the least recently used code of a full stripe,
// and remembers the most codes it held.
func TestLocalCacheLRU(t *testing.T) {
	c := newLocalCache(2 * localStripes) // 2 per stripe
	var same []string
	for i := 0; len(same) < 3; i++ {
		code := "c" + strconv.Itoa(i)
		if len(same) == 0 || c.stripeOf(code) == c.stripeOf(same[0]) {
			same = append(same, code)
		}
	}
	x, y, z := same[0], same[1], same[2]
	c.put(x, entry{found: true, url: "x"}, 100)
	c.put(y, entry{found: true, url: "y"}, 100)
	if _, ok := c.get(x, 0); !ok {
		t.Fatal("x missing")
	}
	c.put(z, entry{found: true, url: "z"}, 100)
	if _, ok := c.get(y, 0); ok {
		t.Error("y, the least recently used, was kept")
	}
	if _, ok := c.get(x, 0); !ok {
		t.Error("x, used last, was evicted")
	}
	if _, ok := c.get(x, 100); ok {
		t.Error("x served past its time")
	}
	if c.len() != 2 || c.peak.Load() != 2 || c.capacity() != 2*localStripes {
		t.Errorf("len %d, peak %d, capacity %d", c.len(), c.peak.Load(), c.capacity())
	}
	c.del(x)
	c.clear()
	if c.len() != 0 || c.peak.Load() != 2 {
		t.Errorf("after clear: len %d, peak %d", c.len(), c.peak.Load())
	}
}

// The ladder's fields are checked like the others: out of range is a
// field error naming the field.
func TestLadderFieldsValidated(t *testing.T) {
	for field, bad := range map[string]any{"local_capacity": 15, "click_push_ms": 9, "vnodes": 0} {
		if _, errs := labs.Validate(Lab, map[string]any{field: bad}); errs[field] == "" {
			t.Errorf("%s %v: errors %v, want one naming the field", field, bad, errs)
		}
	}
	for field, good := range map[string]any{"local_capacity": 500, "click_push_ms": 40, "vnodes": 1024} {
		if _, errs := labs.Validate(Lab, map[string]any{field: good}); len(errs) > 0 {
			t.Errorf("%s %v: %v", field, good, errs)
		}
	}
	// A design stored before these fields existed runs with their defaults.
	c := configOf(labs.Design{"codegen": GenRandom, "code_length": 7, "cache": CacheRedis, "cache_ttl_ms": 1000, "shards": 4, "sharding": ShardModulo})
	if err := c.valid(); err != nil || c.localCap != defaultLocalCap || c.pushEvery != defaultPushEvery || c.vnodes != defaultVnodes {
		t.Errorf("config %+v: %v", c, err)
	}
}

// Ring shares add up to the number of shards, are 1 each under modulo,
// and even out with more points per shard.
func TestRingShares(t *testing.T) {
	spread := func(vn int) float64 {
		s := newRingLayout(5, ShardConsistent, vn).ringShares()
		sum := 0.0
		for _, x := range s {
			sum += x
		}
		if sum < 4.999 || sum > 5.001 {
			t.Errorf("vnodes %d: shares %v add up to %f", vn, s, sum)
		}
		return slices.Max(s) - slices.Min(s)
	}
	if a, b := spread(4), spread(400); b >= a || b > 0.2 {
		t.Errorf("spread %f with 4 points, %f with 400", a, b)
	}
	for _, x := range newLayout(3, ShardModulo).ringShares() {
		if x != 1 {
			t.Errorf("modulo share %f", x)
		}
	}
}
