package breaker

import (
	"context"
	"net/http"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// afterProbe is how many calls checkProbeOutcome sends once a good trial
// call has closed the breaker.
const afterProbe = 5

// checkProbeOutcome lets a trial call fail, which must reopen the breaker,
// then lets one succeed, which must close it.
func checkProbeOutcome(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, d, err := launchOnClock(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	at, failed, opened, err := openBreaker(ctx, tg, d)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	if !opened {
		return labs.Fail("%s There was no trial call to judge.", neverOpened(tg.Design(), failed))
	}
	reopened, o, err := badProbeReopens(ctx, tg, d, at)
	if err != nil || o != nil {
		return outcomeOr(o, err)
	}
	s3, o, err := goodProbeCloses(ctx, tg, d, reopened)
	if err != nil || o != nil {
		return outcomeOr(o, err)
	}
	for range afterProbe {
		c, err := d.post(ctx)
		if err != nil {
			return labs.OutcomeOf(err)
		}
		if c.Status != http.StatusOK {
			return labs.Fail("After the good trial call closed the breaker, a call answered %d (%s); a closed breaker lets calls reach a healthy provider.",
				c.Status, outcomes(c.CallResult))
		}
	}
	s4, err := readState(ctx, tg)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	return labs.Pass("A failed trial call reopened the breaker (the next call failed fast, nothing reached the provider); 1.2 s later a successful trial call closed it, and the next %d calls put %d calls on the provider and succeeded.",
		afterProbe, s4.DownstreamCalls-s3.DownstreamCalls)
}

// badProbeReopens makes a trial call 1.2 s after the breaker opened at at,
// with the provider still down: it must reach the provider, reopen the
// breaker, and the next call must fail fast. It gives when the breaker
// reopened, or the failing outcome.
func badProbeReopens(ctx context.Context, tg labs.Target, d *driver, at time.Time) (reopened time.Time, o *labs.Outcome, err error) {
	if err := d.advanceTo(ctx, at.Add(probeAt)); err != nil {
		return reopened, nil, err
	}
	s0, err := readState(ctx, tg)
	if err != nil {
		return reopened, nil, err
	}
	bad, err := d.post(ctx)
	if err != nil {
		return reopened, nil, err
	}
	s1, err := readState(ctx, tg)
	if err != nil {
		return reopened, nil, err
	}
	var f labs.Outcome
	switch {
	case s1.DownstreamCalls == s0.DownstreamCalls:
		f = labs.Fail("%.1f s after the breaker opened, a call was still failed fast (%d) with no trial call; the card probes after 1 s%s",
			probeAt.Seconds(), bad.Status, or(mention(tg.Design(), ", and %s waits longer.", "open_timeout_ms"), "."))
		return reopened, &f, nil
	case s1.State != Open:
		f = labs.Fail("The trial call failed (%s) but the breaker is %s afterwards; a failed trial call must reopen it.", outcomes(bad.CallResult), s1.State)
		return reopened, &f, nil
	}
	after, err := d.post(ctx)
	if err != nil {
		return reopened, nil, err
	}
	s2, err := readState(ctx, tg)
	if err != nil {
		return reopened, nil, err
	}
	if after.Status != http.StatusServiceUnavailable || s2.DownstreamCalls != s1.DownstreamCalls {
		f = labs.Fail("After the failed trial call the breaker said open, yet the next call answered %d and %s the provider; it must fail fast again.",
			after.Status, count(s2.DownstreamCalls-s1.DownstreamCalls, "call reached", "calls reached"))
		return reopened, &f, nil
	}
	reopened, _ = lastOpen(s2)
	return reopened, nil, nil
}

// goodProbeCloses lets the provider recover and makes a trial call 1.2 s
// after the breaker reopened: it must succeed and close the breaker. It
// gives the state then, or the failing outcome.
func goodProbeCloses(ctx context.Context, tg labs.Target, d *driver, reopened time.Time) (StateView, *labs.Outcome, error) {
	var s3 StateView
	if err := putDownstream(ctx, tg, map[string]any{"outage": false}); err != nil {
		return s3, nil, err
	}
	if err := d.advanceTo(ctx, reopened.Add(probeAt)); err != nil {
		return s3, nil, err
	}
	good, err := d.post(ctx)
	if err != nil {
		return s3, nil, err
	}
	if s3, err = readState(ctx, tg); err != nil {
		return s3, nil, err
	}
	var f labs.Outcome
	switch {
	case good.Status != http.StatusOK:
		f = labs.Fail("The provider recovered, but %.1f s after the breaker reopened the call answered %d (%s) instead of making a trial call that succeeds.",
			probeAt.Seconds(), good.Status, outcomes(good.CallResult))
	case s3.State != Closed:
		f = labs.Fail("The trial call succeeded but the breaker is %s afterwards, not closed: %sthe card closes it on the first.",
			s3.State, mention(tg.Design(), "%s makes it wait for more good trial calls, and ", "half_open_probes"))
	default:
		return s3, nil, nil
	}
	return s3, &f, nil
}
