package cache

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

func TestRedisFaultRoute(t *testing.T) {
	if _, errs := labs.Validate(Lab, map[string]any{"redis_errors": "ignore"}); errs["redis_errors"] == "" {
		t.Errorf("redis_errors ignore: %v, want an error naming redis_errors", errs)
	}
	for _, e := range labtest.Envs(t, "redisfault") {
		t.Run(e.Name, func(t *testing.T) {
			in := mustLaunch(t, e.Env, map[string]any{"db_latency_ms": 1})
			for body, want := range map[string]int{`{}`: 422, `{"down": "yes"}`: 400, `[1]`: 400, `{"down": true, "x": 1}`: 400} {
				if rec := serve(in, http.MethodPut, "redis", body); rec.Code != want {
					t.Errorf("PUT redis %s: %d %s, want %d", body, rec.Code, rec.Body, want)
				}
			}
			if in.redisDown.Load() {
				t.Fatal("a refused PUT redis made Redis fail")
			}
			mustGet(t, in, 5) // cached now
			if rec := serve(in, http.MethodPut, "redis", `{"down": true}`); rec.Code != http.StatusOK {
				t.Fatalf("PUT redis down: %d %s", rec.Code, rec.Body)
			}
			if r := mustGet(t, in, 5); r.Source != srcDB || in.redisErrors.Load() == 0 || in.misses.Load() != 1 {
				t.Fatalf("read with Redis down: %+v, %d Redis errors, %d misses", r, in.redisErrors.Load(), in.misses.Load())
			}
			if s := mustDecode[State](t, serve(in, http.MethodGet, "stats", "")); !s.RedisDown {
				t.Fatalf("stats %+v do not say Redis is down", s)
			}
			serve(in, http.MethodPut, "redis", `{"down": false}`)
			if r := mustGet(t, in, 5); r.Source != srcCache {
				t.Fatalf("read once Redis is back: %+v, want the cached copy", r)
			}
		})
	}
}

// With Redis down, 200 readers of different items arriving at once: the
// lab's fallback lets 50 reach the database and refuses the rest; the
// module's code sends every one of them there.
func TestRedisOutageReads(t *testing.T) {
	for _, e := range labtest.Envs(t, "redisout") {
		for mode, want := range map[string]int64{RedisErrorsFallback: fallbackSlots, RedisErrorsMiss: 200} {
			t.Run(e.Name+"/"+mode, func(t *testing.T) {
				env, mc := onManualClock(withTag(e.Env, mode))
				in := mustLaunch(t, env, map[string]any{"db_latency_ms": 50, "redis_errors": mode, "stampede": StampedeLock})
				in.redisDown.Store(true)
				var mu sync.Mutex
				codes := map[int]int{}
				err := drive(context.Background(), mc, func(ctx context.Context) {
					fanOut(ctx, 200, func(i int) {
						rec := serveCtx(ctx, in, http.MethodGet, "items/"+strconv.Itoa(300+i), "")
						mu.Lock()
						codes[rec.Code]++
						mu.Unlock()
					})
				})
				if err != nil {
					t.Fatal(err)
				}
				if got := in.dbReads.Load(); got != want || int64(codes[http.StatusOK]) > want {
					t.Errorf("%s: %d database reads, answers %v; want %d reads", mode, got, codes, want)
				}
			})
		}
	}
}
