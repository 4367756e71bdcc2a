package breaker

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The build exercise's checks of trial calls, timeouts and the retry
// budget.

// svcAfterClose is how many calls checkServiceProbes sends once a good
// trial call should have closed the breaker.
const svcAfterClose = 5

// checkServiceProbes: a failed trial call reopens the breaker; a good one
// closes it, and the service answers with the provider's quote.
func checkServiceProbes(ctx context.Context, t *labs.Trial) labs.Outcome {
	dep := NewProvider(0)
	dep.Script(alwaysFails)
	s, err := launchService(ctx, t, dep)
	if err != nil {
		return labs.Broken(err)
	}
	o, calls, ok, err := openService(ctx, s)
	if err != nil {
		return labs.Broken(err)
	}
	if !ok {
		return labs.Fail("%s There was no trial call to judge.", neverOpenedText(calls, dep))
	}
	reseen, why, err := badTrialReopens(ctx, s, o.Seen)
	if err != nil || why != "" {
		return orBroken(why, err)
	}
	if err := dep.Set(SettingsUpdate{}); err != nil { // healthy again
		return labs.Broken(err)
	}
	if why, err := goodTrialCloses(ctx, s, reseen); err != nil || why != "" {
		return orBroken(why, err)
	}
	return labs.Pass("A trial call to the failing dependency reopened the breaker (the next call was 503 without reaching it); %.1f s later a trial call to the recovered dependency answered 200 with its quote, and the next %d calls each reached it and answered 200.",
		svcProbeAfter.Seconds(), svcAfterClose)
}

// postOne sends one call that must be answered within svcCallWait.
func (s *svc) postOne(ctx context.Context) (svcCall, error) {
	c, err := s.post(ctx, svcCallWait)
	if err == nil && c.NoAnswer {
		err = errNoAnswer(c)
	}
	return c, err
}

// badTrialReopens makes a trial call svcProbeAfter after seen, with the
// provider failing: it must reach the provider, and the next call must be
// failed fast. It gives when that was seen, or why the check fails.
func badTrialReopens(ctx context.Context, s *svc, seen time.Time) (reseen time.Time, why string, err error) {
	if err := sleepUntil(ctx, seen.Add(svcProbeAfter)); err != nil {
		return reseen, "", err
	}
	bad, err := s.postOne(ctx)
	if err != nil {
		return reseen, "", err
	}
	if len(bad.Calls) == 0 {
		return reseen, fmt.Sprintf("%.1f s after the breaker was seen open, a call was still answered %d without reaching the dependency: no trial call. It must go half-open after 2 s (OPEN_MS).",
			svcProbeAfter.Seconds(), bad.Status), nil
	}
	after, err := s.postOne(ctx)
	if err != nil {
		return reseen, "", err
	}
	if !after.fastFail() {
		return reseen, fmt.Sprintf("The trial call failed at the dependency (your service answered %d), yet the next call was answered %d and %s; a failed trial call must reopen the breaker, so the next call is 503 without reaching the dependency.",
			bad.Status, after.Status, reachedText(after)), nil
	}
	return time.Now(), "", nil
}

// goodTrialCloses makes a trial call svcProbeAfter after reseen, with the
// provider healthy: it must answer 200 with the provider's quote, and
// svcAfterClose calls after it must reach the provider and answer 200.
func goodTrialCloses(ctx context.Context, s *svc, reseen time.Time) (why string, err error) {
	if err := sleepUntil(ctx, reseen.Add(svcProbeAfter)); err != nil {
		return "", err
	}
	good, err := s.postOne(ctx)
	switch {
	case err != nil:
		return "", err
	case len(good.Calls) == 0:
		return fmt.Sprintf("The dependency recovered, but %.1f s after the breaker reopened a call was answered %d without reaching it: there was no trial call after the failed one.",
			svcProbeAfter.Seconds(), good.Status), nil
	case good.Status != http.StatusOK:
		return fmt.Sprintf("The dependency recovered and answered the trial call, but your service answered %d instead of 200.", good.Status), nil
	case !slices.ContainsFunc(good.Calls, func(c ProviderCall) bool { return c.Status == http.StatusOK && QuoteID(c.N) == good.Quote }):
		return fmt.Sprintf("The trial call succeeded, but your service's 200 did not carry the dependency's quote (%q was seen); it answers {\"quote\": …} with the dependency's JSON as it came.",
			good.Quote), nil
	}
	for i := range svcAfterClose {
		c, err := s.postOne(ctx)
		if err != nil {
			return "", err
		}
		if c.Status != http.StatusOK || len(c.Calls) == 0 {
			return fmt.Sprintf("After a successful trial call, call %d was answered %d and %s: a successful trial call must close the breaker, so calls reach the healthy dependency again.",
				i+1, c.Status, reachedText(c)), nil
		}
	}
	return "", nil
}

// svcSlowCalls is how many calls checkServiceCutsSlowCalls makes to a
// hanging provider; fewer than the threshold, so the breaker stays closed.
const svcSlowCalls = 3

// checkServiceCutsSlowCalls: with the provider holding every call, each
// call is answered 504 within svcWaitJudged.
func checkServiceCutsSlowCalls(ctx context.Context, t *labs.Trial) labs.Outcome {
	dep := NewProvider(0)
	dep.Hang()
	defer dep.Release()
	s, err := launchService(ctx, t, dep)
	if err != nil {
		return labs.Broken(err)
	}
	var xs, took []float64
	limit := millis(svcWaitJudged)
	chart := func(o labs.Outcome) labs.Outcome {
		o.Chart = &labs.CheckChart{Title: "Time each caller waited, dependency hanging", XLabel: "call", YLabel: "ms on the grading machine", X: xs,
			Series: []labs.ChartSeries{{Name: "waited", Values: took}}, Limit: &limit}
		return o
	}
	statuses := map[int]int{}
	var worst svcCall
	for i := range svcSlowCalls {
		// GET /healthz just before is the side-by-side reference: what
		// the machine's load adds to any answer is not the service's.
		h, err := s.healthz(ctx)
		if err != nil {
			return labs.Broken(err)
		}
		c, err := s.post(ctx, 2*svcWaitJudged+h)
		if err != nil {
			return labs.Broken(err)
		}
		if c.NoAnswer {
			return chart(labs.Fail("With the dependency holding every call, call %d got no answer within %.1f s (%s): the attempt was not cut. Cut each attempt at 300 ms (CALL_TIMEOUT_MS) and answer 504.",
				i+1, (2*svcWaitJudged + h).Seconds(), reachedText(c)))
		}
		xs, took = append(xs, float64(i+1)), append(took, millis(c.Took))
		statuses[c.Status]++
		worst = slowest(worst, c)
		if c.Took > svcWaitJudged+h {
			return chart(labs.Fail("With the dependency holding every call, call %d was answered %d after %.2f s (%s); a caller waits at most 1 s for one call, retries included "+
				"(judged at %.1f s, plus the %.2f s GET /healthz took just before).",
				i+1, c.Status, c.Took.Seconds(), reachedText(c), svcWaitJudged.Seconds(), h.Seconds()))
		}
		if c.Status != http.StatusGatewayTimeout && (i == 0 || !c.fastFail()) {
			return chart(labs.Fail("With the dependency holding every call, call %d was answered %d after %.2f s (%s); a call cut at the timeout is answered 504.",
				i+1, c.Status, c.Took.Seconds(), reachedText(c)))
		}
	}
	return chart(labs.Pass("With the dependency holding every call, %d calls were answered %s, the slowest after %.2f s (%s).",
		svcSlowCalls, statusText(statuses), worst.Took.Seconds(), reachedText(worst)))
}

// slowest is whichever of a and b took longer.
func slowest(a, b svcCall) svcCall {
	if b.Took > a.Took {
		return b
	}
	return a
}

// svcBrownoutCalls is how many calls checkServiceRetryBudget makes, and
// svcBudgetSlack the retries it allows over the budget for the window's
// edges (a service's window and the check's do not start at the same
// instant).
const (
	svcBrownoutCalls = 150
	svcBudgetSlack   = 2
)

// checkServiceRetryBudget: with every 3rd call to the provider failing,
// the retries the provider receives stay within the budget of the first
// attempts, over every 10 s window that ends at a retry.
func checkServiceRetryBudget(ctx context.Context, t *labs.Trial) labs.Outcome {
	dep := NewProvider(0)
	dep.Script(func(n int) bool { return n%3 == 0 })
	s, err := launchService(ctx, t, dep)
	if err != nil {
		return labs.Broken(err)
	}
	var firsts, retries []time.Time
	statuses := map[int]int{}
	for range svcBrownoutCalls {
		c, err := s.postOne(ctx)
		if err != nil {
			return labs.Broken(err)
		}
		statuses[c.Status]++
		for j, pc := range c.Calls {
			if j == 0 {
				firsts = append(firsts, pc.At)
			} else {
				retries = append(retries, pc.At)
			}
		}
	}
	if len(firsts) == 0 {
		return labs.Fail("%d calls were answered %s and none reached the dependency.", svcBrownoutCalls, statusText(statuses))
	}
	start := firsts[0]
	total := fmt.Sprintf("%d calls put %d calls on the dependency: %d first attempts and %d retries, answered %s.",
		svcBrownoutCalls, dep.Count(), len(firsts), len(retries), statusText(statuses))
	if w, over := worstWindow(firsts, retries); over {
		return labs.Fail("With the dependency failing every 3rd call, %.1f s into the check the last 10 s held %d retries for %d first attempts (%.0f%%); the budget allows %.0f%% (%d, plus %d for the window's edges). %s",
			since(start, w.at), w.retries, w.firsts, 100*float64(w.retries)/float64(max(w.firsts, 1)), 100*svcBudget, int(svcBudget*float64(w.firsts)), svcBudgetSlack, total)
	}
	return labs.Pass("With the dependency failing every 3rd call, %s Retries stayed within %.0f%% of first attempts over every 10 s.", total, 100*svcBudget)
}

// budgetWindow is the 10 s of calls that end at a retry.
type budgetWindow struct {
	at              time.Time
	firsts, retries int
}

// worstWindow finds, among the 10 s windows that end at each retry, the
// one with the most retries over the budget; over reports whether it
// went over.
func worstWindow(firsts, retries []time.Time) (worst budgetWindow, over bool) {
	excess := func(w budgetWindow) float64 { return float64(w.retries) - svcBudget*float64(w.firsts) }
	in := func(ts []time.Time, at time.Time) int {
		n := 0
		for _, x := range ts {
			if !x.After(at) && at.Sub(x) < svcBudgetWindow {
				n++
			}
		}
		return n
	}
	for i, at := range retries {
		w := budgetWindow{at: at, firsts: in(firsts, at), retries: in(retries[:i+1], at)}
		if i == 0 || excess(w) > excess(worst) {
			worst = w
		}
	}
	return worst, len(retries) > 0 && excess(worst) > svcBudgetSlack
}
