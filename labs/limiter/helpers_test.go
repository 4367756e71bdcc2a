package limiter

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var algorithms = []string{FixedWindow, SlidingLog, SlidingWindow, TokenBucket, GCRA}

// mustDesign validates raw design values as the API would.
func mustDesign(tb testing.TB, raw map[string]any) labs.Design {
	tb.Helper()
	d, errs := labs.Validate(Lab, raw)
	if len(errs) > 0 {
		tb.Fatalf("design %v: %v", raw, errs)
	}
	return d
}

// withID gives env a distinct instance id and key prefix, so several
// instances can share one backend.
func withID(env labs.Env, id string) labs.Env {
	env.Instance = id
	env.Prefix = "lab:" + id + ":"
	return env
}

// launch builds an instance and closes it when the test ends, checking that
// Close leaves no key behind.
func launch(tb testing.TB, env labs.Env, raw map[string]any) *instance {
	tb.Helper()
	ctx := context.Background()
	li, err := Lab.New(ctx, env, mustDesign(tb, raw))
	if err != nil {
		tb.Fatal(err)
	}
	in := li.(*instance)
	tb.Cleanup(func() {
		if err := in.Close(ctx); err != nil {
			tb.Errorf("close: %v", err)
		}
		keys, err := env.Redis.Keys(ctx, env.Prefix+"*").Result()
		if err != nil {
			tb.Errorf("keys: %v", err)
		} else if len(keys) > 0 {
			tb.Errorf("keys left after Close: %v", keys)
		}
	})
	return in
}

// waitForRoom sleeps past a window boundary when fewer than margin remain
// before the next one on the store's clock, so a short test cannot straddle
// a boundary of a long window by accident.
func waitForRoom(tb testing.TB, in *instance, margin time.Duration) {
	tb.Helper()
	now, err := in.store.now(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	left := time.Duration((now/in.cfg.window+1)*in.cfg.window-now) * time.Millisecond
	if left < margin {
		time.Sleep(left + 10*time.Millisecond)
	}
}

// checkAdmitted checks the algorithm's guarantee on the times (ms, on the
// deciding clock) at which one key's requests were admitted. It is the
// heart of the property tests.
func checkAdmitted(tb testing.TB, cfg config, ats []int64) {
	tb.Helper()
	ats = slices.Clone(ats)
	slices.Sort(ats)
	L, W, C := cfg.limit, cfg.window, cfg.capacity()
	perWindow := map[int64]int64{}
	for _, t := range ats {
		perWindow[t/W]++
	}
	// inSpan counts admissions in (t − W, t] for the admission at index j.
	inSpan := func(j int) int64 {
		i, _ := slices.BinarySearch(ats, ats[j]-W+1)
		k := j
		for k+1 < len(ats) && ats[k+1] == ats[j] {
			k++
		}
		return int64(k - i + 1)
	}
	switch cfg.algorithm {
	case FixedWindow:
		for w, n := range perWindow {
			if n > L {
				tb.Fatalf("fixed window %d admitted %d, limit %d", w, n, L)
			}
		}
	case SlidingLog:
		for j := range ats {
			if n := inSpan(j); n > L {
				tb.Fatalf("sliding log: %d admitted in the %d ms ending at %d, limit %d", n, W, ats[j], L)
			}
		}
	case SlidingWindow:
		// Each fixed window holds at most limit. In a sliding window ending
		// at t, e ms into its fixed window, the estimate allows at most
		// limit + previous × e / window: the previous window's requests are
		// assumed spread evenly, and if they all came late the sliding
		// count exceeds the limit by up to that much (below 2 × limit).
		for w, n := range perWindow {
			if n > L {
				tb.Fatalf("sliding window: fixed window %d admitted %d, limit %d", w, n, L)
			}
		}
		for j := range ats {
			e, prev := ats[j]%W, perWindow[ats[j]/W-1]
			if n := inSpan(j); (n-L)*W > prev*e {
				tb.Fatalf("sliding window: %d admitted in the %d ms ending at %d, more than %d + %d × %d / %d", n, W, ats[j], L, prev, e, W)
			}
		}
	case TokenBucket, GCRA:
		// Between any two admissions at most capacity + rate × elapsed:
		// (count − capacity) × window <= limit × elapsed, exactly.
		for i := range ats {
			for j := i; j < len(ats); j++ {
				if n := int64(j - i + 1); (n-C)*W > L*(ats[j]-ats[i]) {
					tb.Fatalf("%s: %d admitted in [%d, %d], more than %d + %d × %d / %d",
						cfg.algorithm, n, ats[i], ats[j], C, L, ats[j]-ats[i], W)
				}
			}
		}
	default:
		tb.Fatalf("unknown algorithm %q", cfg.algorithm)
	}
}

func designFor(alg string, limit, window, burst, replicas int, storage string) map[string]any {
	if alg != TokenBucket && alg != GCRA {
		burst = 0
	}
	return map[string]any{"algorithm": alg, "limit": limit, "window_ms": window, "burst": burst,
		"replicas": replicas, "storage": storage, "timeout_ms": 5000}
}

func name(parts ...any) string { return fmt.Sprint(parts...) }

// short is a distinct id part per algorithm, for instance ids.
func short(alg string) string {
	return map[string]string{FixedWindow: "fw", SlidingLog: "sl", SlidingWindow: "sw", TokenBucket: "tb", GCRA: "gc"}[alg]
}
