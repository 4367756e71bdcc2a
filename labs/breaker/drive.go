package breaker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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

// driver runs a check's calls on an instance whose clock the check owns.
// It moves the clock only when every call it runs is waiting on it (on the
// provider, a call timeout or a backoff pause), and then only to the moment
// the first of them wakes. So each call sees the same times however slowly
// or quickly the machine runs it, and a verdict about time is a property
// of the design.
type driver struct {
	clock *labs.ManualClock
	waits *waitLog

	mu      sync.Mutex
	running int
	changed chan struct{} // closed and replaced when a call ends
}

// launchOnClock gives the check a manual clock and an instance of the design that
// decides by it, with changes applied.
func launchOnClock(ctx context.Context, t *labs.Trial, changes map[string]any) (*labs.Probe, *driver, error) {
	clk := labs.NewManualClock(clockStart)
	t.Clock = clk
	p, err := t.Launch(ctx, changes)
	if err != nil {
		return nil, nil, err
	}
	inst, ok := p.Instance.(*instance)
	if !ok || inst.waits == nil {
		return nil, nil, fmt.Errorf("breaker lab: instance %T does not run on the check's clock", p.Instance)
	}
	return p, &driver{clock: clk, waits: inst.waits, changed: make(chan struct{})}, nil
}

// start runs fn (one or more calls on the instance, in order) as a call
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

// inFlight counts the calls started and not yet ended.
func (d *driver) inFlight() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.running
}

// settle lets the calls run, moving the clock each time all of them are
// waiting to the moment the first one wakes. It returns when none is
// running, or when all wait past limit (zero: no limit; the clock is then
// at or before limit), or as soon as enough (when set) says so.
func (d *driver) settle(ctx context.Context, limit time.Time, enough func(running int) bool) error {
	stuck := time.NewTimer(backstop)
	defer stuck.Stop()
	for {
		d.mu.Lock()
		running, ended := d.running, d.changed
		d.mu.Unlock()
		if running == 0 || (enough != nil && enough(running)) {
			return nil
		}
		// Only the driver starts calls, so running cannot grow meanwhile:
		// as many waits as calls means every call is waiting.
		asleep, next, woke := d.waits.asleep(d.clock.Now())
		if asleep == running {
			if !limit.IsZero() && next.After(limit) {
				return nil
			}
			d.clock.Set(next)
			continue
		}
		select {
		case <-ended:
		case <-woke:
		case <-ctx.Done():
			return ctx.Err()
		case <-stuck.C:
			return errors.New("the breaker lab's calls made no progress for 30 s (a backstop for a stuck instance)")
		}
		stuck.Reset(backstop)
	}
}

// advanceTo runs the calls up to time at and sets the clock there.
func (d *driver) advanceTo(ctx context.Context, at time.Time) error {
	if err := d.settle(ctx, at, nil); err != nil {
		return err
	}
	d.clock.Set(at) // every call still running waits past at
	return nil
}

// call is one POST call as a check saw it.
type call struct {
	CallResult
	// Held is how long the caller waited, on the check's clock.
	Held time.Duration
	// Real is how long it took on the grading machine: reported, never
	// judged.
	Real time.Duration
}

// postCall sends POST call and decodes the answer.
func postCall(ctx context.Context, p *labs.Probe) (call, error) {
	t0 := time.Now()
	r := p.Do(ctx, http.MethodPost, "call", nil)
	took := time.Since(t0)
	var c CallResult
	if err := r.JSON(&c); err != nil {
		return call{}, fmt.Errorf("POST call answered %d with %q: %w", r.Status, r.Body, err)
	}
	c.Status = r.Status
	return call{CallResult: c, Real: took}, nil
}

// post makes one call and runs it to its end on the check's clock.
func (d *driver) post(ctx context.Context, p *labs.Probe) (call, error) {
	var c call
	var err error
	start := d.clock.Now()
	d.start(func() { c, err = postCall(ctx, p) })
	if serr := d.settle(ctx, time.Time{}, nil); serr != nil {
		return call{}, serr
	}
	// The clock moved only while this call waited.
	c.Held = d.clock.Now().Sub(start)
	return c, err
}

// postAll makes n calls at once and runs them all to their ends.
func (d *driver) postAll(ctx context.Context, p *labs.Probe, n int) ([]call, error) {
	out := make([]call, n)
	errs := make([]error, n)
	gate := make(chan struct{})
	for i := range n {
		d.start(func() {
			<-gate
			out[i], errs[i] = postCall(ctx, p)
		})
	}
	close(gate)
	if err := d.settle(ctx, time.Time{}, nil); err != nil {
		return nil, err
	}
	return out, errors.Join(errs...)
}
