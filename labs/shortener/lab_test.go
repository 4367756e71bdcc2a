package shortener

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

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
				{"short URL behind the app", testShortURLBehindTheApp},
				{"hash prefix", testHashPrefix},
				{"tiers", testTiers},
				{"negative cache", testNegativeCache},
				{"expiry", testExpiry},
				{"cache on the lab clock", testCacheClock},
				{"clicks on the lab clock", testClicksClock},
				{"analytics", testAnalytics},
				{"crash", testCrash},
				{"ring size", testRingSize},
				{"restart", testRestart},
				{"reshard", testReshard},
				{"code space", testCodeSpace},
				{"rate limit", testRateLimit},
				{"route errors", testRouteErrors},
				{"redis down", testRedisDown},
				{"hit and load", testHitAndLoad},
				{"batch", testBatch},
				{"batch of URLs", testBatchURLs},
				{"list", testList},
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
			want := map[string]string{GenSequence: encode(seedLinks, 7), GenHash: hashCode(u, 0, 7), GenRandom: c.Code}[gen]
			if c.Code != want {
				t.Errorf("%s code %q, want %q (the counter's first after the demo links, or the URL's hash prefix)", gen, c.Code, want)
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
			expectLinkInfo(t, in, c.Code, u)
		})
	}
}

// expectLinkInfo checks GET links/{code} of a link created and followed
// twice, and what the instance counted.
func expectLinkInfo(t *testing.T, in *instance, code, u string) {
	t.Helper()
	info := mustDecode[LinkInfo](t, serve(in, http.MethodGet, "links/"+code, ""))
	if !info.Found || info.URL != u || info.Redirect.Status != 301 || info.Redirect.Location != u || !info.InShardTable ||
		info.Shard != in.layout.shardOf(code) || info.CreatedAt == nil || info.ServedBy != tierRedis {
		t.Errorf("links/%s: %+v", code, info)
	}
	st := mustDecode[State](t, serve(in, http.MethodGet, "stats", ""))
	// links/{code} is not a redirect: two redirects were counted.
	if st.Links != seedLinks+1 || st.Totals.Created != 1 || st.Totals.Redirects != 2 || st.Totals.NotFound != 1 ||
		st.Totals.DBHits != 2 || st.Totals.RedisHits != 1 || st.RedirectStatus != 301 {
		t.Errorf("state %+v", st)
	}
}

// Behind the web layer, which strips the instance's prefix from the path,
// the short URL is the instance's redirect path.
func testShortURLBehindTheApp(t *testing.T, env labs.Env) {
	in := launch(t, fresh(t, env), nil)
	const prefix = "/api/labs/shortener/instances/abc123"
	req := httptest.NewRequest(http.MethodPost, prefix+"/shorten", strings.NewReader(`{"url": "https://example.org/"}`))
	req.Host = "workbook.example:8080"
	req.Header.Set("X-Forwarded-Proto", "https")
	rec := httptest.NewRecorder()
	http.StripPrefix(prefix, in.Handler()).ServeHTTP(rec, req)
	c := mustDecode[Created](t, rec)
	if want := "https://workbook.example:8080" + prefix + "/r/" + c.Code; rec.Code != http.StatusCreated || c.ShortURL != want || rec.Header().Get("Location") != want {
		t.Errorf("%d short_url %q, Location %q; want %q", rec.Code, c.ShortURL, rec.Header().Get("Location"), want)
	}
	expectRedirect(t, in, c.Code, http.StatusMovedPermanently, "https://example.org/")
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
