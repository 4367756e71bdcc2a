package labs

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// LoadSpec is a server-side load run: requests spread over keys, at most
// concurrency in flight, paced to rate per second (0: as fast as allowed).
// Keys are taken in turn (uniform), or drawn from a Zipf distribution so a
// few keys are hot, as in real traffic (zipf).
type LoadSpec struct {
	Requests     int    `json:"requests"`
	Concurrency  int    `json:"concurrency"`
	RatePerS     int    `json:"rate_per_s"`
	Keys         int    `json:"keys"`
	Distribution string `json:"distribution,omitempty"`
}

// Key distributions of a load run.
const (
	Uniform = "uniform"
	Zipf    = "zipf"
)

// ZipfS is the skew of a zipf load: with s = 1.1 over 1,000 keys the
// hottest key takes about a sixth of the requests and the top ten about
// half.
const ZipfS = 1.1

// LoadSummary is what a load run observed.
type LoadSummary struct {
	Requests   int            `json:"requests"`
	ByStatus   map[string]int `json:"by_status"`
	Errors     int            `json:"errors"`
	DurationMS float64        `json:"duration_ms"`
	RatePerS   float64        `json:"achieved_rate_per_s"`
	P50MS      float64        `json:"p50_ms"`
	P99MS      float64        `json:"p99_ms"`
	Stopped    string         `json:"stopped,omitempty"` // why it ended early
}

// Check validates a load spec against limits; the map names the fields.
func (l Limits) Check(s LoadSpec) FieldErrors {
	e := FieldErrors{}
	if s.Requests < 1 || s.Requests > l.MaxRequests {
		e["requests"] = fmt.Sprintf("Must be between 1 and %d.", l.MaxRequests)
	}
	if s.Concurrency < 1 || s.Concurrency > l.MaxConc {
		e["concurrency"] = fmt.Sprintf("Must be between 1 and %d.", l.MaxConc)
	}
	if s.RatePerS < 0 || s.RatePerS > l.MaxRate {
		e["rate_per_s"] = fmt.Sprintf("Must be between 0 (unpaced) and %d.", l.MaxRate)
	}
	if s.Keys < 1 || s.Keys > l.MaxKeys {
		e["keys"] = fmt.Sprintf("Must be between 1 and %d.", l.MaxKeys)
	}
	if s.Distribution != "" && s.Distribution != Uniform && s.Distribution != Zipf {
		e["distribution"] = `Either "uniform" (keys in turn) or "zipf" (a few hot keys).`
	}
	if len(e) == 0 {
		return nil
	}
	return e
}

// Load runs a load against owner's instance; one run at a time per instance.
func (m *Manager) Load(ctx context.Context, r *Running, s LoadSpec) (LoadSummary, error) {
	r.mu.Lock()
	if r.swapping {
		r.mu.Unlock()
		return LoadSummary{}, ErrReconfiguring
	}
	if r.loading {
		r.mu.Unlock()
		return LoadSummary{}, ErrBusy
	}
	r.loading = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.loading = false
		r.lastUsed = m.now()
		r.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(ctx, m.limits.MaxLoadTime)
	defer cancel()
	dist := ""
	if s.Distribution == Zipf && s.Keys > 1 {
		dist = " (zipf)"
	}
	r.Metrics.Eventf("info", "load run: %d requests, concurrency %d, %s, %d keys%s",
		s.Requests, s.Concurrency, rateText(s.RatePerS), s.Keys, dist)
	sum := RunLoad(ctx, r.Instance(), s)
	r.Metrics.Eventf("info", "load run done: %s in %.0f ms (p99 %.1f ms)", statusText(sum.ByStatus), sum.DurationMS, sum.P99MS)
	return sum, nil
}

func rateText(r int) string {
	if r == 0 {
		return "unpaced"
	}
	return strconv.Itoa(r) + "/s"
}

func statusText(m map[string]int) string {
	s := ""
	for _, code := range []string{"200", "201", "202", "301", "302", "400", "404", "409", "410", "429", "499", "500", "502", "503", "504"} {
		if n := m[code]; n > 0 {
			if s != "" {
				s += ", "
			}
			s += fmt.Sprintf("%d × %s", n, code)
		}
	}
	return s
}

// RunLoad drives inst.Hit: the manager's load runs.
func RunLoad(ctx context.Context, inst Instance, s LoadSpec) LoadSummary {
	return runLoad(ctx, s, inst.Hit)
}

// RunLoadOn drives a target over HTTP: each request is what request makes
// of its key (a method and a path of the lab's routes). A request the
// target did not answer counts as an error, with status 0 shown as 500.
func RunLoadOn(ctx context.Context, tg Target, s LoadSpec, request func(key string) (method, path string)) LoadSummary {
	return runLoad(ctx, s, func(ctx context.Context, key string) (int, error) {
		method, path := request(key)
		r, err := Call(ctx, tg, method, path, nil)
		return r.Status, err
	})
}

// runLoad sends s.Requests requests through hit.
func runLoad(ctx context.Context, s LoadSpec, hit func(ctx context.Context, key string) (int, error)) LoadSummary {
	start := time.Now()
	var (
		next    atomic.Int64
		mu      sync.Mutex
		lats    = make([]float64, 0, s.Requests)
		by      = map[string]int{}
		errs    int
		stopped string
	)
	var tick <-chan time.Time
	if s.RatePerS > 0 {
		// Pace by releasing one request per interval to whichever worker
		// is free; a ticker coalesces when workers fall behind.
		interval := time.Second / time.Duration(s.RatePerS)
		t := time.NewTicker(max(interval, time.Microsecond))
		defer t.Stop()
		tick = t.C
	}
	keyOf := func(i int64) int64 { return i % int64(s.Keys) }
	if s.Distribution == Zipf && s.Keys > 1 {
		var zmu sync.Mutex
		z := rand.NewZipf(rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), ZipfS, 1, uint64(s.Keys-1))
		keyOf = func(int64) int64 {
			zmu.Lock()
			defer zmu.Unlock()
			return int64(z.Uint64())
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < s.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(s.Requests) || ctx.Err() != nil {
					return
				}
				if tick != nil {
					select {
					case <-tick:
					case <-ctx.Done():
						return
					}
				}
				key := "k" + strconv.FormatInt(keyOf(i), 10)
				t0 := time.Now()
				code, err := hit(ctx, key)
				d := time.Since(t0)
				mu.Lock()
				lats = append(lats, float64(d.Microseconds())/1000)
				if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
					errs++
				}
				if code == 0 {
					code = http.StatusInternalServerError
				}
				by[strconv.Itoa(code)]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		stopped = "time limit reached"
	}
	elapsed := time.Since(start)
	n := len(lats)
	out := LoadSummary{Requests: n, ByStatus: by, Errors: errs, DurationMS: float64(elapsed.Microseconds()) / 1000,
		P50MS: Percentile(lats, 50), P99MS: Percentile(lats, 99), Stopped: stopped}
	if elapsed > 0 {
		out.RatePerS = float64(n) / elapsed.Seconds()
	}
	if n == 0 {
		out.P50MS, out.P99MS = 0, 0
	}
	return out
}
