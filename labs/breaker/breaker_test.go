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

// openThenHalfOpen returns a breaker in half-open with probes probe slots.
func openThenHalfOpen(t *testing.T, clk *fakeClock, probes int) *Breaker {
	t.Helper()
	b := newBreaker(t, clk, Config{FailureThreshold: 1, OpenTimeout: time.Second, HalfOpenProbes: probes})
	_ = b.Do(fail)
	clk.Advance(time.Second)
	wantState(t, b, HalfOpen)
	return b
}

func TestHalfOpenAdmitsAtMostProbes(t *testing.T) {
	const probes, callers = 3, 50
	b := openThenHalfOpen(t, newFakeClock(), probes)
	release := make(chan struct{})
	decided := make(chan bool, callers) // true: admitted
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			err := b.Do(func() error {
				decided <- true
				<-release // hold the slot until every caller has been decided
				return nil
			})
			if err != nil {
				if !errors.Is(err, ErrProbeLimit) {
					t.Errorf("caller: %v", err)
				}
				decided <- false
			}
		})
	}
	admitted := 0
	for range callers {
		if <-decided {
			admitted++
		}
	}
	if admitted != probes {
		t.Fatalf("half-open admitted %d concurrent probes, want %d", admitted, probes)
	}
	if s := b.Snapshot(); s.State != HalfOpen || s.ProbesInFlight != probes {
		t.Fatalf("while probing: %+v", s)
	}
	close(release)
	wg.Wait()
	wantState(t, b, Closed)
}

func TestHalfOpenClosesAfterProbesSucceed(t *testing.T) {
	b := openThenHalfOpen(t, newFakeClock(), 2)
	t1, err1 := b.Allow()
	t2, err2 := b.Allow()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if _, err := b.Allow(); !errors.Is(err, ErrProbeLimit) {
		t.Fatalf("third probe: %v", err)
	}
	b.Done(t1, Success)
	wantState(t, b, HalfOpen)
	// The limit is on probes per half-open period, not only at once: a
	// finished probe does not make room for another.
	if _, err := b.Allow(); !errors.Is(err, ErrProbeLimit) {
		t.Fatalf("probe after one success: %v", err)
	}
	b.Done(t2, Success)
	wantState(t, b, Closed)
	tr := b.Snapshot().Transitions
	if last := tr[len(tr)-1]; last.From != HalfOpen || last.To != Closed || !strings.Contains(last.Reason, "2 of 2 probes succeeded") {
		t.Fatalf("transition %+v", last)
	}
	// Closed again, with a fresh count.
	if s := b.Snapshot(); s.ConsecutiveFailures != 0 || s.ProbesInFlight != 0 {
		t.Fatalf("after closing: %+v", s)
	}
}

func TestHalfOpenReopensOnProbeFailure(t *testing.T) {
	clk := newFakeClock()
	b := openThenHalfOpen(t, clk, 3)
	t1, _ := b.Allow()
	t2, _ := b.Allow()
	t3, _ := b.Allow()
	b.Done(t1, Success)
	b.Done(t2, Failure)
	wantState(t, b, Open)
	b.Done(t3, Success) // stale: admitted before the breaker reopened
	wantState(t, b, Open)
	// A full open_timeout from the reopening, not from the first opening.
	clk.Advance(time.Second - time.Nanosecond)
	wantState(t, b, Open)
	clk.Advance(time.Nanosecond)
	wantState(t, b, HalfOpen)
	want := []State{Closed, Open, HalfOpen, Open, HalfOpen}
	tr := b.Snapshot().Transitions
	for i, x := range tr {
		if x.From != want[i] || x.To != want[i+1] {
			t.Fatalf("transition %d: %+v, want %s → %s", i, x, want[i], want[i+1])
		}
	}
}

func TestIgnoredOutcomes(t *testing.T) {
	clk := newFakeClock()
	// An ignored probe frees its slot for another.
	b := openThenHalfOpen(t, clk, 1)
	t1, _ := b.Allow()
	if _, err := b.Allow(); !errors.Is(err, ErrProbeLimit) {
		t.Fatal(err)
	}
	b.Done(t1, Ignore)
	wantState(t, b, HalfOpen)
	t2, err := b.Allow()
	if err != nil {
		t.Fatalf("slot not freed: %v", err)
	}
	b.Done(t2, Success)
	wantState(t, b, Closed)

	// Ignored calls neither count as failures nor reset the count.
	b = newBreaker(t, clk, Config{FailureThreshold: 2})
	_ = b.Do(fail)
	t3, _ := b.Allow()
	b.Done(t3, Ignore)
	wantState(t, b, Closed)
	_ = b.Do(fail)
	wantState(t, b, Open)
}

func TestStaleOutcomeIgnored(t *testing.T) {
	b := newBreaker(t, newFakeClock(), Config{FailureThreshold: 1})
	slow, _ := b.Allow() // a slow call admitted while closed
	_ = b.Do(fail)
	wantState(t, b, Open)
	b.Done(slow, Success) // its late success says nothing about now
	wantState(t, b, Open)
}

// within fails the test if fn does not return within a generous bound: a
// breaker that held its lock across a call would block here forever.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s blocked while another call was running: is the lock held across the call?", what)
	}
}

func TestLockNotHeldDuringCall(t *testing.T) {
	clk := newFakeClock()
	b := newBreaker(t, clk, Config{FailureThreshold: 1, HalfOpenProbes: 1})
	started, release := make(chan struct{}), make(chan struct{})
	slowDone := make(chan error, 1)
	go func() {
		slowDone <- b.Do(func() error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	// While the slow call runs: another call proceeds, one fails and opens
	// the breaker, and the next fails fast.
	within(t, "a concurrent call", func() {
		if err := b.Do(succeed); err != nil {
			t.Errorf("concurrent call: %v", err)
		}
	})
	within(t, "a failing call", func() { _ = b.Do(fail) })
	within(t, "a call on the open breaker", func() {
		if err := b.Do(succeed); !errors.Is(err, ErrOpen) {
			t.Errorf("want a fast failure, got %v", err)
		}
	})
	within(t, "Snapshot", func() { _ = b.Snapshot() })

	// Half-open: a blocked probe does not stop others being refused at once.
	clk.Advance(time.Second)
	probeStarted, probeRelease := make(chan struct{}), make(chan struct{})
	probeDone := make(chan error, 1)
	go func() {
		probeDone <- b.Do(func() error {
			close(probeStarted)
			<-probeRelease
			return nil
		})
	}()
	<-probeStarted
	within(t, "a call while a probe runs", func() {
		if err := b.Do(succeed); !errors.Is(err, ErrProbeLimit) {
			t.Errorf("want the probe limit, got %v", err)
		}
	})
	close(release)
	if err := <-slowDone; err != nil {
		t.Fatal(err)
	}
	wantState(t, b, HalfOpen) // the slow call's success was stale
	close(probeRelease)
	if err := <-probeDone; err != nil {
		t.Fatal(err)
	}
	wantState(t, b, Closed)
}

func TestDoRecordsPanicAsFailure(t *testing.T) {
	b := newBreaker(t, newFakeClock(), Config{FailureThreshold: 1})
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic was swallowed")
			}
		}()
		_ = b.Do(func() error { panic("downstream client bug") })
	}()
	wantState(t, b, Open)
}

func TestTransitionsReportedInOrderAndCapped(t *testing.T) {
	clk := newFakeClock()
	var mu sync.Mutex
	var seen []Transition
	b, err := New(Config{FailureThreshold: 1, OpenTimeout: time.Millisecond, HalfOpenProbes: 1, Now: clk.Now,
		OnTransition: func(tr Transition) { mu.Lock(); seen = append(seen, tr); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Do(fail)
	for range 40 { // open → half-open → open, twice per round
		clk.Advance(time.Millisecond)
		_ = b.Do(fail)
	}
	got := b.Snapshot().Transitions
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 81 || len(got) != MaxTransitions {
		t.Fatalf("%d reported, %d kept", len(seen), len(got))
	}
	for i, tr := range got {
		if tr != seen[len(seen)-MaxTransitions+i] {
			t.Fatalf("kept transition %d is %+v, reported %+v", i, tr, seen[len(seen)-MaxTransitions+i])
		}
	}
	for i := 1; i < len(seen); i++ {
		if seen[i].From != seen[i-1].To {
			t.Fatalf("transition %d starts from %s, previous ended in %s", i, seen[i].From, seen[i-1].To)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, c := range []Config{
		{FailureThreshold: 0, OpenTimeout: time.Second, HalfOpenProbes: 1},
		{FailureThreshold: 1, OpenTimeout: 0, HalfOpenProbes: 1},
		{FailureThreshold: 1, OpenTimeout: time.Second, HalfOpenProbes: 0},
		{FailureRate: 1.5, OpenTimeout: time.Second, HalfOpenProbes: 1},
		{FailureRate: 0.5, WindowSize: 5, MinCalls: 6, OpenTimeout: time.Second, HalfOpenProbes: 1},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
