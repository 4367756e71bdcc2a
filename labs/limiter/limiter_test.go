package limiter

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// Hammer one key from several goroutines across several short windows and
// check every algorithm's guarantee on what Redis admitted, on Redis's own
// clock. A run that admits nothing or refuses nothing proves nothing, so
// that fails too.
func TestNoKeyExceedsItsLimit(t *testing.T) {
	for _, e := range labtest.Envs(t, "hammer") {
		t.Run(e.Name, func(t *testing.T) {
			for _, alg := range algorithms {
				t.Run(alg, func(t *testing.T) {
					t.Parallel() // distinct instances, and hammering is mostly waiting
					in := launch(t, withID(e.Env, "hammer"+short(alg)), designFor(alg, 5, 200, 3, 3, StorageRedis))
					ats := hammer(t, in, "k", 4, 600*time.Millisecond)
					checkAdmitted(t, in.cfg, ats)
					st := in.state()
					if len(ats) == 0 || st.Totals.Rejected == 0 || st.Totals.StoreErrors != 0 {
						t.Fatalf("admitted %d, totals %+v: the run did not exercise the limit", len(ats), st.Totals)
					}
					t.Logf("%d admitted, %d refused", len(ats), st.Totals.Rejected)
				})
			}
		})
	}
}

// hammer sends requests for key from workers goroutines for at least d,
// and on until some were refused (a busy machine may decide too few in d
// to reach the limit), and returns the decision times of those admitted.
func hammer(t *testing.T, in *instance, key string, workers int, d time.Duration) []int64 {
	t.Helper()
	var (
		mu      sync.Mutex
		ats     []int64
		errs    []error
		refused int
		wg      sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	giveUp := time.Now().Add(d + time.Minute) // only a broken limiter never refuses
	more := func() bool {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		return now.Before(deadline) || (refused == 0 && len(errs) == 0 && now.Before(giveUp))
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for more() {
				res := in.decide(context.Background(), key)
				mu.Lock()
				switch {
				case res.err != nil:
					errs = append(errs, res.err)
				case res.allowed:
					ats = append(ats, res.at)
				default:
					refused++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d store errors, first: %v", len(errs), errs[0])
	}
	return ats
}

// 500 concurrent requests on one key through three replicas sharing Redis:
// exactly limit pass, whatever the algorithm.
func TestExactlyLimitOf500Concurrent(t *testing.T) {
	const limit, n = 10, 500
	for _, e := range labtest.Envs(t, "conc") {
		t.Run(e.Name, func(t *testing.T) {
			for _, alg := range algorithms {
				t.Run(alg, func(t *testing.T) {
					in := launch(t, withID(e.Env, "conc"+short(alg)), designFor(alg, limit, 3600000, 0, 3, StorageRedis))
					waitForRoom(t, in, 10*time.Second)
					codes := concurrently(in, "one", n)
					if codes[http.StatusOK] != limit || codes[http.StatusTooManyRequests] != n-limit {
						t.Fatalf("statuses %v, want %d × 200 and %d × 429", codes, limit, n-limit)
					}
					for r, tot := range in.state().PerReplica {
						if tot.Allowed+tot.Rejected < n/3 {
							t.Errorf("replica %d decided only %d: requests were not spread round-robin", r, tot.Allowed+tot.Rejected)
						}
					}
				})
			}
		})
	}
}

// concurrently releases n goroutines at once, one Hit each, and counts
// statuses.
func concurrently(in *instance, key string, n int) map[int]int {
	var (
		mu    sync.Mutex
		codes = map[int]int{}
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			code, err := in.Hit(context.Background(), key)
			if err != nil {
				code = -1
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return codes
}

// One key using up its allowance leaves every other key's alone.
func TestKeysAreIndependent(t *testing.T) {
	const limit = 3
	for _, e := range labtest.Envs(t, "keys") {
		t.Run(e.Name, func(t *testing.T) {
			for _, alg := range algorithms {
				t.Run(alg, func(t *testing.T) {
					in := launch(t, withID(e.Env, "keys"+short(alg)), designFor(alg, limit, 3600000, 0, 2, StorageRedis))
					waitForRoom(t, in, 5*time.Second)
					keys := []string{"alice", "bob", "carol"}
					allowed := map[string]int{}
					for range 2 * limit {
						for _, k := range keys {
							if code, err := in.Hit(context.Background(), k); err != nil {
								t.Fatal(err)
							} else if code == http.StatusOK {
								allowed[k]++
							}
						}
					}
					for _, k := range keys {
						if allowed[k] != limit {
							t.Errorf("key %s: %d allowed, want %d (all: %v)", k, allowed[k], limit, allowed)
						}
					}
				})
			}
		})
	}
}

// The lesson of the lab: three replicas that each keep their own count let
// three times the limit through; sharing the count in Redis holds it.
func TestSharedStateHoldsTheLimit(t *testing.T) {
	const limit, replicas = 5, 3
	for _, e := range labtest.Envs(t, "shared") {
		t.Run(e.Name, func(t *testing.T) {
			for _, alg := range algorithms {
				t.Run(alg, func(t *testing.T) {
					got := map[string]int{}
					for _, storage := range []string{StorageMemory, StorageRedis} {
						in := launch(t, withID(e.Env, "shared"+short(alg)+storage[:1]), designFor(alg, limit, 3600000, 0, replicas, storage))
						waitForRoom(t, in, 5*time.Second)
						for range 6 * limit {
							code, err := in.Hit(context.Background(), "mallory")
							if err != nil {
								t.Fatal(err)
							}
							if code == http.StatusOK {
								got[storage]++
							}
						}
					}
					// Sequential round-robin: each replica sees a third of
					// the requests and admits its own full limit.
					if got[StorageMemory] != replicas*limit {
						t.Errorf("memory storage admitted %d, want replicas × limit = %d", got[StorageMemory], replicas*limit)
					}
					if got[StorageRedis] != limit {
						t.Errorf("redis storage admitted %d, want limit = %d", got[StorageRedis], limit)
					}
				})
			}
		})
	}
}

// Every key the limiter writes has a TTL no longer than the algorithm
// needs, and Close (in launch's cleanup) removes them all.
func TestEveryKeyExpires(t *testing.T) {
	const window = 60000
	for _, e := range labtest.Envs(t, "ttl") {
		t.Run(e.Name, func(t *testing.T) {
			for _, alg := range algorithms {
				t.Run(alg, func(t *testing.T) {
					env := withID(e.Env, "ttl"+short(alg))
					in := launch(t, env, designFor(alg, 3, window, 2, 1, StorageRedis))
					for _, k := range []string{"a", "b", "c"} {
						for range 6 {
							if _, err := in.Hit(context.Background(), k); err != nil {
								t.Fatal(err)
							}
						}
					}
					keys, err := env.Redis.Keys(context.Background(), env.Prefix+"*").Result()
					if err != nil {
						t.Fatal(err)
					}
					if len(keys) < 3 {
						t.Fatalf("keys %v: want one or more per client", keys)
					}
					for _, k := range keys {
						ttl, err := env.Redis.PTTL(context.Background(), k).Result()
						if err != nil {
							t.Fatal(err)
						}
						// The sliding window's counter serves as the previous
						// one for a second window; nothing needs longer, but
						// for the scripts' second of slack.
						if ttl <= 0 || ttl > 2*window*time.Millisecond+time.Second {
							t.Errorf("key %s has TTL %v", k, ttl)
						}
					}
				})
			}
		})
	}
}

// When Redis cannot answer within timeout_ms, the decision does not wait
// for it: fail_open lets the request through, fail_closed refuses it with
// 503, and both count a store error.
func TestStoreFailure(t *testing.T) {
	const timeoutMS = 50
	for _, e := range labtest.Envs(t, "fail") {
		if e.Name == "embedded" {
			continue // the embedded server cannot pause; see TestStoreDown
		}
		ctx := context.Background()
		modes := map[string]*instance{}
		for _, mode := range []string{FailOpen, FailClosed} {
			raw := designFor(GCRA, 5, 1000, 0, 1, StorageRedis)
			raw["on_store_error"], raw["timeout_ms"] = mode, timeoutMS
			modes[mode] = launch(t, withID(e.Env, "fail"+mode[5:]), raw)
		}
		// Every client's commands wait while Redis is paused.
		if err := e.Env.Redis.ClientPause(ctx, time.Second).Err(); err != nil {
			t.Fatal(err)
		}
		for mode, want := range map[string]int{FailOpen: http.StatusOK, FailClosed: http.StatusServiceUnavailable} {
			t0 := time.Now()
			var body Response
			rec := do(t, modes[mode], http.MethodPost, "request?key=k", &body)
			// A generous bound: far below the pause, far above the timeout.
			if d := time.Since(t0); d > 500*time.Millisecond {
				t.Errorf("%s: the decision waited %v for a paused Redis, timeout %d ms", mode, d, timeoutMS)
			}
			if rec.Code != want || body.StoreError == "" || body.Allowed != (mode == FailOpen) {
				t.Errorf("%s: %d %+v, want %d with the store error", mode, rec.Code, body, want)
			}
			if st := modes[mode].state(); st.Totals.StoreErrors != 1 {
				t.Errorf("%s: totals %+v", mode, st.Totals)
			}
		}
		if err := e.Env.Redis.ClientUnpause(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if code, err := modes[FailClosed].Hit(ctx, "k"); code != http.StatusOK || err != nil {
			t.Errorf("after the pause: %d %v", code, err)
		}
	}
}

// With Redis gone, decisions follow on_store_error instead of failing the
// request with an error page, and the event log says why.
func TestStoreDown(t *testing.T) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(&goredis.Options{Addr: m.Addr(), Protocol: 2, MaxRetries: -1})
	defer rdb.Close()
	metrics := labs.NewMetrics(time.Now)
	defer metrics.Close()
	ctx := context.Background()
	var ins []*instance
	for _, mode := range []string{FailOpen, FailClosed} {
		raw := designFor(SlidingLog, 5, 1000, 0, 2, StorageRedis)
		raw["on_store_error"], raw["timeout_ms"] = mode, 100
		env := labs.Env{Redis: rdb, Instance: "down" + mode[5:], Prefix: "lab:down" + mode[5:] + ":", Metrics: metrics,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
		li, err := Lab.New(ctx, env, mustDesign(t, raw))
		if err != nil {
			t.Fatal(err)
		}
		ins = append(ins, li.(*instance))
	}
	m.Close()
	for i, want := range []int{http.StatusOK, http.StatusServiceUnavailable} {
		code, err := ins[i].Hit(ctx, "k")
		if code != want || err == nil {
			t.Errorf("%s with Redis down: %d %v, want %d and the error", ins[i].cfg.onError, code, err, want)
		}
		// Close cannot remove keys from a server that is gone, and says so.
		cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err = ins[i].Close(cctx)
		cancel()
		if err == nil {
			t.Errorf("Close with Redis down returned no error")
		}
	}
	_, _, events, cancel := metrics.Subscribe()
	cancel()
	var logged int
	for _, ev := range events {
		if ev.Kind == "error" && strings.Contains(ev.Msg, "could not decide") {
			logged++
		}
	}
	if logged != 2 {
		t.Errorf("events %v: want one store failure line per instance", events)
	}
}
