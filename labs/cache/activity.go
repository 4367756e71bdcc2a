package cache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// activity follows the goroutines of one operation on an instance (a read,
// a write, a stampede of 200 readers) while a manual clock stands still, so
// that whoever moves the clock can tell when the operation is idle: each of
// its goroutines has finished or waits for the clock, itself or through a
// load it shares. Moving the clock to the next wait's end only then does
// what time would do on an infinitely fast machine; moving it earlier would
// let a timeout fire while a goroutine is merely slow, which is how a busy
// machine used to change a verdict. Waits that end at the same instant end
// in the order they began, each group that began together after the
// operation is idle again: a load holder that started its last wait earlier
// fills the cache before the readers polling for it look, whatever the
// machine's scheduler does. Waits that began and end together (200
// readers released at once) end together, so they run concurrently.
//
// The lab carries an activity in the operation's context. Live labs have
// none: every method is a no-op on a nil activity.
type activity struct {
	clock *labs.ManualClock

	mu       sync.Mutex
	active   int                 // goroutines that can run without the clock moving
	sleeps   map[uint64]*sleeper // clock waits in progress
	seq      uint64
	flights  map[string]int // shared loads running, by key
	riders   map[string]int // goroutines waiting for a shared load's result, by key
	finished bool           // the operation has returned
	changed  chan struct{}
}

// sleeper is one goroutine's wait for the clock.
type sleeper struct {
	at, began time.Time
	seq       uint64
	wake      chan struct{}
}

// before orders waits by when they end, then by when they began.
func (s *sleeper) before(o *sleeper) bool {
	if !s.at.Equal(o.at) {
		return s.at.Before(o.at)
	}
	return s.began.Before(o.began)
}

type activityKey struct{}

// activityOf is the activity ctx carries, or nil.
func activityOf(ctx context.Context) *activity {
	a, _ := ctx.Value(activityKey{}).(*activity)
	return a
}

// notify wakes whoever waits for a change; a.mu is held.
func (a *activity) notify() {
	close(a.changed)
	a.changed = make(chan struct{})
}

func (a *activity) add(n int) {
	if a == nil {
		return
	}
	a.mu.Lock()
	a.active += n
	a.notify()
	a.mu.Unlock()
}

// start counts a goroutine about to be started for the operation.
func (a *activity) start() { a.add(1) }

// stop counts a goroutine of the operation that has ended.
func (a *activity) stop() { a.add(-1) }

// sleep waits d on the clock, or until ctx ends, as a goroutine of the
// operation that is idle meanwhile. The driver ends the wait (see drive).
func (a *activity) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	a.mu.Lock()
	a.seq++
	now := a.clock.Now()
	sl := &sleeper{at: now.Add(d), began: now, seq: a.seq, wake: make(chan struct{})}
	a.sleeps[sl.seq] = sl
	a.active--
	a.notify()
	a.mu.Unlock()
	select {
	case <-sl.wake: // the driver counted this goroutine active again
		return nil
	case <-ctx.Done():
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, waiting := a.sleeps[sl.seq]; waiting {
		delete(a.sleeps, sl.seq)
		a.active++
		a.notify()
	}
	return ctx.Err()
}

// first is the wait that ends first (the earliest begun among equals), or
// nil; a.mu is held.
func (a *activity) first() *sleeper {
	var best *sleeper
	for _, sl := range a.sleeps {
		if best == nil || sl.before(best) {
			best = sl
		}
	}
	return best
}

// wakeWith ends every wait that began and ends with sl's, counting their
// goroutines active again; a.mu is held.
func (a *activity) wakeWith(sl *sleeper) {
	for id, o := range a.sleeps {
		if o.at.Equal(sl.at) && o.began.Equal(sl.began) {
			delete(a.sleeps, id)
			a.active++
			close(o.wake)
		}
	}
}

// flightStart and flightEnd bracket a shared load of key (its own
// goroutine).
func (a *activity) flightStart(key string) { a.flight(key, 1) }
func (a *activity) flightEnd(key string)   { a.flight(key, -1) }

func (a *activity) flight(key string, n int) {
	if a == nil {
		return
	}
	a.mu.Lock()
	a.flights[key] += n
	a.active += n
	a.notify()
	a.mu.Unlock()
}

// ride and alight bracket a goroutine's wait for the result of a shared
// load of key. A rider is idle while a load of its key runs; between the
// load's end and the rider waking it is not, which riders without a flight
// of their key tell.
func (a *activity) ride(key string)   { a.rider(key, 1) }
func (a *activity) alight(key string) { a.rider(key, -1) }

func (a *activity) rider(key string, n int) {
	if a == nil {
		return
	}
	a.mu.Lock()
	a.riders[key] += n
	a.active -= n
	a.notify()
	a.mu.Unlock()
}

// idle reports whether nothing of the operation can happen until the clock
// moves; a.mu is held.
func (a *activity) idle() bool {
	if a.finished || a.active != 0 {
		return false
	}
	for key, n := range a.riders {
		if n > 0 && a.flights[key] == 0 {
			return false
		}
	}
	return true
}

// fanOut runs f(0) … f(n-1) in goroutines released together and waits for
// them all. Under an activity the waiting goroutine hands its turn to the
// ones it started and the last of them hands it back, so the operation
// never looks idle while it is only passing from one to the others.
func fanOut(ctx context.Context, n int, f func(i int)) {
	if n <= 0 {
		return
	}
	a := activityOf(ctx)
	var (
		wg   sync.WaitGroup
		left atomic.Int64
		gate = make(chan struct{})
	)
	left.Store(int64(n))
	for i := range n {
		a.start()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if left.Add(-1) > 0 {
					a.stop()
				} // the last one keeps its turn for the waiting goroutine
			}()
			<-gate
			f(i)
		}()
	}
	a.stop()
	close(gate)
	wg.Wait()
}

// driveBackstop bounds, in real time, how long drive waits while nothing of
// the operation moves (no goroutine starts, ends or begins or ends a wait):
// only a Redis or database that stopped answering gets there, never a slow
// machine's verdict.
const driveBackstop = 2 * time.Minute

// errHung is an operation in which nothing moved for driveBackstop.
var errHung = errors.New("nothing moved in an operation on the instance for two minutes: Redis or the database stopped answering")

// drive runs f with an activity in its context and, each time f's
// goroutines are all waiting for the clock, moves the clock to where the
// first wait ends and ends it (timers of anything else due by then fire on
// the way); it returns when f has returned. Inside another drive (ctx
// already carries an activity) it just calls f: the outer one moves the
// clock.
func drive(ctx context.Context, clock *labs.ManualClock, f func(ctx context.Context)) error {
	if activityOf(ctx) != nil {
		f(ctx)
		return nil
	}
	a := &activity{clock: clock, active: 1, sleeps: map[uint64]*sleeper{},
		flights: map[string]int{}, riders: map[string]int{}, changed: make(chan struct{})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			a.mu.Lock()
			a.finished = true
			a.active--
			a.notify()
			a.mu.Unlock()
		}()
		f(context.WithValue(ctx, activityKey{}, a))
	}()
	backstop := time.NewTimer(driveBackstop)
	defer backstop.Stop()
	for {
		a.mu.Lock()
		if a.idle() {
			sl := a.first()
			next, ok := clock.Next()
			switch {
			case ok && (sl == nil || next.Before(sl.at)):
				// A timer of something else (a ticker, a timeout) comes
				// first; if the operation is still idle after it, the
				// clock goes on.
				clock.Set(next)
				a.mu.Unlock()
				continue
			case sl != nil:
				clock.Set(sl.at)
				a.wakeWith(sl)
			}
			// Otherwise nothing can wake it: a goroutine outside the
			// operation may still be on its way (a timeout cancelling a
			// context), or the operation is stuck and the backstop ends it.
		}
		changed := a.changed
		a.mu.Unlock()
		select {
		case <-done:
			return nil
		case <-changed:
			backstop.Reset(driveBackstop) // no stale tick survives a Reset since Go 1.23
		case <-ctx.Done():
			<-done
			return ctx.Err()
		case <-backstop.C:
			return errHung
		}
	}
}
