package shortener

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

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
	clock.Advance(defaultPushEvery)
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
		c := info.Clicks
		// The flusher counts what it moved after the move commits.
		settled := c != nil && c.Total >= 6 && c.InDatabase == c.Total && c.InRedis == 0 && c.InProcess == 0 &&
			in.totals().ClicksToDB >= 6
		if settled || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Counting is at least once: a Redis call that timed out after Redis
	// applied it (a very busy machine) is sent again, and those clicks
	// count twice. Without such a failure the count is exact.
	retried := in.redisErrors.Load() > 0
	c := info.Clicks
	switch {
	case c == nil || info.Redirect.Status != 302:
		t.Errorf("clicks %+v, redirect %+v", c, info.Redirect)
	case c.InDatabase != c.Total || c.Total < 6:
		t.Errorf("clicks %+v: want every click in the database", c)
	case !retried && c.Total != 6:
		t.Errorf("clicks %+v with no Redis failure: want exactly 6", c)
	}
	if tot := in.totals(); !retried && (tot.ClicksToRedis != 6 || tot.ClicksToDB != 6) {
		t.Errorf("totals %+v", tot)
	}
}
