package breaker

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The build exercise's checks of opening, failing fast and half-open: each
// launches the learner's service beside a Provider of its own and judges
// what the provider received and what the service answered.

// alwaysFails scripts a provider in an outage: every call fails at once.
func alwaysFails(int) bool { return true }

// checkServiceOpens: the provider fails calls 1 to 4, answers call 5 and
// fails from call 6 on, so a breaker that counts consecutive failures and
// resets on a success opens on call 10.
func checkServiceOpens(ctx context.Context, t *labs.Trial) labs.Outcome {
	dep := NewProvider(0)
	dep.Script(func(n int) bool { return n != svcThreshold })
	s, err := launchService(ctx, t, dep)
	if err != nil {
		return labs.Broken(err)
	}
	o, calls, ok, err := openService(ctx, s)
	if err != nil {
		return labs.Broken(err)
	}
	all := dep.Calls()
	if !ok {
		return labs.Fail("After %d calls the dependency had received %d calls, the last %d of them failed in a row, and your service still called it every time: the breaker never opened. It must open after %d consecutive failed attempts (FAILURE_THRESHOLD).%s",
			len(calls), len(all), failedInARow(all), svcThreshold, strayNote(dep))
	}
	want := 2 * svcThreshold
	n := o.Failure.N
	switch {
	case n < svcThreshold:
		return labs.Fail("The breaker opened after only %d failed calls to the dependency (the next call was answered 503 without reaching it); it must wait for %d in a row.%s",
			n, svcThreshold, strayNote(dep))
	case n < want:
		return labs.Fail("The breaker opened after the dependency's call %d, though its call %d succeeded: only %d failed in a row since. A success must reset the count of consecutive failures.%s",
			n, svcThreshold, n-svcThreshold, strayNote(dep))
	case n > want:
		return labs.Fail("The breaker opened only after %d failed calls in a row (the dependency's calls %d to %d); it must open on the %dth.%s",
			n-svcThreshold, svcThreshold+1, n, svcThreshold, strayNote(dep))
	}
	return labs.Pass("The dependency failed its calls 1 to 4, answered call 5 and failed from call 6 on; the breaker opened on its call %d (%d failed in a row since the success): client call %d was answered 503 without reaching it.",
		n, svcThreshold, o.Calls)
}

// strayNote mentions a request the provider received that was not GET
// /quote, when there was one.
func strayNote(dep *Provider) string {
	if s := dep.Stray(); s != "" {
		return fmt.Sprintf(" (The dependency also received %s; it serves GET %s only.)", s, QuotePath)
	}
	return ""
}

// neverOpenedText says that openService saw no breaker open.
func neverOpenedText(calls []svcCall, dep *Provider) string {
	return fmt.Sprintf("After %d calls with the dependency failing every call (%s), your service never answered 503 without calling it: the breaker never opened.",
		len(calls), count(int64(dep.Count()), "call reached it", "calls reached it"))
}

// svcFastEvery spaces the calls checkServiceFailsFast sends.
const svcFastEvery = 25 * time.Millisecond

// checkServiceFailsFast: while open, every call is a 503 that does not
// reach the provider, answered about as fast as GET /healthz.
func checkServiceFailsFast(ctx context.Context, t *labs.Trial) labs.Outcome {
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
		return labs.Fail("%s Nothing failed fast.", neverOpenedText(calls, dep))
	}
	var took, health, xs []float64
	var bad []string
	for time.Now().Before(o.Failure.Answered.Add(svcPollFor)) {
		h, err := s.healthz(ctx)
		if err != nil {
			return labs.Broken(err)
		}
		c, err := s.post(ctx, svcCallWait)
		if err != nil {
			return labs.Broken(err)
		}
		if c.NoAnswer {
			return labs.Broken(errNoAnswer(c))
		}
		if why := notFastFail(c, o); why != "" {
			bad = append(bad, why)
		} else if len(c.Calls) == 0 {
			took, health = append(took, millis(c.Took)), append(health, millis(h))
			xs = append(xs, float64(len(xs)+1))
		}
		if err := labs.Sleep(ctx, nil, svcFastEvery); err != nil {
			return labs.Broken(err)
		}
	}
	return failFastOutcome(took, health, xs, bad)
}

// notFastFail says what was wrong with a call the open breaker should
// have failed fast, or "" when nothing was. A call whose attempt reached
// the provider only after svcTooSoon is not judged: the request may have
// been that slow to arrive, and a correct breaker may probe then.
func notFastFail(c svcCall, o opened) string {
	switch {
	case len(c.Calls) > 0 && c.Calls[0].At.Before(o.Failure.Answered.Add(svcTooSoon)):
		return fmt.Sprintf("one reached the dependency %.2f s after the failure that opened the breaker and was answered %d",
			since(o.Failure.Answered, c.Calls[0].At), c.Status)
	case len(c.Calls) == 0 && c.Status != http.StatusServiceUnavailable:
		return fmt.Sprintf("one was answered %d without calling the dependency", c.Status)
	}
	return ""
}

// failFastOutcome judges the calls made while the breaker was open.
func failFastOutcome(took, health, xs []float64, bad []string) labs.Outcome {
	if len(bad) > 0 {
		return labs.Fail("Of %d calls in the %.1f s after the breaker opened, %d were not failed fast (first: %s). An open breaker answers 503 at once, without calling the dependency, for 2 s.",
			len(took)+len(bad), svcPollFor.Seconds(), len(bad), bad[0])
	}
	if len(took) == 0 {
		return labs.Broken(fmt.Errorf("%w: no call reached the service early enough to be judged", labs.ErrEnvironment))
	}
	p50, h50, worst := labs.Percentile(took, 50), labs.Percentile(health, 50), labs.Percentile(took, 100)
	limit := h50 + millis(svcFastMargin)
	chart := &labs.CheckChart{Title: "Calls while open: time to answer", XLabel: "call", YLabel: "ms on the grading machine", X: xs,
		Series: []labs.ChartSeries{{Name: "POST /call (503)", Values: took}, {Name: "GET /healthz just before", Values: health}}}
	var o labs.Outcome
	if p50 > limit {
		o = labs.Fail("All %d calls in the %.1f s after the breaker opened were answered 503 without reaching the dependency, but slowly: half took over %.0f ms, against %.0f ms for GET /healthz. Failing fast means answering at once, without waiting on anything.",
			len(took), svcPollFor.Seconds(), p50, h50)
	} else {
		o = labs.Pass("All %d calls in the %.1f s after the breaker opened were answered 503 without reaching the dependency; half within %.1f ms (GET /healthz: %.1f ms), the slowest in %.1f ms.",
			len(took), svcPollFor.Seconds(), p50, h50, worst)
	}
	o.Chart = chart
	return o
}

// svcBurst is how many concurrent calls checkServiceHalfOpen sends once a
// trial call is due; svcPollEvery spaces its calls while the breaker must
// stay open.
const (
	svcBurst     = 10
	svcPollEvery = 100 * time.Millisecond
)

// checkServiceHalfOpen: while open nothing reaches the provider; once a
// trial call is due, concurrent calls put exactly one on it.
func checkServiceHalfOpen(ctx context.Context, t *labs.Trial) labs.Outcome {
	dep := NewProvider(0)
	dep.Script(alwaysFails)
	defer dep.Release()
	s, err := launchService(ctx, t, dep)
	if err != nil {
		return labs.Broken(err)
	}
	o, calls, ok, err := openService(ctx, s)
	if err != nil {
		return labs.Broken(err)
	}
	if !ok {
		return labs.Fail("%s It never reached half-open.", neverOpenedText(calls, dep))
	}
	seen, polls, why, err := pollWhileOpenService(ctx, s, o)
	if err != nil || why != "" {
		return orBroken(why, err)
	}
	dep.Hang()
	if err := sleepUntil(ctx, seen.Add(svcProbeAfter)); err != nil {
		return labs.Broken(err)
	}
	before := dep.Count()
	statuses, err := burstService(ctx, s, svcBurst)
	if err != nil {
		return labs.Broken(err)
	}
	reached := dep.Count() - before
	switch {
	case reached == 0:
		return labs.Fail("%.1f s after the breaker was seen open, none of %d concurrent calls reached the dependency (%s): it let no trial call through. It must go half-open after 2 s (OPEN_MS).",
			svcProbeAfter.Seconds(), svcBurst, statusText(statuses))
	case reached > 1:
		return labs.Fail("%.1f s after the breaker was seen open, %d of %d concurrent calls reached the dependency (%s); half-open lets exactly 1 trial call through and answers 503 to the others.",
			svcProbeAfter.Seconds(), reached, svcBurst, statusText(statuses))
	case statuses[http.StatusServiceUnavailable] < svcBurst-1:
		return labs.Fail("%.1f s after the breaker was seen open, 1 of %d concurrent calls reached the dependency, but the others were answered %s; while the trial call is out, the others are answered 503.",
			svcProbeAfter.Seconds(), svcBurst, statusText(statuses))
	}
	return labs.Pass("%d calls over %.1f s after the breaker opened reached nothing; %.1f s after it was seen open, %d concurrent calls put exactly 1 trial call on the dependency, which held it (%s).",
		polls, svcPollFor.Seconds(), svcProbeAfter.Seconds(), svcBurst, statusText(statuses))
}

// orBroken is a failure saying why, or err's outcome.
func orBroken(why string, err error) labs.Outcome {
	if err != nil {
		return labs.Broken(err)
	}
	return labs.Fail("%s", why)
}

// pollWhileOpenService sends a call every svcPollEvery until svcPollFor
// after the failure that opened the breaker: none may reach the provider
// before svcTooSoon. It gives when the breaker was last seen open: the
// first fast failure after the last call that reached the provider (one
// that arrived too late to judge may have been a correct trial call,
// which reopened the breaker).
func pollWhileOpenService(ctx context.Context, s *svc, o opened) (seen time.Time, polls int, why string, err error) {
	seen = o.Seen
	reopened := false
	end, endReopened := o.Failure.Answered.Add(svcPollFor), o.Failure.Answered.Add(svcPollFor+svcOpen)
	for polls = 0; time.Now().Before(end) || (reopened && time.Now().Before(endReopened)); polls++ {
		c, err := s.post(ctx, svcCallWait)
		if err != nil {
			return seen, polls, "", err
		}
		if c.NoAnswer {
			return seen, polls, "", errNoAnswer(c)
		}
		if w := notFastFail(c, o); w != "" {
			return seen, polls, fmt.Sprintf("While the breaker had to stay open, %s (call %d of those sent every %.1f s); it must stay open for 2 s (OPEN_MS) before a trial call.",
				w, polls+1, svcPollEvery.Seconds()), nil
		}
		switch {
		case len(c.Calls) > 0:
			reopened = true
		case reopened && c.fastFail():
			seen, reopened = time.Now(), false
		}
		if err := labs.Sleep(ctx, nil, svcPollEvery); err != nil {
			return seen, polls, "", err
		}
	}
	return seen, polls, "", nil
}

// burstService sends n calls at once and waits for their answers (each at
// most svcCallWait), or for all but one when the provider holds the last:
// it then releases the provider and waits for that one too.
func burstService(ctx context.Context, s *svc, n int) (map[int]int, error) {
	var mu sync.Mutex
	statuses := map[int]int{}
	var errs []string
	answered := make(chan struct{}, n)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			<-gate
			c, err := s.post(ctx, svcCallWait)
			if err == nil && c.NoAnswer {
				err = errNoAnswer(c)
			}
			mu.Lock()
			if err != nil {
				errs = append(errs, err.Error())
			} else {
				statuses[c.Status]++
			}
			mu.Unlock()
			answered <- struct{}{}
		})
	}
	close(gate)
	backstop := time.NewTimer(svcCallWait)
	defer backstop.Stop()
wait:
	for range n - 1 {
		select {
		case <-answered:
		case <-backstop.C:
			break wait
		}
	}
	s.dep.Release()
	wg.Wait()
	if len(errs) > 0 {
		return nil, fmt.Errorf("%d of %d concurrent calls: %s", len(errs), n, strings.Join(errs, "; "))
	}
	return statuses, nil
}
