package breaker

import (
	"context"
	"sync"
	"time"
)

// Breaker implementations a design can pick (the breaker field).
const (
	// ImplStandard is the lab's Breaker: its lock guards only its state.
	ImplStandard = "standard"
	// ImplHoldsLock is the module's own circuit breaker: it takes its lock
	// at the start of a call and lets it go at the end, so the lock is held
	// across the call to the downstream.
	ImplHoldsLock = "holds_lock"
	// ImplNone has no breaker: every call goes to the downstream.
	ImplNone = "none"
)

// gate is what a call goes through before the downstream: a breaker, the
// module's lock-holding breaker, or nothing.
type gate interface {
	// Allow admits a call or fails it fast; ctx ends a wait for a lock.
	Allow(ctx context.Context) (Ticket, error)
	Done(t Ticket, o Outcome)
	State() State
	Snapshot() Snapshot
	HalfOpenAt() (time.Time, bool)
}

// standard adapts the lab's Breaker, which never waits, to a gate.
type standard struct{ *Breaker }

func (b standard) Allow(context.Context) (Ticket, error) { return b.Breaker.Allow() }

// noBreaker lets every call through and never opens.
type noBreaker struct{}

func (noBreaker) Allow(context.Context) (Ticket, error) { return Ticket{}, nil }
func (noBreaker) Done(Ticket, Outcome)                  {}
func (noBreaker) State() State                          { return Closed }
func (noBreaker) Snapshot() Snapshot                    { return Snapshot{State: Closed, Transitions: []Transition{}} }
func (noBreaker) HalfOpenAt() (time.Time, bool)         { return time.Time{}, false }

// holdsLock is the module's breaker: the same decisions as the lab's, but
// one lock is taken when a call is admitted and released only when its
// outcome is recorded. So while one slow call is in flight every other
// caller queues for the lock, even those the breaker would fail fast: a
// half-open breaker probing a slow dependency makes them all wait out the
// probe, one after another, before they hear 503.
type holdsLock struct {
	*Breaker
	lock *callLock
}

func (b holdsLock) Allow(ctx context.Context) (Ticket, error) {
	if err := b.lock.acquire(ctx); err != nil {
		return Ticket{}, err
	}
	t, err := b.Breaker.Allow()
	if err != nil {
		b.lock.release()
	}
	return t, err
}

func (b holdsLock) Done(t Ticket, o Outcome) {
	b.Breaker.Done(t, o)
	b.lock.release()
}

// callLock is a mutex held across a call, that a check's clock can see
// through. A caller waiting for it is recorded in the wait log as waking
// when the holder's attempt must end at the latest (its call timeout), so
// the clock moves only to a moment that really comes; on release the
// waiters' records are dropped at once, before anyone else looks, so they
// count as running until they hold the lock or wait again.
type callLock struct {
	now     func() time.Time
	waits   *waitLog
	hold    time.Duration // the longest a holder keeps it: one attempt
	onWait  func()        // counts a caller that had to wait
	mu      sync.Mutex
	held    bool
	until   time.Time
	waiters []*lockWaiter
}

type lockWaiter struct {
	woken chan struct{}
	end   func()
}

func (l *callLock) acquire(ctx context.Context) error {
	counted := false
	for {
		l.mu.Lock()
		if !l.held {
			l.held, l.until = true, l.now().Add(l.hold)
			l.mu.Unlock()
			return nil
		}
		w := &lockWaiter{woken: make(chan struct{}), end: l.waits.wait(l.until)}
		l.waiters = append(l.waiters, w)
		l.mu.Unlock()
		if !counted && l.onWait != nil {
			l.onWait()
			counted = true
		}
		select {
		case <-w.woken:
		case <-ctx.Done():
			l.drop(w)
			return ctx.Err()
		}
	}
}

// drop removes a waiter that gave up, unless a release already woke it.
func (l *callLock) drop(w *lockWaiter) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, x := range l.waiters {
		if x == w {
			l.waiters = append(l.waiters[:k], l.waiters[k+1:]...)
			w.end()
			return
		}
	}
}

func (l *callLock) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held = false
	for _, w := range l.waiters {
		w.end()
		close(w.woken)
	}
	l.waiters = nil
}
