package breaker

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// maxOpenAttempts bounds how many failed calls a check makes to open the
// breaker before it says the design does not open.
const maxOpenAttempts = 60

// outage is an instant provider that fails every call.
var outage = map[string]any{"latency_ms": 0, "error_rate": 0, "outage": true}

// openBreaker starts an outage on an instant provider and calls until the
// breaker opens. It returns when it opened and how many calls reached the
// provider; opened is false when it was still closed after maxOpenAttempts
// failed attempts.
func openBreaker(ctx context.Context, tg labs.Target, d *driver) (at time.Time, failed int64, opened bool, err error) {
	if err := putDownstream(ctx, tg, outage); err != nil {
		return at, 0, false, err
	}
	s0, err := readState(ctx, tg)
	if err != nil {
		return at, 0, false, err
	}
	at, failed, _, opened, err = failUntilOpen(ctx, tg, d, s0.DownstreamCalls)
	return at, failed, opened, err
}

// failUntilOpen calls a failing provider, one call at a time, until the
// breaker has opened (at) or maxOpenAttempts calls reached the provider
// since it had received base. It gives the calls that reached it since
// base and the last state read.
func failUntilOpen(ctx context.Context, tg labs.Target, d *driver, base int64) (at time.Time, failed int64, s StateView, opened bool, err error) {
	for range maxOpenAttempts {
		if _, err := d.post(ctx); err != nil {
			return at, failed, s, false, err
		}
		if s, err = readState(ctx, tg); err != nil {
			return at, failed, s, false, err
		}
		failed = s.DownstreamCalls - base
		if when, ok := firstOpen(s); ok {
			return when, failed, s, true, nil
		}
		if failed >= maxOpenAttempts {
			break
		}
	}
	return at, failed, s, false, nil
}

// neverOpened explains a breaker that did not open on a run of failures.
func neverOpened(d labs.Design, failed int64) string {
	why := mention(d, " (%s)", "failure_threshold")
	if d.Float("failure_rate") > 0 {
		why = fmt.Sprintf(" (failure_rate %g with min_calls %d)", d.Float("failure_rate"), d.Int("min_calls"))
	}
	return fmt.Sprintf("The breaker was still closed after %d consecutive failed calls to the provider%s, so it never stopped calling it; the card opens it after %d.",
		failed, why, reqThreshold)
}

// checkOpensAtThreshold counts the failed calls that reach the provider
// before the breaker opens: up to 4, then a success that must leave it
// closed, then a fresh run of failures that must open it on the 5th.
// Calls are sequential, and a retry goes through the breaker, so nothing
// reaches the provider after the call that opens it.
func checkOpensAtThreshold(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, d, err := launchOnClock(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	if err := putDownstream(ctx, tg, outage); err != nil {
		return labs.OutcomeOf(err)
	}
	k, opened, err := failFewerThanThreshold(ctx, tg, d)
	switch {
	case err != nil:
		return labs.OutcomeOf(err)
	case opened:
		return openedInFirstRun(k, tg.Design())
	}
	base, o, err := successKeepsClosed(ctx, tg, d, k)
	if err != nil || o != nil {
		return outcomeOr(o, err)
	}
	if err := putDownstream(ctx, tg, map[string]any{"outage": true}); err != nil {
		return labs.OutcomeOf(err)
	}
	_, run, _, opened, err := failUntilOpen(ctx, tg, d, base)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	return secondRunVerdict(k, run, opened, tg.Design())
}

// outcomeOr is o when a step decided the check, else err's outcome.
func outcomeOr(o *labs.Outcome, err error) labs.Outcome {
	if o != nil {
		return *o
	}
	return labs.OutcomeOf(err)
}

// failFewerThanThreshold makes failed calls, one at a time, until 4 have
// reached the provider, or the breaker opened. A call may bring retries
// along, so it stops short of 4 when the next call could take the run
// past it. k is how many reached the provider.
func failFewerThanThreshold(ctx context.Context, tg labs.Target, d *driver) (k int64, opened bool, err error) {
	retries := maxRetries(tg.Design())
	for k < reqThreshold-1 {
		s, err := readState(ctx, tg)
		if err != nil {
			return k, false, err
		}
		if k > 0 && k+1+int64(retriesAllowed(s.RetryBudget, retries)) > reqThreshold-1 {
			break
		}
		if _, err := d.post(ctx); err != nil {
			return k, false, err
		}
		if s, err = readState(ctx, tg); err != nil {
			return k, false, err
		}
		k = s.DownstreamCalls
		if _, ok := firstOpen(s); ok {
			return k, true, nil
		}
	}
	return k, false, nil
}

// openedInFirstRun judges a breaker that opened within the first run of
// failures.
func openedInFirstRun(k int64, d labs.Design) labs.Outcome {
	switch {
	case k < reqThreshold:
		return labs.Fail("The breaker opened after only %s to the provider; the card keeps calling it until the %dth%s.",
			count(k, "consecutive failed call", "consecutive failed calls"), reqThreshold, mention(d, " (%s)", "failure_threshold"))
	case k > reqThreshold:
		return labs.Fail("The breaker needed %d consecutive failed calls to the provider before it opened; the card stops calling after %d%s.",
			k, reqThreshold, mention(d, " (%s)", "failure_threshold"))
	}
	// Retries took the first calls straight past 4: the reset by a
	// success cannot be isolated, but the threshold itself was met.
	return labs.Pass("The breaker opened on the 5th consecutive failed call and no further call reached the provider (retries took the first calls straight past 4 failures, so the reset by a success was not tried).")
}

// successKeepsClosed lets the provider recover for one call, which must
// reach it, succeed and leave the breaker closed. It gives how many calls
// the provider had received then, or the failing outcome.
func successKeepsClosed(ctx context.Context, tg labs.Target, d *driver, k int64) (base int64, o *labs.Outcome, err error) {
	if err := putDownstream(ctx, tg, map[string]any{"outage": false}); err != nil {
		return 0, nil, err
	}
	c, err := d.post(ctx)
	if err != nil {
		return 0, nil, err
	}
	s, err := readState(ctx, tg)
	if err != nil {
		return 0, nil, err
	}
	if c.Status != http.StatusOK {
		f := labs.Fail("After %d failed calls the provider recovered, but the next call answered %d (%s) instead of reaching it and succeeding; the breaker is %s.",
			k, c.Status, outcomes(c.CallResult), s.State)
		return 0, &f, nil
	}
	if _, ok := firstOpen(s); ok {
		window := ""
		if d := tg.Design(); d != nil {
			window = fmt.Sprintf(" (failure_rate %g, min_calls %d)", d.Float("failure_rate"), d.Int("min_calls"))
		}
		f := labs.Fail("The breaker opened on a successful call that followed %d failures: it counts failures over a window%s rather than %d consecutive failures, so it stops calling a provider that is answering.",
			k, window, reqThreshold)
		return 0, &f, nil
	}
	return s.DownstreamCalls, nil, nil
}

// secondRunVerdict judges the run of failures after the success: run
// calls reached the provider, and the breaker opened or not.
func secondRunVerdict(k, run int64, opened bool, d labs.Design) labs.Outcome {
	if !opened {
		return labs.Fail("After %d failed calls and a success it stayed closed, as it should. %s", k, neverOpened(d, run))
	}
	switch {
	case run < reqThreshold:
		return labs.Fail("After %d failed calls and a success it stayed closed, but the next run of failures opened it after only %s; the card opens it on the %dth%s.",
			k, count(run, "failed call", "failed calls"), reqThreshold, mention(d, " (%s)", "failure_threshold"))
	case run > reqThreshold:
		return labs.Fail("The breaker needed %d consecutive failed calls to the provider before it opened; the card stops calling after %d%s.",
			run, reqThreshold, mention(d, " (%s)", "failure_threshold"))
	}
	return labs.Pass("After %d failed calls and a success the breaker stayed closed; the next run of failures opened it on the %dth failed call, and no further call reached the provider.",
		k, reqThreshold)
}
