package breaker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// clockStart is where every check's clock starts: on a whole second, so the
// retry budget's one-second buckets line up with the check's own time.
var clockStart = time.Date(2030, 1, 7, 9, 0, 0, 0, time.UTC)

// backstop bounds, in real time, how long a check waits for calls that
// make no progress at all. A design cannot reach it (every wait a design
// makes is on the check's clock, which the check moves itself); only a
// stuck instance or a grading machine too starved to run at all does, and
// that is the environment's failure, not the design's.
const backstop = 30 * time.Second

// driver runs a check's calls on a target. On the check's own clock (a
// target that can run on one) it moves the clock only when every call it
// runs is waiting on it (on the provider, a call timeout or a backoff
// pause), as the target's GET /waits tells, and then only to the moment
// the first of them wakes. So each call sees the same times however
// slowly or quickly the machine runs it, and a verdict about time is a
// property of the design. On real time (a service) time passes by itself
// and the driver waits for it.
type driver struct {
	tg    labs.Target
	clock labs.Timeline

	mu      sync.Mutex
	running int
	changed chan struct{} // closed and replaced when a call ends
}

// launchOnClock starts a target of the design with changes applied, on the
// check's own clock when it can run on one (else on real time), and a
// driver for its calls.
func launchOnClock(ctx context.Context, t *labs.Trial, changes map[string]any) (labs.Target, *driver, error) {
	clock := t.Timeline(clockStart)
	tg, err := t.Start(ctx, changes)
	if err != nil {
		return nil, nil, err
	}
	d := &driver{tg: tg, clock: clock, changed: make(chan struct{})}
	if clock.Manual() {
		w, err := readWaits(ctx, tg, nil)
		if err != nil {
			return nil, nil, err
		}
		if w.Clock != "manual" {
			return nil, nil, fmt.Errorf("breaker lab: the target does not run on the check's clock (GET /waits says %q)", w.Clock)
		}
	}
	return tg, d, nil
}

// start runs fn (one or more calls on the target, in order) as a call
// the driver waits for.
func (d *driver) start(fn func()) {
	d.mu.Lock()
	d.running++
	d.mu.Unlock()
	go func() {
		defer func() {
			d.mu.Lock()
			d.running--
			close(d.changed)
			d.changed = make(chan struct{})
			d.mu.Unlock()
		}()
		fn()
	}()
}

// calls counts the calls started and not yet ended, with a channel closed
// when the next one ends.
func (d *driver) calls() (running int, ended <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.running, d.changed
}

// inFlight counts the calls started and not yet ended.
func (d *driver) inFlight() int {
	n, _ := d.calls()
	return n
}

// settle lets the calls run until none is running, or all wait past limit
// (zero: no limit; the clock is then at or before limit), or as soon as
// enough (when set) says so.
func (d *driver) settle(ctx context.Context, limit time.Time, enough func(running int) bool) error {
	if !d.clock.Manual() {
		return d.settleReal(ctx, limit, enough)
	}
	stuck := time.NewTimer(backstop)
	defer stuck.Stop()
	for {
		running, ended := d.calls()
		if running == 0 || (enough != nil && enough(running)) {
			return nil
		}
		w, err := readWaits(ctx, d.tg, nil)
		if err != nil {
			return err
		}
		// Only the driver starts calls, so running cannot grow meanwhile:
		// as many waits as calls means every call is waiting.
		if w.Waiting == running && w.NextWake != nil {
			if !limit.IsZero() && w.NextWake.After(limit) {
				return nil
			}
			if err := d.clock.AdvanceTo(ctx, *w.NextWake); err != nil {
				return err
			}
			continue
		}
		moved, err := d.awaitChange(ctx, ended, w.Version, stuck.C)
		if err != nil {
			return err
		}
		if moved {
			stuck.Reset(backstop)
		}
	}
}

// awaitChange returns when a call ends or the target's waits move on from
// version (moved), or when the target has held its answer as long as it
// does without either (not moved).
func (d *driver) awaitChange(ctx context.Context, ended <-chan struct{}, version uint64, stuck <-chan time.Time) (moved bool, err error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		w   WaitsView
		err error
	}
	waits := make(chan answer, 1)
	go func() {
		w, err := readWaits(wctx, d.tg, &version)
		waits <- answer{w, err}
	}()
	select {
	case <-ended:
		return true, nil
	case a := <-waits:
		return a.err == nil && a.w.Version != version, a.err
	case <-ctx.Done():
		return false, ctx.Err()
	case <-stuck:
		return false, errors.New("the breaker lab's calls made no progress for 30 s (a backstop for a stuck instance)")
	}
}

// settleReal is settle on real time: the calls run while time passes.
func (d *driver) settleReal(ctx context.Context, limit time.Time, enough func(running int) bool) error {
	var until <-chan time.Time
	if !limit.IsZero() {
		t := time.NewTimer(time.Until(limit))
		defer t.Stop()
		until = t.C
	}
	for {
		running, ended := d.calls()
		if running == 0 || (enough != nil && enough(running)) {
			return nil
		}
		select {
		case <-ended:
		case <-until:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// advanceTo runs the calls up to time at and moves the clock there (on
// real time: waits until then).
func (d *driver) advanceTo(ctx context.Context, at time.Time) error {
	if err := d.settle(ctx, at, nil); err != nil {
		return err
	}
	return d.clock.AdvanceTo(ctx, at) // every call still running waits past at
}

// now is the time the target decides by.
func (d *driver) now() time.Time { return d.clock.Now() }

// post makes one call and runs it to its end.
func (d *driver) post(ctx context.Context) (call, error) {
	var c call
	var err error
	start := d.clock.Now()
	d.start(func() { c, err = postCall(ctx, d.tg) })
	if serr := d.settle(ctx, time.Time{}, nil); serr != nil {
		return call{}, serr
	}
	// On the check's clock, the clock moved only while this call waited.
	c.Held = d.clock.Now().Sub(start)
	return c, err
}

// postAll makes n calls at once and runs them all to their ends.
func (d *driver) postAll(ctx context.Context, n int) ([]call, error) {
	out := make([]call, n)
	errs := make([]error, n)
	gate := make(chan struct{})
	for i := range n {
		d.start(func() {
			<-gate
			out[i], errs[i] = postCall(ctx, d.tg)
		})
	}
	close(gate)
	if err := d.settle(ctx, time.Time{}, nil); err != nil {
		return nil, err
	}
	return out, errors.Join(errs...)
}
