package shortener

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// TestLab runs the lab's behaviours on both backends, one environment
// each, every instance under its own id.
func TestLab(t *testing.T) {
	for _, e := range labtest.Envs(t, "lab") {
		t.Run(e.Name, func(t *testing.T) {
			for _, c := range []struct {
				name string
				run  func(t *testing.T, env labs.Env)
			}{
				{"shorten and redirect", testShortenAndRedirect},
				{"hash prefix", testHashPrefix},
				{"tiers", testTiers},
				{"negative cache", testNegativeCache},
				{"expiry", testExpiry},
				{"cache on the lab clock", testCacheClock},
				{"clicks on the lab clock", testClicksClock},
				{"analytics", testAnalytics},
				{"restart", testRestart},
				{"reshard", testReshard},
				{"code space", testCodeSpace},
				{"rate limit", testRateLimit},
				{"route errors", testRouteErrors},
				{"redis down", testRedisDown},
				{"hit and load", testHitAndLoad},
				{"batch", testBatch},
				{"close", testClose},
			} {
				t.Run(c.name, func(t *testing.T) { c.run(t, e.Env) })
			}
		})
	}
}

var envSeq sync.Map

// fresh gives each instance of a test a distinct id on env.
func fresh(t *testing.T, env labs.Env) labs.Env {
	n, _ := envSeq.LoadOrStore(t.Name(), new(int))
	p := n.(*int)
	*p++
	id := strings.NewReplacer("/", "", "_", "", " ", "", "+", "", "-", "").Replace(strings.ToLower(t.Name()))
	if len(id) > 30 {
		id = id[len(id)-30:]
	}
	return withID(env, fmt.Sprintf("%s%d", id, *p))
}

func shorten(t *testing.T, in labs.Instance, body string) Created {
	t.Helper()
	rec := serve(in, http.MethodPost, "shorten", body)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST shorten %s: %d %s", body, rec.Code, rec.Body)
	}
	return mustDecode[Created](t, rec)
}

func mustCreate(t *testing.T, in *instance, u string) link {
	t.Helper()
	l, _, err := in.create(context.Background(), createRequest{URL: u})
	if err != nil {
		t.Fatalf("create %s: %v", u, err)
	}
	return l
}

// expectRedirect GETs r/{code} and checks the status and Location.
func expectRedirect(t *testing.T, in labs.Instance, code string, status int, location string) *httptest.ResponseRecorder {
	t.Helper()
	rec := serve(in, http.MethodGet, "r/"+code, "")
	if rec.Code != status || rec.Header().Get("Location") != location {
		t.Fatalf("GET r/%s: %d Location %q; want %d %q (%s)", code, rec.Code, rec.Header().Get("Location"), status, location, rec.Body)
	}
	return rec
}

func testShortenAndRedirect(t *testing.T, env labs.Env) {
	for _, gen := range []string{GenSequence, GenRandom, GenHash} {
		t.Run(gen, func(t *testing.T) {
			in := launch(t, fresh(t, env), map[string]any{"codegen": gen})
			u := "https://shop.example.org/p?id=42&ref=a%20b#top"
			c := shorten(t, in, `{"url": "`+u+`"}`)
			if len(c.Code) != 7 || !isBase62(c.Code) || c.Path != "r/"+c.Code || c.ShortURL != "http://example.com/r/"+c.Code || c.URL != u || c.ExpiresAt != nil {
				t.Fatalf("created %+v", c)
			}
			if gen == GenSequence && c.Code != encode(seedLinks, 7) {
				t.Errorf("the counter's first code after the demo links is %q, want %q", c.Code, encode(seedLinks, 7))
			}
			if gen == GenHash && c.Code != hashCode(u, 0, 7) {
				t.Errorf("hash_prefix code %q, want %q", c.Code, hashCode(u, 0, 7))
			}
			rec := expectRedirect(t, in, c.Code, http.StatusMovedPermanently, u)
			if cc := rec.Header().Get("Cache-Control"); cc != "" {
				t.Errorf("a permanent 301 says Cache-Control %q", cc)
			}
			expectRedirect(t, in, c.Code, http.StatusMovedPermanently, u)
			rec = serve(in, http.MethodGet, "r/nosuch-link", "")
			if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "nosuch-link") {
				t.Errorf("unknown code: %d %s", rec.Code, rec.Body)
			}
			info := mustDecode[LinkInfo](t, serve(in, http.MethodGet, "links/"+c.Code, ""))
			if !info.Found || info.URL != u || info.Redirect.Status != 301 || info.Redirect.Location != u || !info.InShardTable ||
				info.Shard != in.layout.shardOf(c.Code) || info.CreatedAt == nil || info.ServedBy != tierRedis {
				t.Errorf("links/%s: %+v", c.Code, info)
			}
			st, err := in.state(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			// links/{code} is not a redirect: two redirects were counted.
			if st.Links != seedLinks+1 || st.Totals.Created != 1 || st.Totals.Redirects != 2 || st.Totals.NotFound != 1 ||
				st.Totals.DBHits != 2 || st.Totals.RedisHits != 1 || st.RedirectStatus != 301 {
				t.Errorf("state %+v", st)
			}
		})
	}
	// Behind the web layer the short URL is the instance's redirect path.
	in := launch(t, fresh(t, env), nil)
	req := httptest.NewRequest(http.MethodPost, "/api/labs/shortener/instances/abc123/shorten", strings.NewReader(`{"url": "https://example.org/"}`))
	req.Host = "workbook.example:8080"
	req.Header.Set("X-Forwarded-Proto", "https")
	rec := httptest.NewRecorder()
	in.handleShorten(rec, req, nil)
	c := mustDecode[Created](t, rec)
	if want := "https://workbook.example:8080/api/labs/shortener/instances/abc123/r/" + c.Code; c.ShortURL != want || rec.Header().Get("Location") != want {
		t.Errorf("short_url %q, Location %q; want %q", c.ShortURL, rec.Header().Get("Location"), want)
	}
}

func testHashPrefix(t *testing.T, env labs.Env) {
	in := launch(t, fresh(t, env), map[string]any{"codegen": GenHash})
	a := shorten(t, in, `{"url": "https://example.org/same"}`)
	rec := serve(in, http.MethodPost, "shorten", `{"url": "https://example.org/same"}`)
	again := mustDecode[Created](t, rec)
	if rec.Code != http.StatusOK || !again.Existing || again.Code != a.Code {
		t.Errorf("the same URL again: %d %+v, want 200 with code %s", rec.Code, again, a.Code)
	}
	// A link with a lifetime is never shared: it gets a salted code.
	ttl := shorten(t, in, `{"url": "https://example.org/same", "ttl_s": 60}`)
	if ttl.Code == a.Code || ttl.Code != hashCode("https://example.org/same", 1, 7) {
		t.Errorf("ttl link code %s (permanent %s)", ttl.Code, a.Code)
	}
	// A real collision on a short code is resolved by salting.
	in2 := launch(t, fresh(t, env), map[string]any{"codegen": GenHash, "code_length": 2})
	for i := range 500 {
		mustCreate(t, in2, fmt.Sprintf("https://example.org/c/%d", i))
	}
	if in2.collisions.Load() == 0 {
		t.Error("500 links in 3,844 two-character codes (1,000 taken) caused no collision")
	}
}

func testTiers(t *testing.T, env labs.Env) {
	cases := []struct {
		cache string
		want  [3]int64 // local, redis, db hits after three redirects
	}{
		{CacheNone, [3]int64{0, 0, 3}},
		{CacheRedis, [3]int64{0, 2, 1}},
		{CacheLocal, [3]int64{2, 0, 1}},
	}
	for _, c := range cases {
		t.Run(c.cache, func(t *testing.T) {
			in := launch(t, fresh(t, env), map[string]any{"cache": c.cache})
			l := mustCreate(t, in, "https://example.org/tier")
			for range 3 {
				expectRedirect(t, in, l.Code, 301, l.URL)
			}
			got := [3]int64{in.localHits.Load(), in.redisHits.Load(), in.dbHits.Load()}
			if got != c.want {
				t.Errorf("local, redis, db hits %v, want %v", got, c.want)
			}
			// A new process with an empty local tier finds it in Redis.
			if c.cache == CacheLocal {
				in.local.clear()
				expectRedirect(t, in, l.Code, 301, l.URL)
				if in.redisHits.Load() != 1 {
					t.Errorf("redis hits %d after clearing the local tier", in.redisHits.Load())
				}
			}
		})
	}
}

// A 404 is cached, and creating the code drops it.
func testNegativeCache(t *testing.T, env labs.Env) {
	for _, cache := range []string{CacheRedis, CacheLocal} {
		t.Run(cache, func(t *testing.T) {
			in := launch(t, fresh(t, env), map[string]any{"cache": cache})
			for range 2 {
				if rec := serve(in, http.MethodGet, "r/later-1", ""); rec.Code != 404 {
					t.Fatalf("before creation: %d", rec.Code)
				}
			}
			if in.dbHits.Load() != 1 {
				t.Errorf("two lookups of an unknown code read the database %d times", in.dbHits.Load())
			}
			shorten(t, in, `{"url": "https://example.org/later", "alias": "later-1"}`)
			expectRedirect(t, in, "later-1", 301, "https://example.org/later")
		})
	}
}

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testExpiry(t *testing.T, env labs.Env) {
	for _, cache := range []string{CacheNone, CacheRedis, CacheLocal} {
		t.Run(cache, func(t *testing.T) {
			clock := &fakeClock{t: time.Now()}
			e := fresh(t, env)
			e.Now = clock.Now
			in := launch(t, e, map[string]any{"cache": cache, "cache_ttl_ms": 3600000})
			c := shorten(t, in, `{"url": "https://example.org/soon", "ttl_s": 60}`)
			if c.ExpiresAt == nil || *c.ExpiresAt != clock.Now().UnixMilli()+60000 {
				t.Fatalf("expires_at %v", c.ExpiresAt)
			}
			rec := expectRedirect(t, in, c.Code, 301, c.URL)
			if cc := rec.Header().Get("Cache-Control"); cc != "max-age=60" {
				t.Errorf("Cache-Control %q: a browser may keep the 301 only until the link expires", cc)
			}
			expectRedirect(t, in, c.Code, 301, c.URL) // cached in every tier now
			clock.Add(59 * time.Second)
			expectRedirect(t, in, c.Code, 301, c.URL)
			clock.Add(time.Second)
			for range 2 {
				rec = serve(in, http.MethodGet, "r/"+c.Code, "")
				if rec.Code != http.StatusGone || !strings.Contains(rec.Body.String(), "never reused") {
					t.Fatalf("after 60 s: %d %s", rec.Code, rec.Body)
				}
			}
			if in.gone.Load() != 2 {
				t.Errorf("gone %d", in.gone.Load())
			}
		})
	}
}

// On a clock the check moves, cached entries live for the cache TTL of
// that clock in every tier, whatever Redis's own TTL says; on the real
// clock Redis evicts them after the TTL, as the lesson says.
func testCacheClock(t *testing.T, env labs.Env) {
	ctx := context.Background()
	for _, cache := range []string{CacheRedis, CacheLocal} {
		t.Run(cache, func(t *testing.T) {
			clock := labs.NewManualClock(time.Now())
			e := fresh(t, env)
			e.Clock, e.Now = clock, clock.Now
			in := launch(t, e, map[string]any{"cache": cache, "cache_ttl_ms": 1000})
			l := mustCreate(t, in, "https://example.org/clocked")
			expectRedirect(t, in, l.Code, 301, l.URL)
			clock.Advance(999 * time.Millisecond)
			expectRedirect(t, in, l.Code, 301, l.URL)
			if n := in.dbHits.Load(); n != 1 {
				t.Errorf("%d database reads within the cache TTL on the lab's clock, want 1", n)
			}
			if ttl := in.rdb.PTTL(ctx, in.cacheKey(l.Code)).Val(); ttl <= time.Second {
				t.Errorf("Redis keeps the entry for %s on a hand-moved clock; the entry's own cached-until time must decide", ttl)
			}
			clock.Advance(time.Millisecond)
			expectRedirect(t, in, l.Code, 301, l.URL)
			if n := in.dbHits.Load(); n != 2 {
				t.Errorf("%d database reads once the cache TTL passed on the lab's clock, want 2", n)
			}
		})
	}
	in := launch(t, fresh(t, env), map[string]any{"cache": CacheRedis, "cache_ttl_ms": 60000})
	l := mustCreate(t, in, "https://example.org/real")
	expectRedirect(t, in, l.Code, 301, l.URL)
	if ttl := in.rdb.PTTL(ctx, in.cacheKey(l.Code)).Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("on the real clock Redis keeps the entry for %s, want the cache TTL of 1m", ttl)
	}
}

// On a clock the check moves, clicks go to Redis and the database when the
// clock passes 100 ms and 1 s, not before.
func testClicksClock(t *testing.T, env labs.Env) {
	ctx := context.Background()
	clock := labs.NewManualClock(time.Now())
	e := fresh(t, env)
	e.Clock, e.Now = clock, clock.Now
	in := launch(t, e, map[string]any{"analytics": true})
	l := mustCreate(t, in, "https://example.org/counted-clock")
	for range 3 {
		expectRedirect(t, in, l.Code, http.StatusFound, l.URL)
	}
	bctx, cancel := context.WithTimeout(ctx, 30*time.Second) // a backstop for a counter that never starts
	defer cancel()
	if err := clock.BlockUntil(bctx, 1); err != nil {
		t.Fatalf("the click counter never waited on the lab's clock: %v", err)
	}
	if c, err := in.clicks.counts(ctx, l.Code); err != nil || c.InProcess != 3 {
		t.Fatalf("before the clock moved: %+v, %v; want 3 clicks in process", c, err)
	}
	waitFor := func(what string, ok func(ClickCounts) bool) {
		t.Helper()
		// The counter works on its own goroutine once the clock has moved;
		// the deadline only stops a test whose counter never moves them.
		deadline := time.Now().Add(30 * time.Second)
		for {
			c, err := in.clicks.counts(ctx, l.Code)
			if err != nil {
				t.Fatal(err)
			}
			if ok(c) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %+v", what, c)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	clock.Advance(pushEvery)
	waitFor("100 ms on, the clicks are in Redis", func(c ClickCounts) bool { return c.InRedis == 3 && c.InProcess == 0 })
	clock.Advance(flushEvery)
	waitFor("1 s on, the clicks are in the database", func(c ClickCounts) bool { return c.InDatabase == 3 && c.InRedis == 0 })
}

func testAnalytics(t *testing.T, env labs.Env) {
	in := launch(t, fresh(t, env), map[string]any{"analytics": true, "cache": CacheLocal})
	l := mustCreate(t, in, "https://example.org/counted")
	for range 5 {
		rec := expectRedirect(t, in, l.Code, http.StatusFound, l.URL)
		if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("302 with Cache-Control %q", cc)
		}
	}
	if o, _ := in.Hit(context.Background(), l.Code); o != http.StatusFound {
		t.Fatalf("Hit: %d", o)
	}
	// Clicks reach the database within a second on the real clock; the
	// deadline only stops a counter that never flushes, so it is generous
	// enough for a busy machine.
	deadline := time.Now().Add(30 * time.Second)
	var info LinkInfo
	for {
		info = mustDecode[LinkInfo](t, serve(in, http.MethodGet, "links/"+l.Code, ""))
		if info.Clicks != nil && info.Clicks.InDatabase == 6 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if info.Clicks == nil || info.Clicks.Total != 6 || info.Clicks.InDatabase != 6 || info.Redirect.Status != 302 {
		t.Errorf("clicks %+v, redirect %+v: want all 6 in the database", info.Clicks, info.Redirect)
	}
	if tot := in.totals(); tot.ClicksToRedis != 6 || tot.ClicksToDB != 6 {
		t.Errorf("totals %+v", tot)
	}
}

func testRestart(t *testing.T, env labs.Env) {
	ctx := context.Background()
	e := fresh(t, env)
	in := launch(t, e, map[string]any{"codegen": GenSequence, "cache": CacheLocal})
	var links []link
	for i := range 30 {
		links = append(links, mustCreate(t, in, fmt.Sprintf("https://example.org/keep/%d", i)))
	}
	for _, l := range links {
		expectRedirect(t, in, l.Code, 301, l.URL)
	}
	if _, err := in.reshard(ctx, newLayout(6, ShardConsistent), false); err != nil {
		t.Fatal(err)
	}
	if err := in.halt(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := env.Redis.Keys(ctx, e.Prefix+"*").Result(); err != nil || len(n) > 0 {
		t.Fatalf("keys after halt: %v %v", n, err)
	}
	if err := in.Close(ctx); err != nil || countTables(t, e) == 0 {
		t.Fatalf("Close after halt removed the tables (%v)", err)
	}
	again := launch(t, e, map[string]any{"codegen": GenSequence, "cache": CacheLocal})
	if !again.rebuilt || again.layout.shards != 6 || again.layout.sharding != ShardConsistent || len(again.hot) != seedLinks {
		t.Fatalf("rebuilt %v, layout %d %s, %d demo links", again.rebuilt, again.layout.shards, again.layout.sharding, len(again.hot))
	}
	for _, l := range links {
		expectRedirect(t, again, l.Code, 301, l.URL)
	}
	if again.dbHits.Load() != int64(len(links)) {
		t.Errorf("%d database reads for %d links after the restart", again.dbHits.Load(), len(links))
	}
	// The counter goes on after the block the old process held.
	next := mustCreate(t, again, "https://example.org/after")
	id, _ := decode(next.Code)
	if last, _ := decode(links[len(links)-1].Code); id <= last {
		t.Errorf("first code after the restart %s (id %d) is not after %s (id %d)", next.Code, id, links[len(links)-1].Code, last)
	}
	if s, _ := again.Hit(ctx, "k0"); s != 301 {
		t.Errorf("Hit k0 after the restart: %d", s)
	}
}

func testReshard(t *testing.T, env labs.Env) {
	ctx := context.Background()
	in := launch(t, fresh(t, env), map[string]any{"cache": CacheNone, "shards": 4, "sharding": ShardModulo})
	dry := mustDecode[ReshardResult](t, serve(in, http.MethodPost, "reshard", `{"shards": 5, "dry_run": true}`))
	if !dry.DryRun || dry.Links != seedLinks || dry.Moved < 700 || dry.Moved > 900 || dry.ExpectedPct != 80 || in.layout.shards != 4 {
		t.Fatalf("dry run %+v, layout %d", dry, in.layout.shards)
	}
	res := mustDecode[ReshardResult](t, serve(in, http.MethodPost, "reshard", `{"shards": 5}`))
	if res.Moved != dry.Moved || in.layout.shards != 5 || in.keysMoved.Load() != int64(res.Moved) {
		t.Fatalf("reshard %+v", res)
	}
	view := mustDecode[ShardsView](t, serve(in, http.MethodGet, "shards?code="+in.hot[7], ""))
	if view.Links != seedLinks || len(view.PerShard) != 5 || view.Code == nil || !view.Code.Stored || view.Code.Shard != in.layout.shardOf(in.hot[7]) {
		t.Fatalf("shards %+v", view)
	}
	for i, s := range view.PerShard {
		if int(s.Links) != res.After[i] || len(s.Sample) == 0 {
			t.Errorf("shard %d: %+v, reshard said %d", i, s, res.After[i])
		}
	}
	// Every link is where the new layout looks for it.
	for _, c := range in.hot {
		if _, ok, err := in.read(ctx, c); err != nil || !ok {
			t.Fatalf("%s not found after resharding: %v", c, err)
		}
	}
	// Onto the ring (most move), then one more shard: about 1/6 move.
	if _, err := in.reshard(ctx, newLayout(5, ShardConsistent), false); err != nil {
		t.Fatal(err)
	}
	res = mustDecode[ReshardResult](t, serve(in, http.MethodPost, "reshard", `{"shards": 6}`))
	if res.To.Sharding != ShardConsistent || res.MovedPct < 8 || res.MovedPct > 27 {
		t.Errorf("consistent 5 → 6 moved %.1f%%", res.MovedPct)
	}
	// Removing shards drops their tables once empty.
	if _, err := in.reshard(ctx, newLayout(2, ShardConsistent), false); err != nil {
		t.Fatal(err)
	}
	if n := countTables(t, in.env); n != 4 { // meta, clicks and 2 shards
		t.Errorf("%d tables after resharding to 2", n)
	}
	for _, c := range in.hot {
		expectRedirect(t, in, c, 301, mustLink(t, in, c).URL)
	}
	for _, body := range []string{`{}`, `{"shards": 0}`, `{"shards": 17}`, `{"shards": "5"}`, `{"shards": 3, "sharding": "range"}`, `{"shards": 3, "x": 1}`, `nope`} {
		if rec := serve(in, http.MethodPost, "reshard", body); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"error"`) {
			t.Errorf("reshard %s: %d %s", body, rec.Code, rec.Body)
		}
	}
}

func mustLink(t *testing.T, in *instance, code string) link {
	t.Helper()
	l, ok, err := in.read(context.Background(), code)
	if err != nil || !ok {
		t.Fatalf("read %s: %v %v", code, ok, err)
	}
	return l
}

// Two-character codes run out: the counter after exactly 3,844, random
// codes a little before, after a growing number of collisions.
func testCodeSpace(t *testing.T, env labs.Env) {
	ctx := context.Background()
	t.Run(GenSequence, func(t *testing.T) {
		in := launch(t, fresh(t, env), map[string]any{"codegen": GenSequence, "code_length": 2, "cache": CacheNone})
		n := 0
		for ; n < 4000; n++ {
			if _, _, err := in.create(ctx, createRequest{URL: fmt.Sprintf("https://example.org/%d", n)}); err != nil {
				if err != errSpaceFull {
					t.Fatal(err)
				}
				break
			}
		}
		if n != 3844-seedLinks || in.collisions.Load() != 0 {
			t.Errorf("%d links created after the demo links, %d collisions; want %d and 0", n, in.collisions.Load(), 3844-seedLinks)
		}
		rec := serve(in, http.MethodPost, "shorten", `{"url": "https://example.org/one-more"}`)
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "3,844 codes of length 2") {
			t.Errorf("one more: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run(GenRandom, func(t *testing.T) {
		in := launch(t, fresh(t, env), map[string]any{"codegen": GenRandom, "code_length": 2, "cache": CacheNone})
		var made, failed int
		for i := range 2500 {
			switch _, _, err := in.create(ctx, createRequest{URL: fmt.Sprintf("https://example.org/%d", i)}); {
			case err == nil:
				made++
			case err == errNoFreeCode:
				failed++
			default:
				t.Fatal(err)
			}
		}
		// The first failure comes at 40% to 60% full; by 2,500 attempts
		// about one in ten fails.
		if made < 1500 || failed < 10 || in.collisions.Load() < int64(made)/4 {
			t.Errorf("%d of 2,500 links created, %d failed, %d collisions", made, failed, in.collisions.Load())
		}
		rec := serve(in, http.MethodPost, "shorten", `{"url": "https://example.org/one-more"}`)
		if rec.Code == http.StatusCreated {
			return // a free code can still turn up by chance
		}
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "nearly used up") {
			t.Errorf("one more: %d %s", rec.Code, rec.Body)
		}
	})
}

// serveFrom is serve from a client address.
func serveFrom(in labs.Instance, addr, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/"+path, strings.NewReader(body))
	req.RemoteAddr = addr
	rec := httptest.NewRecorder()
	labs.HandlerOf(in).ServeHTTP(rec, req)
	return rec
}

func testRateLimit(t *testing.T, env labs.Env) {
	in := launch(t, fresh(t, env), nil)
	// Refused requests do not use up the allowance.
	for range 10 {
		if rec := serveFrom(in, "203.0.113.5:4000", http.MethodPost, "shorten", `{"url": "ftp://x.example"}`); rec.Code != 400 {
			t.Fatalf("invalid: %d", rec.Code)
		}
	}
	// GCRA refills one creation every 1/20 s, so a slow machine sees a few
	// more pass before the first refusal: at most one per refill interval
	// that went by.
	start := time.Now()
	var rec *httptest.ResponseRecorder
	allowed := 0
	for i := range 200 {
		rec = serveFrom(in, "203.0.113.5:"+strconv.Itoa(4000+i%2), http.MethodPost, "shorten", fmt.Sprintf(`{"url": "https://example.org/%d"}`, i))
		if rec.Code != http.StatusCreated {
			break
		}
		allowed++
	}
	most := createLimit + int(time.Since(start)/(time.Second/createLimit)) + 1
	if allowed < createLimit || allowed > most {
		t.Fatalf("%d creations passed before a refusal; want %d to %d", allowed, createLimit, most)
	}
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" || !strings.Contains(rec.Body.String(), "20 per second") {
		t.Fatalf("refusal: %d Retry-After %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if rec := serveFrom(in, "[2001:db8::7%eth0]:4000", http.MethodPost, "shorten", `{"url": "https://example.org/other"}`); rec.Code != 201 {
		t.Errorf("another client: %d %s", rec.Code, rec.Body)
	}
	if in.rateLimited.Load() != 1 || in.rejected.Load() != 10 {
		t.Errorf("rate limited %d, rejected %d", in.rateLimited.Load(), in.rejected.Load())
	}
}

func testRouteErrors(t *testing.T, env labs.Env) {
	in := launch(t, fresh(t, env), nil)
	for _, c := range []struct {
		body   string
		status int
		field  string
	}{
		{`{"url": "javascript:alert(1)"}`, 400, "url"},
		{`{"url": "https://a.example", "alias": "api"}`, 400, "alias"},
		{`{"url": "https://a.example", "ttl_s": 0}`, 400, "ttl_s"},
		{`{"url": "https://a.example/` + strings.Repeat("x", maxBody) + `"}`, 400, ""},
		{`{"url": "https://a.example", "alias": "taken-1"}`, 201, ""},
		{`{"url": "https://b.example", "alias": "taken-1"}`, 409, "alias"},
	} {
		rec := serve(in, http.MethodPost, "shorten", c.body)
		if rec.Code != c.status {
			t.Errorf("%.60s: %d %s, want %d", c.body, rec.Code, rec.Body, c.status)
			continue
		}
		if c.status >= 400 {
			e := mustDecode[labs.ErrorBody](t, rec)
			if e.Error.Message == "" || (c.field == "") != (len(e.Error.Fields) == 0) || (c.field != "" && e.Error.Fields[c.field] == "") {
				t.Errorf("%.60s: %+v, want field %q", c.body, e, c.field)
			}
		}
	}
	for _, path := range []string{"r/a%2Fb", "r/" + strings.Repeat("a", 40), "links/bad.code"} {
		if rec := serve(in, http.MethodGet, path, ""); rec.Code != 404 {
			t.Errorf("GET %s: %d", path, rec.Code)
		}
	}
	if rec := serve(in, http.MethodGet, "shards?code=a.b", ""); rec.Code != 400 {
		t.Errorf("shards?code=a.b: %d", rec.Code)
	}
	st := mustDecode[State](t, serve(in, http.MethodGet, "stats", ""))
	if st.Links != seedLinks+1 || st.Totals.Rejected != 4 || st.CodeSpace != space(7) {
		t.Errorf("stats %+v", st)
	}
}

// A failing Redis is not a miss: redirects go on from the database, and
// the failures are counted.
func testRedisDown(t *testing.T, env labs.Env) {
	in := launch(t, fresh(t, env), map[string]any{"cache": CacheRedis})
	l := mustCreate(t, in, "https://example.org/db-only")
	good := in.rdb
	in.rdb = goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	defer func() { _ = in.rdb.Close(); in.rdb = good }()
	for range 3 {
		expectRedirect(t, in, l.Code, 301, l.URL)
	}
	if in.redisErrors.Load() < 3 || in.dbHits.Load() != 3 {
		t.Errorf("redis errors %d, db hits %d", in.redisErrors.Load(), in.dbHits.Load())
	}
}

func testHitAndLoad(t *testing.T, env labs.Env) {
	ctx := context.Background()
	in := launch(t, fresh(t, env), map[string]any{"cache": CacheLocal})
	if s, err := in.Hit(ctx, "k1003"); s != 301 || err != nil || in.codeForKey("k1003") != in.hot[3] {
		t.Fatalf("Hit k1003: %d %v", s, err)
	}
	if s, _ := in.Hit(ctx, "nothing-here"); s != 404 {
		t.Errorf("Hit of an unknown code: %d", s)
	}
	sum := labs.RunLoad(ctx, in, labs.LoadSpec{Requests: 2000, Concurrency: 16, Keys: 50})
	if sum.ByStatus["301"] != 2000 || sum.Errors != 0 {
		t.Fatalf("load %+v", sum)
	}
	// Singleflight shares concurrent reads of a code; a redirect that missed
	// just as a read finished starts another, so a few more than 50.
	if in.dbHits.Load() > 200 || in.localHits.Load() < 1700 {
		t.Errorf("db hits %d, local hits %d for 2,000 redirects over 50 links", in.dbHits.Load(), in.localHits.Load())
	}
}

func testBatch(t *testing.T, env labs.Env) {
	in := launch(t, fresh(t, env), nil)
	res := mustDecode[BatchResult](t, serve(in, http.MethodPost, "batch", `{"count": 500}`))
	if res.Created != 500 || res.Failed != 0 || len(res.Sample) != 10 || res.Links != seedLinks+500 || res.CodeSpace != space(7) {
		t.Errorf("batch %+v", res)
	}
	for _, body := range []string{`{}`, `{"count": 0}`, `{"count": 10001}`, `{"count": "5"}`, `{"count": 5, "x": 1}`} {
		if rec := serve(in, http.MethodPost, "batch", body); rec.Code != http.StatusBadRequest {
			t.Errorf("batch %s: %d %s", body, rec.Code, rec.Body)
		}
	}
	seq := launch(t, fresh(t, env), map[string]any{"codegen": GenSequence, "code_length": 2, "cache": CacheNone})
	res = mustDecode[BatchResult](t, serve(seq, http.MethodPost, "batch", `{"count": 3000}`))
	// Eight workers create at once, and one can wait on the database long
	// enough for others to take the last codes, so the first failure's
	// index is only known to lie in the batch.
	if res.Created != 3844-seedLinks || res.Failed != 3000-res.Created || res.Collisions != 0 || res.UsedPct != 100 ||
		res.FirstFailed < 1 || res.FirstFailed > res.Requested {
		t.Errorf("batch on two-character counter codes: %+v", res)
	}
}

// Close is safe twice, removes everything, and an instance used after it
// answers errors rather than panicking.
func testClose(t *testing.T, env labs.Env) {
	ctx := context.Background()
	e := fresh(t, env)
	li, err := Lab.New(ctx, e, mustDesign(t, map[string]any{"analytics": true, "cache": CacheLocal}))
	if err != nil {
		t.Fatal(err)
	}
	in := li.(*instance)
	l := mustCreate(t, in, "https://example.org/closing")
	expectRedirect(t, in, l.Code, http.StatusFound, l.URL)
	if countTables(t, e) != 6 { // meta, clicks, 4 shards
		t.Errorf("%d tables while running", countTables(t, e))
	}
	for range 2 {
		if err := in.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	assertGone(t, e)
	if rec := serve(in, http.MethodGet, "r/nope-1", ""); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("a redirect after Close: %d", rec.Code)
	}
	if rec := serve(in, http.MethodPost, "shorten", `{"url": "https://example.org/late"}`); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("a creation after Close: %d %s", rec.Code, rec.Body)
	}
}
