package shortener

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labhttp"
)

// serveFrom is serve from a client address.
func serveFrom(in labs.Instance, addr, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/"+path, strings.NewReader(body))
	req.RemoteAddr = addr
	rec := httptest.NewRecorder()
	in.(interface{ Handler() http.Handler }).Handler().ServeHTTP(rec, req)
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
		{`{"url": "https://a.example/` + strings.Repeat("x", maxBody) + `"}`, 413, "body"},
		{`{"url": "https://a.example", "ttl_s": "60"}`, 400, "ttl_s"},
		{`{"url": "https://a.example"`, 400, "body"},
		{`{"url": "https://a.example", "alias": "taken-1"}`, 201, ""},
		{`{"url": "https://b.example", "alias": "taken-1"}`, 409, "alias"},
	} {
		rec := serve(in, http.MethodPost, "shorten", c.body)
		if rec.Code != c.status {
			t.Errorf("%.60s: %d %s, want %d", c.body, rec.Code, rec.Body, c.status)
			continue
		}
		if c.status >= 400 {
			e := mustDecode[labhttp.Body](t, rec)
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
	if st.Links != seedLinks+1 || st.Totals.Rejected != 6 || st.CodeSpace != space(7) {
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
	for body, field := range map[string]string{`{}`: "count", `{"count": 0}`: "count", `{"count": 10001}`: "count", `{"count": "5"}`: "count",
		`{"count": 5, "x": 1}`: "x", `{"urls": []}`: "urls", `{"urls": ["ftp://a.example"]}`: "urls", `{"count": 1, "urls": ["https://a.example"]}`: "count",
		`{"urls": "https://a.example"}`: "urls", `[`: "body"} {
		rec := serve(in, http.MethodPost, "batch", body)
		if e := mustDecode[labhttp.Body](t, rec); rec.Code != http.StatusBadRequest || e.Error.Fields[field] == "" {
			t.Errorf("batch %s: %d %s, want 400 naming %s", body, rec.Code, rec.Body, field)
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

// A batch of URLs answers each one's code, in order, and why a link has
// none once the code space has run out.
func testBatchURLs(t *testing.T, env labs.Env) {
	in := launch(t, fresh(t, env), nil)
	urls := []string{"https://example.org/a", "https://example.org/b?q=1", "https://example.org/a"}
	body, _ := json.Marshal(map[string]any{"urls": urls})
	res := mustDecode[BatchResult](t, serve(in, http.MethodPost, "batch", string(body)))
	if res.Requested != 3 || res.Created != 3 || len(res.Results) != 3 {
		t.Fatalf("batch of urls %+v", res)
	}
	for i, r := range res.Results {
		if r.Error != "" || mustLink(t, in, r.Code).URL != urls[i] {
			t.Errorf("result %d %+v, want a code for %s", i, r, urls[i])
		}
	}
	seq := launch(t, fresh(t, env), map[string]any{"codegen": GenSequence, "code_length": 2, "cache": CacheNone})
	urls = make([]string, 1000)
	for i := range urls {
		urls[i] = fmt.Sprintf("https://example.org/%d", i)
	}
	created := 0
	for range 3 {
		body, _ = json.Marshal(map[string]any{"urls": urls})
		res = mustDecode[BatchResult](t, serve(seq, http.MethodPost, "batch", string(body)))
		created += res.Created
	}
	// Every URL is attempted and answered, each with a code or space_full.
	if created != 3844-seedLinks || len(res.Results) != 1000 || res.Failed != 3000-created {
		t.Fatalf("%d created; last batch %d failed of %d results", created, res.Failed, len(res.Results))
	}
	for i, r := range res.Results {
		if (r.Code == "") == (r.Error == "") || (r.Error != "" && r.Error != failSpaceFull) {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
}

// GET links lists every stored link a page at a time, shard by shard.
func testList(t *testing.T, env labs.Env) {
	in := launch(t, fresh(t, env), map[string]any{"shards": 3})
	l := mustCreate(t, in, "https://example.org/listed")
	seen := map[string]string{}
	after, pages := "", 0
	for {
		page := mustDecode[LinkList](t, serve(in, http.MethodGet, "links?limit=300&after="+url.QueryEscape(after), ""))
		pages++
		for _, sl := range page.Links {
			if _, ok := seen[sl.Code]; ok || sl.Shard != in.layout.shardOf(sl.Code) {
				t.Fatalf("page %d lists %+v again, or in the wrong shard", pages, sl)
			}
			seen[sl.Code] = sl.URL
		}
		if page.Next == "" {
			break
		}
		if len(page.Links) != 300 || pages > 10 {
			t.Fatalf("page %d: %d links, next %q", pages, len(page.Links), page.Next)
		}
		after = page.Next
	}
	if len(seen) != seedLinks+1 || seen[l.Code] != l.URL || seen[in.hot[5]] != demoURL(5) || pages != 4 {
		t.Errorf("%d links in %d pages; %s → %q", len(seen), pages, l.Code, seen[l.Code])
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "after=nope", "after=16:a", "after=1:a.b", "after=%zz"} {
		rec := serve(in, http.MethodGet, "links?"+q, "")
		if e := mustDecode[labhttp.Body](t, rec); rec.Code/100 != 4 || len(e.Error.Fields) != 1 {
			t.Errorf("links?%s: %d %s", q, rec.Code, rec.Body)
		}
	}
}
