package shop

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

// restBackstop bounds, in real time, how long the shop waits for its own
// work of one instant of a manual clock (at most the 200 orders of the
// concurrency check, which take seconds). It never decides a verdict: the
// work of one instant is finite for every design, so reaching it means
// the grading machine or its databases failed, and a check says the
// environment failed. The grader's own time limit usually ends such a
// grading first.
const restBackstop = 5 * time.Minute

// ClockView is GET clock and POST clock/step: the time the shop decides
// by, and its order counters, read once it is at rest.
type ClockView struct {
	Now time.Time `json:"now"`
	// Manual is true on a grader's manual clock, which moves only when
	// POST clock/step moves it; false on real time.
	Manual bool `json:"manual"`
	// Fired (POST clock/step) is true when a timer was due by until and
	// the clock stopped at it, false when it moved to until.
	Fired  bool        `json:"fired"`
	Orders OrderCounts `json:"orders"`
}

// OrderCounts count the orders since launch, from the shop's counters.
type OrderCounts struct {
	Placed    int64 `json:"placed"`
	Confirmed int64 `json:"confirmed"`
	Cancelled int64 `json:"cancelled"`
}

// Unsettled are the orders placed and not yet confirmed or cancelled.
func (c OrderCounts) Unsettled() int64 { return c.Placed - c.Confirmed - c.Cancelled }

func (in *instance) orderCounts() OrderCounts {
	return OrderCounts{Placed: in.placed.Load(), Confirmed: in.confirmed.Load(), Cancelled: in.cancelled.Load()}
}

// clockView reads the clock and the counters.
func (in *instance) clockView(fired bool) ClockView {
	return ClockView{Now: in.pace.now(), Manual: in.pace.manual != nil, Fired: fired, Orders: in.orderCounts()}
}

// rest waits until the shop has done everything it can at the current
// instant of a manual clock: every goroutine waits for the clock or for
// work. On real time it returns at once.
func (in *instance) rest(ctx context.Context) error {
	err := in.pace.rest(ctx, restBackstop)
	var bs errBackstop
	if errors.Is(err, errAccount) || errors.As(err, &bs) {
		return labhttp.Errorf(http.StatusInternalServerError, labhttp.CodeInternal, "The shop could not come to rest: %s.", err)
	}
	return err
}

// step lets the shop come to rest, then moves the clock to the next timer
// due by limit and lets the shop do what that timer wakes. It reports
// false when no timer is due by limit; the clock then stands at limit.
func (in *instance) step(ctx context.Context, limit time.Time) (bool, error) {
	in.clockMu.Lock()
	defer in.clockMu.Unlock()
	if err := in.rest(ctx); err != nil {
		return false, err
	}
	next, ok := in.pace.next()
	if !ok || next.After(limit) {
		in.pace.advance(limit)
		return false, in.rest(ctx)
	}
	in.pace.advance(next)
	return true, in.rest(ctx)
}

func (in *instance) handleClock(w http.ResponseWriter, r *http.Request) error {
	if err := in.rest(r.Context()); err != nil {
		return err
	}
	labhttp.WriteJSON(w, http.StatusOK, in.clockView(false))
	return nil
}

func (in *instance) handleClockStep(w http.ResponseWriter, r *http.Request) error {
	if in.pace.manual == nil {
		return labhttp.Conflict("clock", "This shop runs on real time; only a grader's manual clock is stepped.")
	}
	q, err := labhttp.Query(r)
	if err != nil {
		return err
	}
	until, err := time.Parse(time.RFC3339Nano, q.Get("until"))
	if err != nil {
		return labhttp.BadRequest("until", "until must be a time in RFC 3339 (2025-01-06T09:00:01.5Z), not %q.", clip(q.Get("until"), 40))
	}
	fired, err := in.step(r.Context(), until)
	if err != nil {
		return err
	}
	labhttp.WriteJSON(w, http.StatusOK, in.clockView(fired))
	return nil
}
