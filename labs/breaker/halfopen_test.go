package breaker

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

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
