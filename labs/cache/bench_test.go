package cache

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/labs/labtest"
)

// BenchmarkRead compares a cached GET items/{id} through the lab's handler
// with a baseline handler doing one Redis GET and writing the bytes, on
// the same backend in the same loop, and reports both and their ratio.
func BenchmarkRead(b *testing.B) {
	for _, e := range labtest.Envs(b, "benchread") {
		b.Run(e.Name, func(b *testing.B) {
			in := mustLaunch(b, e.Env, map[string]any{"strategy": "cache_aside", "db_latency_ms": 0})
			mustGet(b, in, 1) // cached from here on
			h := in.Handler()
			key := in.itemKey(1)
			baseline := func(w http.ResponseWriter, r *http.Request) {
				raw, err := e.Env.Redis.Get(r.Context(), key).Bytes()
				if errors.Is(err, goredis.Nil) {
					http.Error(w, "miss", http.StatusNotFound)
					return
				}
				if err != nil {
					http.Error(w, err.Error(), http.StatusServiceUnavailable)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(raw)
			}
			req := httptest.NewRequest(http.MethodGet, "/items/1", nil).WithContext(context.Background())
			var base, lab time.Duration
			b.ResetTimer()
			for b.Loop() {
				t0 := time.Now()
				rec := httptest.NewRecorder()
				baseline(rec, req)
				t1 := time.Now()
				if rec.Code != http.StatusOK {
					b.Fatalf("baseline: %d", rec.Code)
				}
				rec = httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				t2 := time.Now()
				if rec.Code != http.StatusOK {
					b.Fatalf("lab: %d %s", rec.Code, rec.Body)
				}
				base += t1.Sub(t0)
				lab += t2.Sub(t1)
			}
			n := float64(b.N)
			b.ReportMetric(float64(base.Nanoseconds())/n, "baseline-ns/read")
			b.ReportMetric(float64(lab.Nanoseconds())/n, "lab-ns/read")
			b.ReportMetric(float64(lab)/float64(base), "lab/baseline")
			if in.misses.Load() != 1 {
				b.Errorf("%d misses: the benchmark was not measuring cached reads", in.misses.Load())
			}
		})
	}
}
