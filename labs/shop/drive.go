package shop

import (
	"context"
	"fmt"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// epoch is where a check's clock starts: a fixed time, so the provider's
// random choices (seeded from the clock) and every timestamp are the same
// at each grading.
var epoch = time.Date(2025, time.January, 6, 9, 0, 0, 0, time.UTC)

// restBackstop bounds, in real time, how long a check waits for the shop
// to finish the work of one instant of its clock (at most the 200 orders
// of the concurrency check, which take seconds). It never decides a
// verdict: the work of one instant is finite for every design, so reaching
// it means the grading machine or its databases failed, and the check says
// the environment failed. The grader's own time limit usually ends such a
// grading first.
const restBackstop = 5 * time.Minute

// clockedShop is a check's shop on a manual clock that the check moves.
type clockedShop struct {
	p     *labs.Probe
	in    *instance
	clock *labs.ManualClock
}

// launchClocked launches the design with changes on a manual clock.
func launchClocked(ctx context.Context, t *labs.Trial, changes map[string]any) (*clockedShop, error) {
	clock := labs.NewManualClock(epoch)
	t.Clock = clock
	p, err := t.Launch(ctx, changes)
	if err != nil {
		return nil, err
	}
	in, ok := p.Instance.(*instance)
	if !ok {
		return nil, fmt.Errorf("shop: launched a %T, not a shop", p.Instance)
	}
	return &clockedShop{p: p, in: in, clock: clock}, nil
}

func (s *clockedShop) now() time.Time { return s.clock.Now() }

// since is how long ago t was on the shop's clock.
func (s *clockedShop) since(t time.Time) time.Duration { return s.clock.Now().Sub(t) }

// rest waits until the shop has done everything it can at the current
// instant: every goroutine waits for its clock or for work.
func (s *clockedShop) rest(ctx context.Context) error { return s.in.pace.rest(ctx, restBackstop) }

// step lets the shop come to rest, then moves the clock to the next timer
// due by limit and lets the shop do what that timer wakes. It reports false
// when no timer is due by limit; the clock then stands at limit.
func (s *clockedShop) step(ctx context.Context, limit time.Time) (bool, error) {
	if err := s.rest(ctx); err != nil {
		return false, err
	}
	next, ok := s.in.pace.next()
	if !ok || next.After(limit) {
		s.in.pace.advance(limit)
		return false, s.rest(ctx)
	}
	s.in.pace.advance(next)
	return true, s.rest(ctx)
}

// advanceTo moves the clock to at, timer by timer.
func (s *clockedShop) advanceTo(ctx context.Context, at time.Time) error {
	for {
		moved, err := s.step(ctx, at)
		if err != nil || !moved {
			return err
		}
	}
}

// until moves the clock timer by timer until done holds (asked at rest,
// after every step) or the clock has moved limit; it reports whether done
// held. The limit is time on the shop's clock, so how far the shop gets
// within it does not depend on the machine.
func (s *clockedShop) until(ctx context.Context, limit time.Duration, done func() (bool, error)) (bool, error) {
	end := s.now().Add(limit)
	for {
		if err := s.rest(ctx); err != nil {
			return false, err
		}
		if ok, err := done(); err != nil || ok {
			return ok, err
		}
		moved, err := s.step(ctx, end)
		if err != nil {
			return false, err
		}
		if !moved {
			return done()
		}
	}
}

// unsettled counts the orders the shop has placed and not yet confirmed or
// cancelled, from its own counters: a cheap test before asking its routes.
func (s *clockedShop) unsettled() int64 {
	return s.in.placed.Load() - s.in.confirmed.Load() - s.in.cancelled.Load()
}

// settled says whether every order placed has settled.
func (s *clockedShop) settled() (bool, error) { return s.unsettled() == 0, nil }

// askEvery spaces out, on the shop's clock, the checks' questions to GET
// invariant while they wait for the shop to go quiet: it reads every
// stream, so asking at each of the many timer steps would cost real time
// for nothing.
const askEvery = 20 * time.Millisecond

// quiescent says whether every order has settled and nothing is in flight
// (GET invariant), which is when the stock must add up exactly.
func (s *clockedShop) quiescent(ctx context.Context) func() (bool, error) {
	var asked time.Time
	return func() (bool, error) {
		if s.unsettled() > 0 {
			return false, nil
		}
		if !asked.IsZero() && s.since(asked) < askEvery {
			return false, nil
		}
		asked = s.now()
		inv, err := getInvariant(ctx, s.p)
		return inv.Quiescent, err
	}
}
