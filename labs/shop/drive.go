package shop

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// epoch is where a check's clock starts: a fixed time, so the provider's
// random choices (seeded from the clock) and every timestamp are the same
// at each grading.
var epoch = time.Date(2025, time.January, 6, 9, 0, 0, 0, time.UTC)

// realPoll is how often a check looks at a shop on real time (a service)
// while it waits for it.
const realPoll = 20 * time.Millisecond

// clockedShop is a check's shop: the target it reaches over HTTP and the
// time it runs on. On a manual clock (a built-in design) the shop moves
// the clock itself when the check asks it to (POST clock/step), and only
// once every service is waiting, so work takes no time on it and a check
// counts the waits a design makes, never the machine's speed. On real time
// (a service) the check waits and looks again instead.
type clockedShop struct {
	tg labs.Target
	tl labs.Timeline
	// cfg is the design the target was built from; nil for a service.
	cfg *config
	// at is what the shop said when the check last looked: its clock and
	// its order counters, at rest on a manual clock.
	at ClockView
}

// launchClocked starts the design with changes, on the check's manual
// clock when the target can run on one.
func launchClocked(ctx context.Context, t *labs.Trial, changes map[string]any) (*clockedShop, error) {
	tl := t.Timeline(epoch)
	// The customer's card is part of the world a check sets, not a design
	// choice: it is accepted unless the check says otherwise.
	if _, set := changes["card_declines"]; !set && changes != nil {
		changes["card_declines"] = false
	}
	tg, err := t.Start(ctx, changes)
	if err != nil {
		return nil, err
	}
	s := &clockedShop{tg: tg, tl: tl}
	if d := tg.Design(); d != nil {
		c := configOf(d)
		s.cfg = &c
	}
	return s, nil
}

func (s *clockedShop) now() time.Time { return s.tl.Now() }

// since is how long ago t was on the shop's clock.
func (s *clockedShop) since(t time.Time) time.Duration { return s.now().Sub(t) }

// rest waits until the shop has done everything it can at the current
// instant (GET clock) and notes its counters. On real time it only reads
// the counters, from GET stats.
func (s *clockedShop) rest(ctx context.Context) error {
	if !s.tl.Manual() {
		st, err := labs.CallJSON[State](ctx, s.tg, http.MethodGet, "/stats", nil, http.StatusOK)
		s.at = ClockView{Now: s.now(), Orders: OrderCounts{Placed: st.Orders.Placed, Confirmed: st.Orders.Confirmed, Cancelled: st.Orders.Cancelled}}
		return err
	}
	v, err := labs.CallJSON[ClockView](ctx, s.tg, http.MethodGet, "/clock", nil, http.StatusOK)
	if err == nil {
		s.at = v
	}
	return err
}

// step lets the shop come to rest, moves the clock to the next timer due
// by limit and lets the shop do what that timer wakes (POST clock/step).
// It reports false when no timer is due by limit; the clock then stands at
// limit. On real time it waits a little, up to limit.
func (s *clockedShop) step(ctx context.Context, limit time.Time) (bool, error) {
	if !s.tl.Manual() {
		wait := min(realPoll, limit.Sub(s.now()))
		if wait <= 0 {
			return false, nil
		}
		return true, s.tl.AdvanceTo(ctx, s.now().Add(wait))
	}
	v, err := labs.CallJSON[ClockView](ctx, s.tg, http.MethodPost, "/clock/step?until="+url.QueryEscape(limit.Format(time.RFC3339Nano)), nil, http.StatusOK)
	if err != nil {
		return false, err
	}
	s.at = v
	return v.Fired, nil
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
			if err := s.rest(ctx); err != nil {
				return false, err
			}
			return done()
		}
	}
}

// settled says whether every order placed has settled, by the counters
// the shop gave at its last rest: a cheap test before asking its routes.
func (s *clockedShop) settled() (bool, error) { return s.at.Orders.Unsettled() == 0, nil }

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
		if s.at.Orders.Unsettled() > 0 {
			return false, nil
		}
		if !asked.IsZero() && s.since(asked) < askEvery {
			return false, nil
		}
		asked = s.now()
		inv, err := getInvariant(ctx, s.tg)
		return inv.Quiescent, err
	}
}
