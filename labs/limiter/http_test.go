package limiter

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labhttp"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// do sends one request to the instance's handler, as the web layer would,
// and decodes a JSON body into out when out is not nil.
func do(tb testing.TB, in *instance, method, target string, out any) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(method, "/"+target, nil)
	rec := httptest.NewRecorder()
	in.Handler().ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		tb.Fatalf("%s %s: Content-Type %q", method, target, ct)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			tb.Fatalf("%s %s: body %q: %v", method, target, rec.Body, err)
		}
	}
	return rec
}

func header(tb testing.TB, rec *httptest.ResponseRecorder, name string) int64 {
	tb.Helper()
	v := rec.Header().Get(name)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		tb.Fatalf("header %s = %q: %v", name, v, err)
	}
	return n
}

func TestRequestRoute(t *testing.T) {
	for _, e := range labtest.Envs(t, "http") {
		t.Run(e.Name, func(t *testing.T) {
			in := launch(t, e.Env, designFor(SlidingWindow, 2, 3600000, 0, 1, StorageRedis))
			waitForRoom(t, in, 5*time.Second)
			requestsAllowed(t, in)
			requestRefused(t, in)
			badKeysRefused(t, in)
			var st State
			if rec := do(t, in, http.MethodGet, "stats", &st); rec.Code != http.StatusOK ||
				st.Totals.Allowed != 2 || st.Totals.Rejected != 1 || st.Algorithm != SlidingWindow || len(st.PerReplica) != 1 {
				t.Fatalf("stats %d %+v", rec.Code, st)
			}
			// A long window's burst runs with time sped up, which a design
			// refilled in whole seconds of the real clock cannot follow.
			long := launch(t, withID(e.Env, "httplong"), designFor(TokenBucketWholeSeconds, 2, 20000, 1, 1, StorageRedis))
			var e2 labhttp.Body
			if rec := do(t, long, http.MethodPost, "boundary-burst", &e2); rec.Code != http.StatusUnprocessableEntity || e2.Error.Fields["window_ms"] == "" {
				t.Fatalf("boundary burst on a 20 s window in whole seconds: %d %s", rec.Code, rec.Body)
			}
		})
	}
}

// requestsAllowed: the first two requests pass with the RateLimit headers
// counting down and no Retry-After.
func requestsAllowed(t *testing.T, in *instance) {
	t.Helper()
	for i, want := range []int64{1, 0} {
		var body Response
		rec := do(t, in, http.MethodPost, "request?key=alice", &body)
		if rec.Code != http.StatusOK || !body.Allowed || body.Key != "alice" || body.Remaining != want {
			t.Fatalf("request %d: %d %+v", i, rec.Code, body)
		}
		if header(t, rec, "RateLimit-Limit") != 2 || header(t, rec, "RateLimit-Remaining") != want || header(t, rec, "RateLimit-Reset") < 1 {
			t.Fatalf("request %d headers %v", i, rec.Header())
		}
		if rec.Header().Get("Retry-After") != "" {
			t.Fatalf("Retry-After on a 200")
		}
	}
}

// requestRefused: the third is a 429 whose Retry-After rounds its wait up
// to whole seconds.
func requestRefused(t *testing.T, in *instance) {
	t.Helper()
	var refused Response
	rec := do(t, in, http.MethodPost, "request?key=alice", &refused)
	if rec.Code != http.StatusTooManyRequests || refused.Allowed || refused.RetryAfterMS <= 0 || refused.Message == "" {
		t.Fatalf("third request: %d %+v", rec.Code, refused)
	}
	if ra := header(t, rec, "Retry-After"); ra < 1 || ra*1000 < refused.RetryAfterMS || ra*1000-refused.RetryAfterMS >= 1000 {
		t.Fatalf("Retry-After %d s for %d ms", ra, refused.RetryAfterMS)
	}
	if header(t, rec, "RateLimit-Limit") != 2 || header(t, rec, "RateLimit-Remaining") != 0 || header(t, rec, "RateLimit-Reset") < 1 {
		t.Fatalf("429 headers %v", rec.Header())
	}
}

// badKeysRefused: a missing, empty, spaced, long or braced key, or a broken
// query, is a 400 naming the field, over HTTP and in a load run's Hit.
func badKeysRefused(t *testing.T, in *instance) {
	t.Helper()
	for _, bad := range []string{"request", "request?key=", "request?key=a%20b", "request?key=" + strings.Repeat("x", 201),
		"request?key=%7Bx%7D", "request?key=%zz"} {
		var e labhttp.Body
		rec := do(t, in, http.MethodPost, bad, &e)
		field := "key"
		if strings.Contains(bad, "%zz") {
			field = "query"
		}
		if rec.Code != http.StatusBadRequest || e.Error.Fields[field] == "" {
			t.Errorf("%s: %d %s, want 400 naming %s", bad, rec.Code, rec.Body, field)
		}
	}
	if code, err := in.Hit(context.Background(), "bad key"); code != http.StatusBadRequest || err == nil {
		t.Errorf("Hit with a bad key: %d %v", code, err)
	}
}

// After a 429, the advertised wait is exact on the limiter's clock: every
// request decided before it is refused, and the first one decided at or
// after it is admitted. The header rounds it up to whole seconds.
func TestRetryAfterIsWhenTheNextRequestPasses(t *testing.T) {
	for _, e := range labtest.Envs(t, "retry") {
		t.Run(e.Name, func(t *testing.T) {
			for _, alg := range algorithms {
				t.Run(alg, func(t *testing.T) {
					t.Parallel() // distinct instances; each mostly waits
					in := launch(t, withID(e.Env, "retry"+short(alg)), designFor(alg, 2, 300, 0, 2, StorageRedis))
					var refused Response
					var rec *httptest.ResponseRecorder
					for i := 0; ; i++ {
						if i == 20 {
							t.Fatal("never refused")
						}
						refused = Response{}
						if rec = do(t, in, http.MethodPost, "request?key=r", &refused); rec.Code == http.StatusTooManyRequests {
							break
						}
					}
					ra := header(t, rec, "Retry-After")
					if ra != max(1, (refused.RetryAfterMS+999)/1000) {
						t.Fatalf("Retry-After %d s for %d ms", ra, refused.RetryAfterMS)
					}
					due := refused.DecidedAtMS + refused.RetryAfterMS
					time.Sleep(time.Duration(refused.RetryAfterMS/2) * time.Millisecond)
					for i := 0; ; i++ {
						if i == 100 {
							t.Fatal("no request was decided after the advertised time")
						}
						var r Response
						rec := do(t, in, http.MethodPost, "request?key=r", &r)
						if r.DecidedAtMS < due {
							if rec.Code != http.StatusTooManyRequests {
								t.Fatalf("admitted at %d, %d ms before the advertised %d", r.DecidedAtMS, due-r.DecidedAtMS, due)
							}
							time.Sleep(min(time.Duration(due-r.DecidedAtMS)*time.Millisecond, 20*time.Millisecond))
							continue
						}
						if rec.Code != http.StatusOK {
							t.Fatalf("refused at %d, %d ms after the advertised %d: %+v", r.DecidedAtMS, r.DecidedAtMS-due, due, r)
						}
						break
					}
				})
			}
		})
	}
}

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		raw   map[string]any
		field string
	}{
		{map[string]any{"algorithm": FixedWindow, "burst": 3}, "burst"},
		{map[string]any{"algorithm": SlidingLog, "limit": 5000}, "limit"},
		{map[string]any{"algorithm": "leaky"}, "algorithm"},
		{map[string]any{"limit": 0}, "limit"},
		{map[string]any{"window_ms": 50}, "window_ms"},
		{map[string]any{"replicas": 6}, "replicas"},
		{map[string]any{"storage": "disk"}, "storage"},
	} {
		if _, errs := labs.Validate(Lab, c.raw); errs[c.field] == "" {
			t.Errorf("%v: errors %v, want one for %s", c.raw, errs, c.field)
		}
	}
	d := mustDesign(t, map[string]any{})
	if d.String("algorithm") != SlidingWindow || d.Int("limit") != 10 || d.Int("window_ms") != 1000 || d.Int("burst") != 0 ||
		d.Int("replicas") != 1 || d.String("storage") != StorageRedis {
		t.Errorf("defaults %v", d)
	}
	mustDesign(t, map[string]any{"algorithm": GCRA, "burst": 10000, "limit": 10000})
}
