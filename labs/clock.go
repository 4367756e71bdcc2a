package labs

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Clock is the time a lab decides by: when a window rolls over, when a
// breaker may probe, when a link expires, how long a timeout waits. Live
// labs run on the real clock; a check suite may hand an instance a
// ManualClock it moves itself, so that a verdict about time depends on the
// design and never on how fast or busy the grading machine is.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// NewTimer fires once, d from now.
	NewTimer(d time.Duration) Timer
	// NewTicker fires every d.
	NewTicker(d time.Duration) Ticker
}

// Timer is a one-shot timer of a Clock.
type Timer interface {
	// C delivers the time the timer fired.
	C() <-chan time.Time
	// Stop prevents the timer from firing; false if it had fired already.
	Stop() bool
}

// Ticker fires repeatedly until stopped.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// RealClock is the machine's clock.
type RealClock struct{}

// Now is time.Now.
func (RealClock) Now() time.Time { return time.Now() }

// NewTimer is time.NewTimer.
func (RealClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

// NewTicker is time.NewTicker.
func (RealClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// ClockOf returns c, or the real clock when c is nil.
func ClockOf(c Clock) Clock {
	if c == nil {
		return RealClock{}
	}
	return c
}

// Sleep waits d on clock c, or until ctx ends.
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := ClockOf(c).NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// WithTimeout is context.WithTimeout on clock c: the context ends with
// context.DeadlineExceeded once c has moved d past now.
func WithTimeout(ctx context.Context, c Clock, d time.Duration) (context.Context, context.CancelFunc) {
	mc, ok := c.(*ManualClock)
	if !ok {
		return context.WithTimeout(ctx, d)
	}
	inner, cancel := context.WithCancelCause(ctx)
	out := &clockContext{Context: inner, deadline: mc.Now().Add(d)}
	t := mc.NewTimer(d)
	go func() {
		select {
		case <-t.C():
			out.expire()
			cancel(context.DeadlineExceeded)
		case <-inner.Done():
			t.Stop()
		}
	}()
	return out, func() { cancel(context.Canceled) }
}

// clockContext ends at a ManualClock's deadline and says so as
// context.DeadlineExceeded, as a real timeout would.
type clockContext struct {
	context.Context
	deadline time.Time
	mu       sync.Mutex
	expired  bool
}

func (c *clockContext) expire() {
	c.mu.Lock()
	c.expired = true
	c.mu.Unlock()
}

// Deadline is the parent's: the manual clock's deadline is not a wall-clock
// time, and the network and database clients read Deadline as one (a
// deadline in 2030 would never fire, one in the past at once).
func (c *clockContext) Deadline() (time.Time, bool) { return c.Context.Deadline() }

type clockDeadlineKey struct{}

// Value answers ClockDeadline's question with the earliest clock deadline
// on the way up.
func (c *clockContext) Value(key any) any {
	if _, ok := key.(clockDeadlineKey); ok {
		if up, ok := c.Context.Value(key).(time.Time); ok && up.Before(c.deadline) {
			return up
		}
		return c.deadline
	}
	return c.Context.Value(key)
}

// ClockDeadline is when ctx ends on the clock that set its timeout: a
// ManualClock's time for a context from WithTimeout on one, else ctx's own
// deadline.
func ClockDeadline(ctx context.Context) (time.Time, bool) {
	if d, ok := ctx.Value(clockDeadlineKey{}).(time.Time); ok {
		return d, true
	}
	return ctx.Deadline()
}

func (c *clockContext) Err() error {
	err := c.Context.Err()
	if err == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expired {
		return context.DeadlineExceeded
	}
	return err
}

// ManualClock is a clock that moves only when told to (Advance, Set). Its
// timers and tickers fire as it passes their times, in order. A suite
// that owns the clock can place a burst exactly at a window boundary, wait
// out a breaker's open timeout in no real time at all, and count how long
// a slow call was held in the design's own terms.
type ManualClock struct {
	mu      sync.Mutex
	now     time.Time
	seq     uint64
	pending []*manualTimer
	changed chan struct{} // closed and replaced whenever pending changes
}

// NewManualClock starts a manual clock at start.
func NewManualClock(start time.Time) *ManualClock {
	return &ManualClock{now: start, changed: make(chan struct{})}
}

type manualTimer struct {
	c      *ManualClock
	at     time.Time
	every  time.Duration // > 0 for a ticker
	seq    uint64
	ch     chan time.Time
	active bool
}

func (t *manualTimer) C() <-chan time.Time { return t.ch }

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.c.remove(t)
	return was
}

type manualTicker struct{ *manualTimer }

func (t manualTicker) Stop() { t.manualTimer.Stop() }

// Now is the clock's current time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer fires once the clock reaches now+d (at once when d <= 0).
func (c *ManualClock) NewTimer(d time.Duration) Timer { return c.add(d, 0) }

// NewTicker fires each time the clock passes another d.
func (c *ManualClock) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("labs: non-positive interval for NewTicker")
	}
	return manualTicker{c.add(d, d)}
}

func (c *ManualClock) add(d, every time.Duration) *manualTimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &manualTimer{c: c, at: c.now.Add(d), every: every, seq: c.seq, ch: make(chan time.Time, 1), active: true}
	if d <= 0 && every == 0 {
		t.active = false
		t.ch <- c.now
		return t
	}
	c.pending = append(c.pending, t)
	c.notify()
	return t
}

// remove drops t from the pending timers; c.mu is held.
func (c *ManualClock) remove(t *manualTimer) {
	t.active = false
	for i, p := range c.pending {
		if p == t {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			c.notify()
			return
		}
	}
}

func (c *ManualClock) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Advance moves the clock d forward, firing every timer due on the way in
// order of their times; a ticker fires at most once per Advance even when
// several of its periods pass (as a real ticker drops ticks for a slow
// reader).
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.moveTo(c.now.Add(d))
}

// Set moves the clock to t; a time before now is ignored.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.moveTo(t)
}

func (c *ManualClock) moveTo(target time.Time) {
	if target.Before(c.now) {
		return
	}
	for {
		sort.SliceStable(c.pending, func(i, j int) bool {
			if !c.pending[i].at.Equal(c.pending[j].at) {
				return c.pending[i].at.Before(c.pending[j].at)
			}
			return c.pending[i].seq < c.pending[j].seq
		})
		if len(c.pending) == 0 || c.pending[0].at.After(target) {
			break
		}
		t := c.pending[0]
		c.now = t.at
		select {
		case t.ch <- t.at:
		default: // a ticker whose last tick is unread drops this one
		}
		if t.every > 0 {
			for !t.at.After(target) {
				t.at = t.at.Add(t.every)
			}
			c.notify()
			continue
		}
		c.remove(t)
	}
	c.now = target
}

// Waiters counts the timers and tickers that have not fired (or, for
// tickers, have not been stopped).
func (c *ManualClock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// Next is the time of the earliest pending timer; false when there is none.
func (c *ManualClock) Next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var best time.Time
	for i, t := range c.pending {
		if i == 0 || t.at.Before(best) {
			best = t.at
		}
	}
	return best, len(c.pending) > 0
}

// BlockUntil waits (in real time) until at least n timers are pending: the
// goroutines a suite is driving have reached their waits. It returns ctx's
// error if ctx ends first.
func (c *ManualClock) BlockUntil(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		have, ch := len(c.pending), c.changed
		c.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}
