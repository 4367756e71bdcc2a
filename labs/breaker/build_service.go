package breaker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// This file is the build checks' side of the contract: a learner's
// service launched beside a Provider of its own, and the calls the checks
// make to it, each matched with the calls it put on the provider.

// svc is a learner's service under a check, with the dependency it calls.
type svc struct {
	tg  labs.Target
	dep *Provider
}

// svcCallWait bounds how long a check waits for one answer: far beyond
// anything the contract allows (1 s) and any stall of a busy grading
// machine, so it only ends a call that would not be answered.
const svcCallWait = 15 * time.Second

// errNeedsService is how the build checks end on a design: they judge a
// service reached through a launcher, whose dependency they control.
var errNeedsService = fmt.Errorf("%w: the breaker-build checks judge a learner's service started by a launcher", labs.ErrEnvironment)

// launchService starts the service with dep as its dependency (the
// launcher serves it at $DOWNSTREAM_URL).
func launchService(ctx context.Context, t *labs.Trial, dep *Provider) (*svc, error) {
	if t.Can(labs.ManualTime) {
		return nil, errNeedsService
	}
	tg, err := t.Start(ctx, map[string]any{"downstream": http.Handler(dep)})
	if err != nil {
		return nil, err
	}
	return &svc{tg: tg, dep: dep}, nil
}

// svcCall is one POST /call as a check saw it.
type svcCall struct {
	Status int
	// Quote is the id of the quote a 200 carried ("" when none).
	Quote string
	// Calls are the calls the provider received while this one ran (its
	// own attempts when calls go one at a time).
	Calls []ProviderCall
	// Sent is when it was sent; Took how long the answer took on the
	// grading machine.
	Sent time.Time
	Took time.Duration
	// NoAnswer: no answer came within the wait it was given.
	NoAnswer bool
}

// fastFail reports a call answered 503 without reaching the dependency.
func (c svcCall) fastFail() bool {
	return c.Status == http.StatusServiceUnavailable && len(c.Calls) == 0
}

// post sends POST /call and waits at most wait for the answer; the calls
// the provider received meanwhile are the call's when calls go one at a
// time.
func (s *svc) post(ctx context.Context, wait time.Duration) (svcCall, error) {
	before := s.dep.Count()
	c := svcCall{Sent: time.Now()}
	cctx, cancel := context.WithTimeout(ctx, wait)
	r, err := labs.Call(cctx, s.tg, http.MethodPost, "/call", nil)
	cancel()
	c.Took = time.Since(c.Sent)
	c.Calls = s.dep.Calls()[before:]
	switch {
	case err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		c.NoAnswer = true
		return c, nil
	case err != nil:
		return c, err
	}
	c.Status = r.Status
	if r.Status == http.StatusOK {
		var body struct {
			Quote struct {
				ID string `json:"id"`
			} `json:"quote"`
		}
		if json.Unmarshal(r.Body, &body) == nil {
			c.Quote = body.Quote.ID
		}
	}
	return c, nil
}

// healthz times GET /healthz.
func (s *svc) healthz(ctx context.Context) (time.Duration, error) {
	t0 := time.Now()
	r, err := labs.Call(ctx, s.tg, http.MethodGet, "/healthz", nil)
	took := time.Since(t0)
	if err == nil && r.Status != http.StatusOK {
		err = &labs.RouteError{What: "GET /healthz", Reply: r}
	}
	return took, err
}

// opened is how a check saw the breaker open.
type opened struct {
	// Failure is the provider's call whose failure opened it: a correct
	// breaker opened after it was answered.
	Failure ProviderCall
	// Seen is when the check got the first 503 without a call on the
	// provider: the breaker was open by then.
	Seen time.Time
	// Calls is how many client calls it took.
	Calls int
}

// svcOpenCalls bounds the calls openService makes: far more than the
// threshold's worth, even when each one makes a retry.
const svcOpenCalls = 25

// openService sends calls one at a time to a failing provider until one
// is answered 503 without reaching it. ok is false when none was; calls
// lists what was seen either way.
func openService(ctx context.Context, s *svc) (o opened, calls []svcCall, ok bool, err error) {
	for i := range svcOpenCalls {
		c, err := s.post(ctx, svcCallWait)
		if err != nil {
			return o, calls, false, err
		}
		if c.NoAnswer {
			return o, calls, false, errNoAnswer(c)
		}
		calls = append(calls, c)
		// A 504 may come from an attempt cut before it reached the
		// dependency: on a busy machine the dependency can be that slow
		// to take a call.
		if len(c.Calls) == 0 && c.Status != http.StatusServiceUnavailable && c.Status != http.StatusGatewayTimeout {
			return o, calls, false, fmt.Errorf("POST /call was answered %d without calling the dependency; "+
				"a call either reaches the dependency (504 when it is cut at the timeout) or, while the breaker is open, is answered 503", c.Status)
		}
		if !c.fastFail() {
			continue
		}
		all := s.dep.Calls()
		if len(all) == 0 {
			return o, calls, false, fmt.Errorf("POST /call answered 503 before a single call reached the dependency: a closed breaker lets calls through")
		}
		return opened{Failure: all[len(all)-1], Seen: time.Now(), Calls: i + 1}, calls, true, nil
	}
	return o, calls, false, nil
}

// errNoAnswer is a call the service never answered: it failed the check.
func errNoAnswer(c svcCall) error {
	return fmt.Errorf("POST /call got no answer within %.0f s (%s)", svcCallWait.Seconds(), reachedText(c))
}

// reachedText says how many calls reached the dependency during c.
func reachedText(c svcCall) string {
	return count(int64(len(c.Calls)), "call reached the dependency", "calls reached the dependency")
}

// failedInARow counts the provider's failed calls at the end of calls.
func failedInARow(calls []ProviderCall) int {
	n := 0
	for _, c := range slices.Backward(calls) {
		if c.Status == http.StatusOK {
			break
		}
		n++
	}
	return n
}

// sleepUntil waits until t, or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) error { return labs.RealTime{}.AdvanceTo(ctx, t) }

// since is how long after from t was, in seconds.
func since(from, t time.Time) float64 { return t.Sub(from).Seconds() }
