package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// mustLaunch builds an instance of design on env and closes it after the test.
func mustLaunch(tb testing.TB, env labs.Env, design map[string]any) *instance {
	tb.Helper()
	d, errs := labs.Validate(Lab, design)
	if len(errs) > 0 {
		tb.Fatalf("design %v: %v", design, errs)
	}
	inst, err := Lab.New(context.Background(), env, d)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := inst.Close(context.Background()); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return inst.(*instance)
}

// serve sends one request to the instance's routes, as the web layer does.
func serve(in *instance, method, path, body string) *httptest.ResponseRecorder {
	return serveCtx(context.Background(), in, method, path, body)
}

// serveCtx is serve with the request's context.
func serveCtx(ctx context.Context, in *instance, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(ctx, method, "/"+path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	route, _, _ := strings.Cut(path, "?")
	for _, rt := range in.Routes() {
		if p, ok := labs.MatchRoute(rt, method, route); ok {
			rt.Handle(rec, req, p)
			return rec
		}
	}
	rec.WriteHeader(http.StatusNotFound)
	return rec
}

func mustDecode[T any](tb testing.TB, rec *httptest.ResponseRecorder) T {
	tb.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		tb.Fatalf("decode %q: %v", rec.Body.String(), err)
	}
	return v
}

func mustGet(tb testing.TB, in *instance, id int) readResult {
	tb.Helper()
	rec := serve(in, http.MethodGet, fmt.Sprintf("items/%d", id), "")
	if rec.Code != http.StatusOK {
		tb.Fatalf("GET items/%d: %d %s", id, rec.Code, rec.Body)
	}
	return mustDecode[readResult](tb, rec)
}

func mustPut(tb testing.TB, in *instance, id int, price int64) writeResult {
	tb.Helper()
	rec := serve(in, http.MethodPut, fmt.Sprintf("items/%d", id), fmt.Sprintf(`{"price": %d}`, price))
	if rec.Code != http.StatusOK {
		tb.Fatalf("PUT items/%d: %d %s", id, rec.Code, rec.Body)
	}
	return mustDecode[writeResult](tb, rec)
}

func TestCheck(t *testing.T) {
	if _, errs := labs.Validate(Lab, map[string]any{}); len(errs) > 0 {
		t.Fatalf("defaults rejected: %v", errs)
	}
	_, errs := labs.Validate(Lab, map[string]any{"strategy": "write_behind", "ttl_ms": 500, "flush_interval_ms": 500})
	if errs["ttl_ms"] == "" {
		t.Errorf("write-behind TTL shorter than two flushes accepted: %v", errs)
	}
	for design, field := range map[string]string{
		`{"strategy": "read_through"}`: "strategy",
		`{"ttl_ms": 50}`:               "ttl_ms",
		`{"db_latency_ms": 2001}`:      "db_latency_ms",
		`{"stampede": "mutex"}`:        "stampede",
	} {
		if _, errs := labs.ParseDesign(Lab, []byte(design)); errs[field] == "" {
			t.Errorf("%s: errors %v, want one naming %s", design, errs, field)
		}
	}
}

// Cache-aside with delete-on-write: every read that starts after a write
// has returned sees that write's version or a newer one, under concurrent
// readers and writers on a few hot items.
func TestDeleteOnWriteNeverStale(t *testing.T) {
	for _, e := range labtest.Envs(t, "nostale") {
		t.Run(e.Name, func(t *testing.T) {
			in := mustLaunch(t, e.Env, map[string]any{"strategy": "cache_aside", "invalidation": "delete_on_write", "db_latency_ms": 4})
			const items, writers, writes, readers = 3, 3, 20, 6
			var acked [items + 1]atomic.Int64 // the test's own record of returned writes
			for i := range acked {
				acked[i].Store(1)
			}
			var writersDone atomic.Bool
			var wg, wwg sync.WaitGroup
			var reads, badReads atomic.Int64
			for w := range writers {
				wwg.Add(1)
				go func() {
					defer wwg.Done()
					for n := range writes {
						id := 1 + (w+n)%items
						rec := serve(in, http.MethodPut, fmt.Sprintf("items/%d", id), fmt.Sprintf(`{"price": %d}`, 100+n))
						if rec.Code != http.StatusOK {
							t.Errorf("PUT: %d %s", rec.Code, rec.Body)
							return
						}
						var wr writeResult
						if err := json.Unmarshal(rec.Body.Bytes(), &wr); err != nil {
							t.Errorf("PUT answer %q: %v", rec.Body, err)
							return
						}
						v := wr.Version
						for cur := acked[id].Load(); v > cur && !acked[id].CompareAndSwap(cur, v); cur = acked[id].Load() {
						}
					}
				}()
			}
			for r := range readers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := 0; !writersDone.Load() || n < 15; n++ {
						id := 1 + (r+n)%items
						floor := acked[id].Load()
						rec := serve(in, http.MethodGet, fmt.Sprintf("items/%d", id), "")
						if rec.Code != http.StatusOK {
							t.Errorf("GET: %d %s", rec.Code, rec.Body)
							return
						}
						var got readResult
						if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
							t.Errorf("GET answer %q: %v", rec.Body, err)
							return
						}
						reads.Add(1)
						if got.Version < floor || got.Stale {
							badReads.Add(1)
							t.Errorf("item %d: read version %d (stale=%v) after a write of version %d had returned", id, got.Version, got.Stale, floor)
						}
					}
				}()
			}
			wwg.Wait()
			writersDone.Store(true)
			wg.Wait()
			if in.staleReads.Load() != 0 {
				t.Errorf("the lab counted %d stale reads", in.staleReads.Load())
			}
			if reads.Load() < 60 {
				t.Errorf("only %d reads ran", reads.Load())
			}
			t.Logf("%d reads, %d writes, %d hits, %d fills refused by the guard", reads.Load(), writers*writes, in.hits.Load(), in.fillsRefused.Load())
		})
	}
}

// The stale-fill race, placed deterministically: a reader misses and reads
// version 1; a writer commits version 2 and deletes the key; then the
// reader fills. The version guard refuses that fill; without it, version 1
// sticks in the cache and the next reader is served a stale value.
func TestStaleFillRace(t *testing.T) {
	for _, e := range labtest.Envs(t, "fillrace") {
		for _, guard := range []string{GuardVersion, GuardNone} {
			t.Run(e.Name+"/"+guard, func(t *testing.T) {
				env := e.Env
				env.Prefix += guard + ":"
				env.Instance += guard
				in := mustLaunch(t, env, map[string]any{"strategy": "cache_aside", "fill_guard": guard, "db_latency_ms": 2})
				var once sync.Once
				hook := func(id int) {
					once.Do(func() { mustPut(t, in, id, 4242) })
				}
				in.afterLoad.Store(&hook)
				if first := mustGet(t, in, 5); first.Version != 1 || first.Stale {
					t.Fatalf("racing read: %+v", first)
				}
				next := mustGet(t, in, 5)
				switch guard {
				case GuardVersion:
					if next.Version != 2 || next.Stale || in.staleReads.Load() != 0 || in.fillsRefused.Load() != 1 {
						t.Errorf("guarded: next read %+v, stale reads %d, refused fills %d", next, in.staleReads.Load(), in.fillsRefused.Load())
					}
				case GuardNone:
					if next.Version != 1 || !next.Stale || next.Source != srcCache || in.staleReads.Load() != 1 {
						t.Errorf("unguarded: next read %+v, stale reads %d; want the stale version 1 from the cache", next, in.staleReads.Load())
					}
				}
			})
		}
	}
}

// With invalidation=ttl a write leaves the old value cached, and the lab
// detects and counts the stale reads that follow; delete_on_write does not.
func TestTTLInvalidationServesStale(t *testing.T) {
	for _, e := range labtest.Envs(t, "ttlstale") {
		for _, inv := range []string{InvalidateTTL, InvalidateDelete} {
			t.Run(e.Name+"/"+inv, func(t *testing.T) {
				env := e.Env
				env.Prefix += inv + ":"
				env.Instance += strings.ReplaceAll(inv, "_", "")
				in := mustLaunch(t, env, map[string]any{"strategy": "cache_aside", "invalidation": inv, "db_latency_ms": 2})
				if r := mustGet(t, in, 7); r.Source != srcDB || r.Version != 1 {
					t.Fatalf("first read: %+v", r)
				}
				if r := mustGet(t, in, 7); r.Source != srcCache {
					t.Fatalf("second read: %+v", r)
				}
				if w := mustPut(t, in, 7, 999); w.Version != 2 {
					t.Fatalf("write: %+v", w)
				}
				r := mustGet(t, in, 7)
				st := mustDecode[State](t, serve(in, http.MethodGet, "stats", ""))
				if inv == InvalidateTTL {
					if r.Version != 1 || !r.Stale || r.Source != srcCache || st.StaleReads != 1 {
						t.Errorf("ttl: read %+v, stale reads %d; want version 1 served stale from the cache", r, st.StaleReads)
					}
					return
				}
				if r.Version != 2 || r.Stale || r.Price != 999 || st.StaleReads != 0 {
					t.Errorf("delete_on_write: read %+v, stale reads %d", r, st.StaleReads)
				}
			})
		}
	}
}

// A stampede of 200 concurrent reads on an expired key: singleflight and
// the lock each let exactly one read reach the database (a load re-checks
// the cache first, so a reader arriving after the fill never reloads);
// without protection most of them do. On the real clock, as in a live lab;
// on a manual clock, as a check suite runs it, where every reader arrives
// at the same instant and the numbers are exact: without protection all
// 200 read the database, and every reader waits exactly the one 100 ms load.
func TestStampede(t *testing.T) {
	for _, e := range labtest.Envs(t, "stampede") {
		for _, clock := range []string{"real", "manual"} {
			for _, mode := range []string{StampedeSingleflight, StampedeLock, StampedeNone} {
				t.Run(e.Name+"/"+clock+"/"+mode, func(t *testing.T) {
					env := e.Env
					env.Prefix += clock + mode + ":"
					env.Instance += clock + mode
					var mc *labs.ManualClock
					if clock == "manual" {
						env, mc = onManualClock(env)
					}
					in := mustLaunch(t, env, map[string]any{"strategy": "cache_aside", "stampede": mode, "db_latency_ms": 100})
					var rec *httptest.ResponseRecorder
					run := func(ctx context.Context) {
						rec = serveCtx(ctx, in, http.MethodGet, "items/1", "") // cached, so the stampede really expires a key
						if rec.Code == http.StatusOK {
							rec = serveCtx(ctx, in, http.MethodPost, "stampede", "")
						}
					}
					if mc == nil {
						run(context.Background())
					} else if err := drive(context.Background(), mc, run); err != nil {
						t.Fatal(err)
					}
					if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
						t.Fatalf("stampede: %d %s", rec.Code, rec.Body)
					}
					res := mustDecode[StampedeResult](t, rec)
					if res.Reads != stampedeReads || len(res.Errors) > 0 || res.Sources[srcCache]+res.Sources[srcDB] != stampedeReads {
						t.Fatalf("stampede: %+v", res)
					}
					switch {
					case mode == StampedeNone && mc != nil:
						if res.DBReads != stampedeReads {
							t.Errorf("without protection %d of %d readers arriving at once reached the database", res.DBReads, stampedeReads)
						}
					case mode == StampedeNone:
						if res.DBReads < stampedeReads/4 {
							t.Errorf("without protection only %d of %d reads reached the database", res.DBReads, stampedeReads)
						}
					default:
						if res.DBReads != 1 {
							t.Errorf("%s: %d database reads, want 1", mode, res.DBReads)
						}
					}
					if mc != nil && (res.P50MS != 100 || res.P99MS != 100) {
						t.Errorf("%s: p50 %.1f ms, p99 %.1f ms of the clock; want every reader to wait the one 100 ms load", mode, res.P50MS, res.P99MS)
					}
					t.Logf("%s: %d database reads, p50 %.1f ms, p99 %.1f ms, sources %v", mode, res.DBReads, res.P50MS, res.P99MS, res.Sources)
				})
			}
		}
	}
}

func TestShouldRefresh(t *testing.T) {
	now := int64(1_000_000)
	e := entry{DeltaMS: 100, ExpiryMS: now + 1000}
	for _, c := range []struct {
		u    float64
		now  int64
		want bool
	}{
		{u: 1, now: now, want: false},           // gap 0: only at expiry
		{u: 1, now: now + 1000, want: true},     // expired
		{u: 0.5, now: now, want: false},         // gap 69 ms, 1 s left
		{u: 1e-9, now: now, want: true},         // gap 2.07 s
		{u: 0.5, now: now + 950, want: true},    // gap 69 ms, 50 ms left
		{u: 0.999, now: now + 950, want: false}, // gap 0.1 ms
	} {
		if got := shouldRefresh(e, 1, c.now, c.u); got != c.want {
			t.Errorf("u=%v now=+%d: %v, want %v", c.u, c.now-now, got, c.want)
		}
	}
}

// onManualClock gives env a manual clock, the one a check suite uses.
func onManualClock(env labs.Env) (labs.Env, *labs.ManualClock) {
	mc := labs.NewManualClock(clockStart)
	env.Clock, env.Now = mc, mc.Now
	return env, mc
}

// drivenGet reads an item while drive moves the instance's manual clock.
func drivenGet(tb testing.TB, in *instance, mc *labs.ManualClock, id int) readResult {
	tb.Helper()
	var (
		r   readResult
		err error
	)
	if derr := drive(context.Background(), mc, func(ctx context.Context) { r, err = in.read(ctx, id) }); derr != nil {
		tb.Fatal(derr)
	}
	if err != nil {
		tb.Fatalf("read item %d: %v", id, err)
	}
	return r
}

// Early expiration: a hot key read steadily is refreshed before it expires,
// so readers keep hitting. The clock is the test's, so "steadily" is one
// read every 5 ms whatever the machine does.
func TestEarlyExpirationRefreshes(t *testing.T) {
	e := labtest.Envs(t, "xfetch")[0] // the embedded backend: this checks the algorithm, not the store
	env, mc := onManualClock(e.Env)
	in := mustLaunch(t, env, map[string]any{"strategy": "cache_aside", "stampede": "early_expiration", "ttl_ms": 300, "db_latency_ms": 100})
	in.reseed(randomSeed)
	if r := drivenGet(t, in, mc, 3); r.Source != srcDB {
		t.Fatalf("first read: %+v", r)
	}
	expiry := mc.Now().Add(300 * time.Millisecond)
	for in.earlyRefreshes.Load() == 0 && mc.Now().Before(expiry) {
		mc.Advance(5 * time.Millisecond)
		drivenGet(t, in, mc, 3)
	}
	if in.earlyRefreshes.Load() == 0 || in.misses.Load() != 1 {
		t.Fatalf("reads every 5 ms of a 300 ms key: %d early refreshes and %d misses by its expiry; want a refresh before it and no miss",
			in.earlyRefreshes.Load(), in.misses.Load())
	}
	t.Logf("refreshed %s before expiry", expiry.Sub(mc.Now()))
}

// Write-behind durability: with the in-process queue a flusher crash loses
// acknowledged writes and says which; with the Redis stream it loses none,
// whether the writes were still queued or in the batch the flusher was
// writing when it died. The flusher ticks on a manual clock, so a flush
// happens exactly when the test moves it.
func TestWriteBehindCrash(t *testing.T) {
	for _, e := range labtest.Envs(t, "wbcrash") {
		for _, queue := range []string{QueueMemory, QueueStream} {
			for _, when := range []string{"queued", "mid-batch"} {
				t.Run(e.Name+"/"+queue+"/"+when, func(t *testing.T) {
					env := e.Env
					tag := strings.ReplaceAll(queue, "_", "") + strings.ReplaceAll(when, "-", "")
					env.Prefix += tag + ":"
					env.Instance += tag
					env, mc := onManualClock(env)
					in := mustLaunch(t, env, map[string]any{"strategy": "write_behind", "write_behind_queue": queue,
						"flush_interval_ms": 50, "db_latency_ms": 0})
					holding := make(chan struct{})
					if when == "mid-batch" {
						var blocked atomic.Bool
						hook := func(ctx context.Context) {
							if blocked.CompareAndSwap(false, true) {
								close(holding)
								<-ctx.Done() // die holding the batch
							}
						}
						in.wb.beforeApply.Store(&hook)
					}
					written := map[int]int64{}
					for n := range 12 {
						id := 1 + n%8
						written[id] = mustPut(t, in, id, int64(500+n)).Version
					}
					if when == "mid-batch" {
						mc.Advance(50 * time.Millisecond) // the flusher's tick
						<-holding
					}
					rec := serve(in, http.MethodPost, "crash-flusher", "")
					if rec.Code != http.StatusOK {
						t.Fatalf("crash-flusher: %d %s", rec.Code, rec.Body)
					}
					rep := mustDecode[CrashReport](t, rec)
					committed, err := in.dbVersions(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					if rep.Pending == 0 {
						t.Fatalf("nothing was pending at the crash: %+v", rep)
					}
					switch queue {
					case QueueMemory:
						lost := map[int]int64{}
						for _, l := range rep.Lost {
							lost[l.ID] = max(lost[l.ID], l.Version)
						}
						for id, v := range written {
							if committed[id] >= v {
								t.Errorf("item %d: the database has version %d although the memory queue died", id, committed[id])
							}
							if lost[id] != v {
								t.Errorf("item %d: the report lists version %d as lost, want %d", id, lost[id], v)
							}
						}
						if !strings.Contains(rep.Message, "lost") {
							t.Errorf("message: %q", rep.Message)
						}
					case QueueStream:
						if rep.LostCount != 0 {
							t.Errorf("durable queue lost %d writes: %+v", rep.LostCount, rep.Lost)
						}
						for id, v := range written {
							if committed[id] != v {
								t.Errorf("item %d: database version %d, acknowledged %d", id, committed[id], v)
							}
						}
					}
					// The restarted flusher keeps working.
					if when == "mid-batch" {
						v := mustPut(t, in, 100, 1).Version
						if err := flushPass(context.Background(), in, mc); err != nil {
							t.Fatal(err)
						}
						if c, err := in.dbVersions(context.Background()); err != nil || c[100] != v {
							t.Errorf("a write after the crash is not in the database after the next flush: version %d, want %d (%v)", c[100], v, err)
						}
					}
				})
			}
		}
	}
}

// Write-through keeps the cache fresh: the read after a write hits the
// cache with the new version.
func TestWriteThrough(t *testing.T) {
	for _, e := range labtest.Envs(t, "wthrough") {
		t.Run(e.Name, func(t *testing.T) {
			in := mustLaunch(t, e.Env, map[string]any{"strategy": "write_through", "db_latency_ms": 2})
			mustGet(t, in, 9)
			w := mustPut(t, in, 9, 1234)
			r := mustGet(t, in, 9)
			if w.Cache != "updated" || r.Source != srcCache || r.Version != w.Version || r.Price != 1234 || r.Stale {
				t.Errorf("write %+v then read %+v", w, r)
			}
		})
	}
}

func TestHTTP(t *testing.T) {
	for _, e := range labtest.Envs(t, "http") {
		t.Run(e.Name, func(t *testing.T) {
			in := mustLaunch(t, e.Env, map[string]any{"db_latency_ms": 0})
			for _, c := range []struct {
				method, path, body string
				status             int
				field              string
			}{
				{http.MethodGet, "items/abc", "", http.StatusBadRequest, "item"},
				{http.MethodGet, "items/1.5", "", http.StatusBadRequest, "item"},
				{http.MethodGet, "items/5000", "", http.StatusNotFound, "item"},
				{http.MethodGet, "items/0", "", http.StatusNotFound, "item"},
				{http.MethodPut, "items/x", `{"price": 1}`, http.StatusBadRequest, "item"},
				{http.MethodPut, "items/1001", `{"price": 1}`, http.StatusNotFound, "item"},
				{http.MethodPut, "items/1", `not json`, http.StatusBadRequest, ""},
				{http.MethodPut, "items/1", `{"price": 1, "colour": "red"}`, http.StatusBadRequest, ""},
				{http.MethodPut, "items/1", `{"price": 1} {}`, http.StatusBadRequest, ""},
				{http.MethodPut, "items/1", `{}`, http.StatusUnprocessableEntity, "price"},
				{http.MethodPut, "items/1", `{"price": -1}`, http.StatusUnprocessableEntity, "price"},
				{http.MethodPut, "items/1", `{"price": 1.5}`, http.StatusUnprocessableEntity, "price"},
				{http.MethodPut, "items/1", `{"price": "1"}`, http.StatusUnprocessableEntity, "price"},
				{http.MethodPut, "items/1", `{"price": null}`, http.StatusUnprocessableEntity, "price"},
				{http.MethodPut, "items/1", `{"price": 1e3}`, http.StatusUnprocessableEntity, "price"},
				{http.MethodPut, "items/1", `{"price": 1, "name": "  "}`, http.StatusUnprocessableEntity, "name"},
				{http.MethodPost, "stampede?item=abc", "", http.StatusBadRequest, "item"},
				{http.MethodPost, "crash-flusher", "", http.StatusConflict, "strategy"},
			} {
				rec := serve(in, c.method, c.path, c.body)
				if rec.Code != c.status || rec.Header().Get("Content-Type") != "application/json" {
					t.Errorf("%s %s %s: %d %q, want %d", c.method, c.path, c.body, rec.Code, rec.Body, c.status)
					continue
				}
				body := mustDecode[labs.ErrorBody](t, rec)
				if body.Error.Message == "" || (c.field == "") != (len(body.Error.Fields) == 0) || (c.field != "" && body.Error.Fields[c.field] == "") {
					t.Errorf("%s %s %s: body %+v, want an error naming %q", c.method, c.path, c.body, body, c.field)
				}
			}
			before := mustGet(t, in, 42)
			rec := serve(in, http.MethodPut, "items/42", `{"price": 777, "name": "Lamp"}`)
			if rec.Code != http.StatusOK {
				t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
			}
			w := mustDecode[writeResult](t, rec)
			if w.Version != before.Version+1 || w.Price != 777 || w.Name != "Lamp" {
				t.Errorf("PUT answered %+v after %+v", w, before)
			}
			after := mustGet(t, in, 42)
			if after.Version != w.Version || after.Price != 777 || after.Name != "Lamp" || after.Stale {
				t.Errorf("GET after PUT: %+v", after)
			}
			if rec := serve(in, http.MethodGet, "stats", ""); rec.Code != http.StatusOK {
				t.Errorf("stats: %d %s", rec.Code, rec.Body)
			}
		})
	}
}

// A Redis failure is not a miss: the read falls back to the database, is
// counted as a Redis error, and tries no fill; write-behind refuses writes.
func TestRedisFailure(t *testing.T) {
	for _, e := range labtest.Envs(t, "redisdown") {
		for _, strategy := range []string{StrategyCacheAside, StrategyWriteBehind} {
			t.Run(e.Name+"/"+strategy, func(t *testing.T) {
				env := e.Env
				env.Prefix += strategy + ":"
				env.Instance += strings.ReplaceAll(strategy, "_", "")
				in := mustLaunch(t, env, map[string]any{"strategy": strategy, "db_latency_ms": 1})
				dead := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
				t.Cleanup(func() { _ = dead.Close() })
				in.rdb = dead
				r := mustGet(t, in, 11)
				if r.Source != srcDB || in.redisErrors.Load() == 0 || in.misses.Load() != 0 {
					t.Errorf("read %+v, redis errors %d, misses %d", r, in.redisErrors.Load(), in.misses.Load())
				}
				if strategy == StrategyWriteBehind {
					rec := serve(in, http.MethodPut, "items/11", `{"price": 5}`)
					if rec.Code != http.StatusServiceUnavailable {
						t.Errorf("write-behind write with Redis down: %d %s", rec.Code, rec.Body)
					}
				}
			})
		}
	}
}

// Load runs go through Hit; a run over a few keys mostly hits the cache.
func TestHitLoad(t *testing.T) {
	for _, e := range labtest.Envs(t, "hitload") {
		t.Run(e.Name, func(t *testing.T) {
			in := mustLaunch(t, e.Env, map[string]any{"stampede": "singleflight", "db_latency_ms": 2})
			sum := labs.RunLoad(context.Background(), in, labs.LoadSpec{Requests: 300, Concurrency: 10, Keys: 5})
			if sum.ByStatus["200"] != 300 || sum.Errors != 0 {
				t.Fatalf("load: %+v", sum)
			}
			// At most one load per key; a miss can happen only while a key's
			// first load is in flight, to at most one reader per worker.
			if in.dbReads.Load() > 5 || in.hits.Load() < 300-5*10 {
				t.Errorf("5 keys, singleflight: %d database reads, %d hits", in.dbReads.Load(), in.hits.Load())
			}
			if code, err := in.Hit(context.Background(), ""); code != http.StatusOK || err != nil {
				t.Errorf("Zipf hit: %d %v", code, err)
			}
		})
	}
}

// Close removes every key under the prefix and every row of the instance.
func TestCloseCleansUp(t *testing.T) {
	for _, e := range labtest.Envs(t, "cleanup") {
		t.Run(e.Name, func(t *testing.T) {
			d, _ := labs.Validate(Lab, map[string]any{"strategy": "write_behind", "write_behind_queue": "redis_stream", "db_latency_ms": 0})
			inst, err := Lab.New(context.Background(), e.Env, d)
			if err != nil {
				t.Fatal(err)
			}
			in := inst.(*instance)
			mustGet(t, in, 1)
			mustPut(t, in, 2, 3)
			if err := in.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			keys, err := e.Env.Redis.Keys(context.Background(), e.Env.Prefix+"*").Result()
			if err != nil || len(keys) > 0 {
				t.Errorf("keys left: %v %v", keys, err)
			}
			var n int
			if err := e.Env.DB.QueryRow(e.Env.Rebind(`SELECT COUNT(*) FROM cache_lab_items WHERE instance = ?`), e.Env.Instance).Scan(&n); err != nil || n != 0 {
				t.Errorf("rows left: %d %v", n, err)
			}
		})
	}
}

// Instances launched at once on a fresh database all start: the first ones
// race to create the shared table, which on PostgreSQL needs the schema
// lock.
func TestConcurrentLaunches(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			d, errs := labs.Validate(Lab, map[string]any{"db_latency_ms": 0})
			if errs != nil {
				t.Fatal(errs)
			}
			const n = 6
			envs := make([]labs.Env, n)
			for i := range envs {
				envs[i] = labtest.Env(t, b, fmt.Sprintf("race%d", i))
			}
			var wg sync.WaitGroup
			fails := make(chan error, n)
			for _, env := range envs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					in, err := Lab.New(context.Background(), env, d)
					if err != nil {
						fails <- err
						return
					}
					fails <- in.Close(context.Background())
				}()
			}
			wg.Wait()
			close(fails)
			for err := range fails {
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
}
