package breaker

import (
	"testing"
	"time"
)

// noop is the protected call: nothing, so only the breaker's cost shows.
//
//go:noinline
func noop() error { return nil }

func benchBreaker(b *testing.B, rate float64) *Breaker {
	br, err := New(Config{FailureThreshold: 5, FailureRate: rate, WindowSize: 100, MinCalls: 20,
		OpenTimeout: time.Second, HalfOpenProbes: 1})
	if err != nil {
		b.Fatal(err)
	}
	return br
}

// report sets ns/op to the breaker path and adds the baseline measured in
// the same run, the difference and the ratio.
func report(b *testing.B, direct, through time.Duration) {
	n := float64(b.N)
	b.ReportMetric(float64(direct.Nanoseconds())/n, "direct-ns/op")
	b.ReportMetric(float64((through-direct).Nanoseconds())/n, "overhead-ns/op")
	if direct > 0 {
		b.ReportMetric(float64(through)/float64(direct), "x-direct")
	}
}

// BenchmarkBreakerOverhead calls a no-op through a closed breaker on the
// success path (ns/op), against calling it directly (direct-ns/op).
func BenchmarkBreakerOverhead(b *testing.B) {
	for _, c := range []struct {
		name string
		rate float64
	}{{"consecutive", 0}, {"failure_rate", 0.5}} {
		b.Run(c.name, func(b *testing.B) {
			br := benchBreaker(b, c.rate)
			b.ReportAllocs()
			var errs int
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if noop() != nil {
					errs++
				}
			}
			direct := time.Since(start)
			b.ResetTimer() // ns/op is the breaker path alone
			start = time.Now()
			for range b.N {
				if br.Do(noop) != nil {
					errs++
				}
			}
			through := time.Since(start)
			b.StopTimer()
			if errs > 0 || br.State() != Closed {
				b.Fatalf("%d errors, state %s", errs, br.State())
			}
			report(b, direct, through)
		})
	}
}

// BenchmarkBreakerOverheadParallel is the same from GOMAXPROCS goroutines
// sharing one breaker, where its lock is contended.
func BenchmarkBreakerOverheadParallel(b *testing.B) {
	br := benchBreaker(b, 0)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if noop() != nil {
				b.Error("noop failed")
			}
		}
	})
	direct := time.Since(start)
	b.ResetTimer()
	start = time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if br.Do(noop) != nil {
				b.Error("breaker refused a call")
			}
		}
	})
	through := time.Since(start)
	b.StopTimer()
	report(b, direct, through)
}
