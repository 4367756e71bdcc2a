package shop

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// pace is the time a shop runs on, and, on a manual clock, an account of
// the work in flight.
//
// Live shops run on the real clock and keep no account. A check hands the
// shop a manual clock and moves it itself, but only once the shop is at
// rest: every service, the relay, the provider and the auditor is waiting
// for time (a timer) and nothing is left to do now. Work then takes no
// time on the clock, and a wait takes exactly as long as the design and
// the simulated world say (the provider's latency, a timeout, claim idle
// time, a poll), so what a check measures in time is the same on an idle
// and on a loaded machine.
//
// The account counts the goroutines that run and the wake-ups handed out
// and not yet taken (a rung doorbell, a fired timer, a provider's answer).
// A goroutine gives up its count while it waits and takes a wake-up's
// count over when it wakes; whoever hands out a wake-up counts it first,
// so the account never reads zero while something is about to run.
type pace struct {
	clock  labs.Clock
	manual *labs.ManualClock // nil: no account is kept

	mu      sync.Mutex
	busy    int
	wrong   bool                    // the account went below zero (a bug; rest reports it)
	timers  map[*paceTimer]struct{} // armed timers on the manual clock
	resting chan struct{}           // closed and replaced when busy drops to zero
}

func newPace(c labs.Clock) *pace {
	p := &pace{clock: labs.ClockOf(c), timers: map[*paceTimer]struct{}{}, resting: make(chan struct{})}
	p.manual, _ = c.(*labs.ManualClock)
	return p
}

func (p *pace) now() time.Time { return p.clock.Now() }

// hold counts a goroutine about to run or a wake-up about to be handed out.
func (p *pace) hold() {
	if p.manual == nil {
		return
	}
	p.mu.Lock()
	p.busy++
	p.mu.Unlock()
}

// idle gives a count back: a goroutine starts waiting or ends, or a
// wake-up was dropped.
func (p *pace) idle() {
	if p.manual == nil {
		return
	}
	p.mu.Lock()
	p.idleLocked()
	p.mu.Unlock()
}

func (p *pace) idleLocked() {
	p.busy--
	if p.busy < 0 {
		p.busy, p.wrong = 0, true
	}
	if p.busy == 0 {
		close(p.resting)
		p.resting = make(chan struct{})
	}
}

// paceTimer is a one-shot timer on the shop's clock.
type paceTimer struct {
	p     *pace
	inner labs.Timer
	at    time.Time
	fired bool // its wake-up was counted
}

// C delivers the time the timer fired.
func (t *paceTimer) C() <-chan time.Time { return t.inner.C() }

// timer starts a timer of d on the shop's clock. Stop it when done with it.
func (p *pace) timer(d time.Duration) *paceTimer {
	if p.manual == nil {
		return &paceTimer{p: p, inner: p.clock.NewTimer(d)}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t := &paceTimer{p: p, inner: p.manual.NewTimer(d), at: p.manual.Now().Add(d)}
	if d <= 0 { // fired already: its value waits in C
		t.fired = true
		p.busy++
		return t
	}
	p.timers[t] = struct{}{}
	return t
}

// stop disarms the timer, and drops a wake-up it handed out and nobody took.
func (t *paceTimer) stop() {
	p := t.p
	if p.manual == nil {
		t.inner.Stop()
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.timers, t)
	t.inner.Stop()
	if t.fired {
		t.fired = false
		select {
		case <-t.inner.C():
			p.idleLocked()
		default:
		}
	}
}

// sleep waits d on the shop's clock, or until ctx ends. Only goroutines
// the account counts (started with spawn) may call it.
func (p *pace) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := p.timer(d)
	defer t.stop()
	p.idle()
	select {
	case <-ctx.Done():
		p.hold()
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// toTick is how long until the clock next passes a whole multiple of
// every. Pollers wait for these ticks rather than for every from their own
// now, so on a manual clock all of them wake at the same instants and a
// check moves the clock in few steps.
func (p *pace) toTick(every time.Duration) time.Duration {
	now := p.now().UnixNano()
	return time.Duration(every.Nanoseconds() - now%every.Nanoseconds())
}

// wait waits for a ring of b or for the next tick of every, whichever
// comes first; false when ctx ended. Only counted goroutines may call it.
func (p *pace) wait(ctx context.Context, b *doorbell, every time.Duration) bool {
	b.mu.Lock()
	select {
	case <-b.ch: // rung while it was busy: there may be work already
		b.mu.Unlock()
		return true
	default:
	}
	b.listening = true
	b.mu.Unlock()
	t := p.timer(p.toTick(every))
	defer t.stop()
	p.idle()
	woke := true
	select {
	case <-ctx.Done():
		p.hold()
		woke = false
	case <-b.ch: // the ring's count is now this goroutine's
	case <-t.C():
	}
	b.mu.Lock()
	b.listening = false
	select {
	case <-b.ch: // rung as it woke otherwise: it looks for work anyway
		p.idle()
	default:
	}
	b.mu.Unlock()
	return woke
}

// doorbell wakes a goroutine that waits for work. A ring counts as a
// wake-up only while its goroutine waits on it: a goroutine busy elsewhere
// (a payment consumer waiting for the provider) finds the ring when it
// next waits, and does not hold the clock up meanwhile. It rings only
// while open (its goroutine lives).
type doorbell struct {
	p         *pace
	mu        sync.Mutex
	open      bool
	listening bool
	ch        chan struct{}
}

func newDoorbell(p *pace) *doorbell { return &doorbell{p: p, ch: make(chan struct{}, 1)} }

func (b *doorbell) ring() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return
	}
	if !b.listening {
		select {
		case b.ch <- struct{}{}:
		default:
		}
		return
	}
	b.p.hold()
	select {
	case b.ch <- struct{}{}:
	default: // rung already: one wake-up is enough
		b.p.idle()
	}
}

// wake wakes the doorbell's goroutine if it is waiting for work and has
// not been woken yet; it reports whether it did.
func (b *doorbell) wake() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open || !b.listening || len(b.ch) > 0 {
		return false
	}
	b.p.hold()
	b.ch <- struct{}{}
	return true
}

// setOpen opens the doorbell as its goroutine starts and closes it as the
// goroutine ends, dropping a ring it did not take.
func (b *doorbell) setOpen(open bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.open = open
	if !open {
		select {
		case <-b.ch:
			if b.listening {
				b.p.idle()
			}
		default:
		}
	}
}

// mailbox hands one value to a goroutine waiting for it; a value sent
// after the waiter gave up is dropped.
type mailbox[T any] struct {
	p      *pace
	mu     sync.Mutex
	closed bool
	ch     chan T
}

func newMailbox[T any](p *pace) *mailbox[T] { return &mailbox[T]{p: p, ch: make(chan T, 1)} }

func (m *mailbox[T]) put(v T) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.p.hold()
	select {
	case m.ch <- v:
	default:
		m.p.idle()
	}
}

// close is the waiter giving up; a value it did not take is dropped.
func (m *mailbox[T]) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	select {
	case <-m.ch:
		m.p.idle()
	default:
	}
}

// errAccount is a fault of the shop's own bookkeeping, never of a design.
var errAccount = errors.New("the shop lost count of its work in flight")

// rest waits, in real time, until the shop is at rest: nothing runs and no
// wake-up is waiting to be taken. backstop bounds the wait: work at one
// instant of the clock is finite, so only a machine far too slow (or a
// broken environment) reaches it.
func (p *pace) rest(ctx context.Context, backstop time.Duration) error {
	if p.manual == nil {
		return nil
	}
	limit := time.NewTimer(backstop) // real time on purpose: a backstop, never a verdict
	defer limit.Stop()
	for {
		p.mu.Lock()
		busy, ch, wrong := p.busy, p.resting, p.wrong
		p.mu.Unlock()
		if wrong {
			return errAccount
		}
		if busy == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-limit.C:
			return errBackstop{backstop}
		}
	}
}

// errBackstop is the real-time backstop of rest running out.
type errBackstop struct{ after time.Duration }

func (e errBackstop) Error() string {
	return "the shop's services were still working after " + e.after.String() + " of real time at one instant of the lab's clock"
}

// next is when the earliest armed timer fires.
func (p *pace) next() (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var best time.Time
	found := false
	for t := range p.timers {
		if !found || t.at.Before(best) {
			best, found = t.at, true
		}
	}
	return best, found
}

// advance moves the manual clock to at, counting a wake-up for every timer
// due by then. Call it only at rest.
func (p *pace) advance(at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for t := range p.timers {
		if !t.at.After(at) {
			t.fired = true
			p.busy++
			delete(p.timers, t)
		}
	}
	p.manual.Set(at)
}
