package limiter

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// fakeClock is a settable clock for deterministic runs.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// arrivals is a random but reproducible request pattern: bursts and gaps
// around a rate a few times the limit, over several windows.
func arrivals(seed uint64, cfg config, n int) []int64 {
	r := rand.New(rand.NewPCG(seed, 7))
	start := int64(1_700_000_000_000) + r.Int64N(cfg.window)
	out := make([]int64, 0, n)
	t := start
	for len(out) < n {
		switch r.IntN(4) {
		case 0: // a burst in one millisecond
			for range r.IntN(int(cfg.limit) + 3) {
				out = append(out, t)
			}
		case 1: // a long gap
			t += r.Int64N(2 * cfg.window)
		default: // steady, faster than the limit
			t += r.Int64N(2*cfg.window/cfg.limit + 1)
			out = append(out, t)
		}
	}
	return out[:n]
}

var modelDesigns = []struct{ limit, window, burst int }{
	{5, 1000, 3}, {3, 1000, 0}, {7, 100, 2}, {10, 333, 4}, {1, 250, 0},
}

// The in-memory algorithms, driven by a fake clock, keep every guarantee,
// and a refusal's retry time is exact: one millisecond earlier is refused,
// at it the request passes.
func TestMemoryAlgorithmsExactly(t *testing.T) {
	for _, alg := range algorithms {
		for i, md := range modelDesigns {
			t.Run(name(alg, "/", i), func(t *testing.T) {
				clock := &fakeClock{t: time.UnixMilli(1_600_000_000_000)}
				cfg := configOf(mustDesign(t, designFor(alg, md.limit, md.window, md.burst, 1, StorageMemory)))
				s := newMemoryStore(cfg, clock.now)
				var ats []int64
				for _, at := range arrivals(uint64(i), cfg, 3000) {
					clock.set(time.UnixMilli(at))
					st := s.replicas[0].keys["k"]
					var before memState
					if st != nil {
						before = clone(st)
					}
					d, err := s.decide(context.Background(), 0, "k")
					if err != nil {
						t.Fatal(err)
					}
					if d.at != at {
						t.Fatalf("decided at %d, clock %d", d.at, at)
					}
					if d.allowed {
						ats = append(ats, at)
						continue
					}
					if d.retryMS < 1 || d.remaining != 0 {
						t.Fatalf("refusal %+v", d)
					}
					// Replay from the state before this refusal.
					for _, c := range []struct {
						at   int64
						want bool
					}{{at + d.retryMS - 1, false}, {at + d.retryMS, true}} {
						probe := &memoryStore{cfg: cfg, epoch: s.epoch, clock: func() time.Time { return time.UnixMilli(c.at) }}
						probe.replicas = []*memReplica{{keys: map[string]*memState{}}}
						if st != nil {
							cp := clone(&before)
							probe.replicas[0].keys["k"] = &cp
						}
						if pd, _ := probe.decide(context.Background(), 0, "k"); pd.allowed != c.want {
							t.Fatalf("refused at %d with retry %d ms; at %d allowed = %v", at, d.retryMS, c.at, pd.allowed)
						}
					}
				}
				if len(ats) < 10 {
					t.Fatalf("only %d admitted", len(ats))
				}
				checkAdmitted(t, cfg, ats)
			})
		}
	}
}

func clone(st *memState) memState {
	c := *st
	c.log = slices.Clone(st.log)
	return c
}

// A token bucket of capacity limit + burst and GCRA with tolerance
// (limit + burst − 1) intervals make the same decisions, down to remaining,
// reset and retry.
func TestTokenBucketAndGCRAAgree(t *testing.T) {
	for i, md := range modelDesigns {
		clock := &fakeClock{}
		tb := newMemoryStore(configOf(mustDesign(t, designFor(TokenBucket, md.limit, md.window, md.burst, 1, StorageMemory))), clock.now)
		gc := newMemoryStore(configOf(mustDesign(t, designFor(GCRA, md.limit, md.window, md.burst, 1, StorageMemory))), clock.now)
		for j, at := range arrivals(uint64(100+i), tb.cfg, 3000) {
			clock.set(time.UnixMilli(at))
			a, _ := tb.decide(context.Background(), 0, "k")
			b, _ := gc.decide(context.Background(), 0, "k")
			if a != b {
				t.Fatalf("design %v, request %d at %d: token bucket %+v, gcra %+v", md, j, at, a, b)
			}
		}
	}
}

// The Lua scripts and the in-memory algorithms are the same algorithms:
// on an embedded Redis whose clock the test sets, every decision of every
// script equals the in-memory one at the same moment, including keys
// expiring through their TTLs.
func TestScriptsMatchTheModel(t *testing.T) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	rdb := goredis.NewClient(&goredis.Options{Addr: m.Addr(), Protocol: 2})
	defer rdb.Close()
	metrics := labs.NewMetrics(time.Now)
	defer metrics.Close()

	for _, alg := range algorithms {
		for i, md := range modelDesigns[:3] {
			t.Run(name(alg, "/", i), func(t *testing.T) {
				ctx := context.Background()
				// The embedded server interprets Lua slowly under -race: a
				// few hundred decisions per design cover many windows.
				seq := arrivals(uint64(200+i), configOf(mustDesign(t, designFor(alg, md.limit, md.window, md.burst, 1, StorageRedis))), 300)
				m.SetTime(time.UnixMilli(seq[0] - 1))
				clock := &fakeClock{t: time.UnixMilli(seq[0] - 1)}
				env := labs.Env{Redis: rdb, Instance: "model", Prefix: "lab:model:", Metrics: metrics,
					Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clock.now}
				d := mustDesign(t, designFor(alg, md.limit, md.window, md.burst, 1, StorageRedis))
				rs, err := newRedisStore(ctx, configOf(d), env, "rl:", nil)
				if err != nil {
					t.Fatal(err)
				}
				ms := newMemoryStore(configOf(d), clock.now)
				defer func() {
					if err := labs.DeleteKeys(ctx, rdb, env.Prefix); err != nil {
						t.Error(err)
					}
				}()
				last := seq[0] - 1
				for j, at := range seq {
					// Move Redis's clock, and its TTLs with it.
					m.SetTime(time.UnixMilli(at))
					m.FastForward(time.Duration(at-last) * time.Millisecond)
					clock.set(time.UnixMilli(at))
					last = at
					a, err := rs.decide(ctx, 0, "k")
					if err != nil {
						t.Fatal(err)
					}
					b, _ := ms.decide(ctx, 0, "k")
					if a != b {
						t.Fatalf("request %d at %d: script %+v, model %+v", j, at, a, b)
					}
				}
			})
		}
	}
}

// On a check suite's clock the scripts take the time the suite hands them,
// not Redis TIME, and decide exactly as the in-memory algorithms do at the
// same moments, on both backends. Keys outlive their time in Redis there
// (Redis counts TTLs in its own time), and a key past its time decides as
// no key would.
func TestScriptsOnASuiteClockMatchTheModel(t *testing.T) {
	for _, e := range labtest.Envs(t, "suiteclock") {
		t.Run(e.Name, func(t *testing.T) {
			for _, alg := range algorithms {
				for i, md := range modelDesigns {
					t.Run(name(alg, "/", i), func(t *testing.T) {
						ctx := context.Background()
						cfg := configOf(mustDesign(t, designFor(alg, md.limit, md.window, md.burst, 1, StorageRedis)))
						seq := arrivals(uint64(300+i), cfg, 150)
						clock := labs.NewManualClock(time.UnixMilli(seq[0] - 1))
						env := withID(e.Env, name("sc", short(alg), i))
						env.Clock, env.Now = clock, clock.Now
						rs, err := newRedisStore(ctx, cfg, env, "rl:", nil)
						if err != nil {
							t.Fatal(err)
						}
						defer rs.close()
						defer func() {
							if err := labs.DeleteKeys(ctx, env.Redis, env.Prefix); err != nil {
								t.Error(err)
							}
						}()
						ms := newMemoryStore(cfg, clock.Now)
						for j, at := range seq {
							clock.Set(time.UnixMilli(at))
							a, err := rs.decide(ctx, 0, "k")
							if err != nil {
								t.Fatal(err)
							}
							b, _ := ms.decide(ctx, 0, "k")
							if a != b {
								t.Fatalf("request %d at %d: script %+v, model %+v", j, at, a, b)
							}
						}
					})
				}
			}
		})
	}
}
