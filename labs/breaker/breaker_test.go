package breaker

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var errBoom = errors.New("boom")

func fail() error    { return errBoom }
func succeed() error { return nil }

// newBreaker builds a breaker on clk from cfg, failing the test on error.
func newBreaker(t *testing.T, clk *fakeClock, cfg Config) *Breaker {
	t.Helper()
	cfg.Now = clk.Now
	if cfg.OpenTimeout == 0 {
		cfg.OpenTimeout = time.Second
	}
	if cfg.HalfOpenProbes == 0 {
		cfg.HalfOpenProbes = 1
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantState(t *testing.T, b *Breaker, want State) {
	t.Helper()
	if got := b.State(); got != want {
		t.Fatalf("state %s, want %s", got, want)
	}
}

// hammer runs workers goroutines that each call b.Do(fn) calls times, and
// returns how many calls fn ran and how many were failed fast.
func hammer(b *Breaker, workers, calls int, fn func() error) (ran, fast int64) {
	var r, f atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range calls {
				err := b.Do(func() error { r.Add(1); return fn() })
				if errors.Is(err, ErrOpen) || errors.Is(err, ErrProbeLimit) {
					f.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return r.Load(), f.Load()
}

func TestConsecutiveFailuresOpen(t *testing.T) {
	clk := newFakeClock()
	b := newBreaker(t, clk, Config{FailureThreshold: 5})
	for range 4 {
		_ = b.Do(fail)
	}
	wantState(t, b, Closed)
	_ = b.Do(fail)
	wantState(t, b, Open)
	tr := b.Snapshot().Transitions
	if len(tr) != 1 || tr[0].From != Closed || tr[0].To != Open || !strings.Contains(tr[0].Reason, "5 consecutive failures") {
		t.Fatalf("transitions %+v", tr)
	}

	// Concurrent callers: the breaker opens on the 5th recorded failure, and
	// after that only calls already admitted (one per other worker) can
	// reach fn.
	const workers, calls = 8, 200
	b = newBreaker(t, clk, Config{FailureThreshold: 5})
	ran, fast := hammer(b, workers, calls, fail)
	wantState(t, b, Open)
	if ran > 5+workers-1 || ran < 5 {
		t.Errorf("fn ran %d times; want 5 to %d", ran, 5+workers-1)
	}
	if ran+fast != workers*calls {
		t.Errorf("ran %d + failed fast %d != %d calls", ran, fast, workers*calls)
	}
}

func TestSuccessResetsConsecutiveCount(t *testing.T) {
	b := newBreaker(t, newFakeClock(), Config{FailureThreshold: 5})
	for range 10 {
		for range 4 {
			_ = b.Do(fail)
		}
		_ = b.Do(succeed)
	}
	wantState(t, b, Closed)
	if n := b.Snapshot().ConsecutiveFailures; n != 0 {
		t.Fatalf("consecutive failures %d after a success", n)
	}
	for range 5 {
		_ = b.Do(fail)
	}
	wantState(t, b, Open)

	// Concurrently: calls alternate failure, success. Recorded out of order,
	// a run of failures can still only be as long as the successes that are
	// in flight allow (at most 2×workers), so a threshold above that is
	// reached only if successes fail to reset the count.
	const workers = 8
	b = newBreaker(t, newFakeClock(), Config{FailureThreshold: 2*workers + 1})
	var n atomic.Int64
	hammer(b, workers, 500, func() error {
		if n.Add(1)%2 == 0 {
			return errBoom
		}
		return nil
	})
	wantState(t, b, Closed)
}

func TestFailureRateOpens(t *testing.T) {
	clk := newFakeClock()
	// The consecutive threshold of 1 is not used in rate mode.
	cfg := Config{FailureThreshold: 1, FailureRate: 0.5, WindowSize: 10, MinCalls: 10}
	b := newBreaker(t, clk, cfg)
	for i := range 9 { // 5 failures in 9 calls: above 50%, but below min_calls
		if i%2 == 0 {
			_ = b.Do(fail)
		} else {
			_ = b.Do(succeed)
		}
	}
	wantState(t, b, Closed)
	_ = b.Do(succeed) // the 10th call, a success, makes 5/10 count
	wantState(t, b, Open)
	if r := b.Snapshot().Transitions[0].Reason; !strings.Contains(r, "5 of the last 10 calls failed") {
		t.Errorf("reason %q", r)
	}

	// The window slides: old failures leave it.
	b = newBreaker(t, clk, cfg)
	for range 4 {
		_ = b.Do(fail)
	}
	for range 30 {
		_ = b.Do(succeed)
	}
	for range 4 {
		_ = b.Do(fail)
	}
	wantState(t, b, Closed) // 4 of the last 10
	if s := b.Snapshot(); s.WindowCalls != 10 || s.WindowFailures != 4 {
		t.Fatalf("window %d/%d, want 4/10", s.WindowFailures, s.WindowCalls)
	}
	_ = b.Do(fail)
	wantState(t, b, Open) // 5 of the last 10

	// Exactly at the rate opens: 3 of 10 reaches 0.3.
	b = newBreaker(t, clk, Config{FailureRate: 0.3, WindowSize: 10, MinCalls: 10})
	for range 7 {
		_ = b.Do(succeed)
	}
	for range 2 {
		_ = b.Do(fail)
	}
	wantState(t, b, Closed)
	_ = b.Do(fail)
	wantState(t, b, Open)

	// Concurrent callers: all failing, it opens once min_calls are in.
	const workers = 8
	b = newBreaker(t, clk, Config{FailureRate: 0.5, WindowSize: 20, MinCalls: 10})
	ran, _ := hammer(b, workers, 100, fail)
	wantState(t, b, Open)
	if ran < 10 || ran > 10+workers-1 {
		t.Errorf("fn ran %d times; want 10 to %d", ran, 10+workers-1)
	}
}

func TestOpenFailsFastWithoutCalling(t *testing.T) {
	b := newBreaker(t, newFakeClock(), Config{FailureThreshold: 1})
	_ = b.Do(fail)
	wantState(t, b, Open)
	ran, fast := hammer(b, 8, 200, succeed)
	if ran != 0 || fast != 8*200 {
		t.Fatalf("open breaker ran fn %d times, failed %d fast", ran, fast)
	}
	if _, err := b.Allow(); !errors.Is(err, ErrOpen) {
		t.Fatalf("Allow: %v", err)
	}
}

func TestOpenToHalfOpenAfterTimeout(t *testing.T) {
	clk := newFakeClock()
	b := newBreaker(t, clk, Config{FailureThreshold: 1, OpenTimeout: 2 * time.Second})
	_ = b.Do(fail)
	if at, ok := b.HalfOpenAt(); !ok || !at.Equal(clk.Now().Add(2*time.Second)) {
		t.Fatalf("HalfOpenAt %v %v", at, ok)
	}
	clk.Advance(2*time.Second - time.Nanosecond)
	if _, err := b.Allow(); !errors.Is(err, ErrOpen) {
		t.Fatalf("before the timeout: %v", err)
	}
	clk.Advance(time.Nanosecond)
	wantState(t, b, HalfOpen)
	tr := b.Snapshot().Transitions
	if last := tr[len(tr)-1]; last.From != Open || last.To != HalfOpen || !last.At.Equal(clk.Now()) {
		t.Fatalf("transition %+v", last)
	}
	if _, err := b.Allow(); err != nil {
		t.Fatalf("probe refused: %v", err)
	}
}
