package breaker

import (
	"context"
	"fmt"
	"maps"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The requirement card's numbers. Checks test these, whatever the design's
// own knobs say.
// Times are on the check's own clock (see driver), so they are exact.
const (
	reqThreshold  = 5                      // consecutive failed calls that open the breaker
	reqFastMS     = 5.0                    // a failed-fast answer takes less than this
	reqProbes     = 1                      // trial calls in half-open
	reqWait       = 500 * time.Millisecond // the most a caller waits for one call
	reqRetryShare = 0.1                    // retries may add this share of first attempts
	// The card's 1 s open timeout is judged in a band around it: still
	// open when polled up to 0.8 s, and probing at 1.2 s.
	stillOpenUntil = 800 * time.Millisecond
	probeAt        = 1200 * time.Millisecond
)

// Exercises are the lab's graded tasks.
func (lab) Exercises() []labs.Exercise {
	return []labs.Exercise{{
		ID:    "breaker-payments",
		Lab:   "breaker",
		Title: "Protect checkout from a failing payment provider",
		Card: []string{
			"After 5 consecutive failed calls to the payment provider, stop calling it (the breaker opens).",
			"While open, fail fast: answer at once (under 5 ms), without calling the provider.",
			"After 1 s open, let at most 1 trial call through (half-open); close when it succeeds, reopen when it fails.",
			"A caller never waits more than 500 ms in total for one call, retries included, when the provider hangs.",
			"When 30% of the provider's calls fail (a brownout), retries add at most 10% to the load on the provider.",
		},
		Scale: "Time-scaled so the checks finish in seconds: a checkout would keep the breaker open for tens of seconds before its trial call; here that is 1 s. The other numbers are as stated. " +
			"Time is measured on the checks' own clock, not the grading machine's: it moves only while every call in progress is waiting (on the provider, a call timeout or a backoff pause), and then straight to the moment the first one wakes. " +
			"So a call the breaker answers without waiting takes 0 ms, a call cut at a 200 ms timeout takes exactly 200 ms, and the same design gets the same result on a busy machine as on an idle one.",
		Hint: "Read the fault tolerance lesson on circuit breakers, timeouts, retries with backoff and retry budgets. " +
			"The provider is the lab's simulated downstream; the checks break it with PUT downstream and count what reaches it.",
		Checks: []labs.Check{
			{Name: chkThreshold, Points: 15, Run: checkOpensAtThreshold,
				Requirement: "The breaker opens on the 5th consecutive failed call to the provider, not before: 4 failures followed by a success leave it closed, and the count starts again."},
			{Name: chkFailFast, Points: 15, Run: checkFailsFast,
				Requirement: "Once open, 100 calls spread over the first 0.7 s are each answered 503 by the breaker itself, without waiting on the provider, a timeout or a pause (0 ms on the checks' clock, so under 5 ms), and none reaches the provider. The real time the calls took on the grading machine is reported, not scored."},
			{Name: chkHalfOpen, Points: 20, Run: checkHalfOpen,
				Requirement: "On the checks' clock, a band around the card's 1 s: nothing reaches the provider during the first 0.8 s after the breaker opens (a call every 50 ms); at 1.2 s, 20 concurrent calls put exactly 1 trial call on it."},
			{Name: chkProbe, Points: 15, Run: checkProbeOutcome,
				Requirement: "A failed trial call reopens the breaker (the next call fails fast); a successful one closes it, and calls reach the provider again."},
			{Name: chkDeadline, Points: 15, Run: checkCallDeadline,
				Requirement: "With the provider hanging for 3 s, every call ends within 500 ms on the checks' clock, retries and backoff pauses included."},
			{Name: chkBrownout, Points: 20, Run: checkRetryLoad,
				Requirement: "With 30% of the provider's calls failing, 300 client calls (100 per second of the checks' clock, at most 10 at a time; up to 900 when the breaker keeps most of them from the provider) add at most 10% retries on top of the first attempts that reach the provider."},
		},
		References: references(),
	}}
}

// Check names, as the references name them.
const (
	chkThreshold = "opens after the threshold"
	chkFailFast  = "fails fast while open"
	chkHalfOpen  = "half-open after the timeout, at most 1 probe"
	chkProbe     = "closes after a good probe, reopens after a bad one"
	chkDeadline  = "slow calls cut at the timeout"
	chkBrownout  = "retries within budget in a brownout"
)

// goodDesign meets the breaker-payments card: it opens on the 5th failure,
// probes once after 1 s, cuts an attempt at 200 ms so one retry and its
// pause (at most 50 ms) fit in 500 ms, and keeps retries to 10% of first
// attempts.
func goodDesign() labs.Design {
	return labs.Design{
		"failure_threshold": 5,
		"open_timeout_ms":   1000,
		"half_open_probes":  1,
		"call_timeout_ms":   200,
		"retries":           1,
		"backoff_base_ms":   50,
		"retry_budget":      0.1,
	}
}

// references are the good design and the classic mistakes, each the good
// design with one thing changed, and the checks each one fails.
func references() []labs.Reference {
	bad := func(name string, changes labs.Design, fails ...string) labs.Reference {
		d := goodDesign()
		maps.Copy(d, changes)
		return labs.Reference{Name: name, Design: d, Fails: fails}
	}
	return []labs.Reference{
		{Name: "good", Design: goodDesign()},
		bad("opens late (failure_threshold 20)", labs.Design{"failure_threshold": 20}, chkThreshold),
		bad("opens on the first failure (failure_threshold 1)", labs.Design{"failure_threshold": 1}, chkThreshold),
		bad("failure rate over a window, not consecutive", labs.Design{"failure_rate": 0.5, "window_size": 20, "min_calls": 5}, chkThreshold),
		bad("never opens (failure_threshold 1000)", labs.Design{"failure_threshold": 1000}, chkThreshold, chkFailFast, chkHalfOpen, chkProbe),
		bad("probes after 100 ms", labs.Design{"open_timeout_ms": 100}, chkFailFast, chkHalfOpen),
		bad("probes after 500 ms", labs.Design{"open_timeout_ms": 500}, chkFailFast, chkHalfOpen),
		bad("probes after 2 s", labs.Design{"open_timeout_ms": 2000}, chkHalfOpen, chkProbe),
		bad("5 probes", labs.Design{"half_open_probes": 5}, chkHalfOpen, chkProbe),
		bad("1 s call timeout", labs.Design{"call_timeout_ms": 1000}, chkDeadline),
		bad("3 retries", labs.Design{"retries": 3}, chkDeadline),
		bad("3 retries with a budget of 100%", labs.Design{"retries": 3, "retry_budget": 1.0}, chkDeadline, chkBrownout),
	}
}

// --- helpers: the learner's routes, as a browser would use them ---

// putDownstream changes the simulated provider through PUT downstream.
func putDownstream(ctx context.Context, p *labs.Probe, s map[string]any) error {
	r := p.Do(ctx, http.MethodPut, "downstream", s)
	if r.Status != http.StatusOK {
		return fmt.Errorf("PUT downstream %v: %d %s", s, r.Status, r.Body)
	}
	return nil
}

func readState(ctx context.Context, p *labs.Probe) (StateView, error) {
	r := p.Do(ctx, http.MethodGet, "state", nil)
	var s StateView
	if r.Status != http.StatusOK {
		return s, fmt.Errorf("GET state: %d %s", r.Status, r.Body)
	}
	if err := r.JSON(&s); err != nil {
		return s, fmt.Errorf("GET state: %w", err)
	}
	return s, nil
}

// firstOpen is when the breaker first opened, from GET state's transitions.
func firstOpen(s StateView) (time.Time, bool) {
	for _, tr := range s.Transitions {
		if tr.To == Open {
			return tr.At, true
		}
	}
	return time.Time{}, false
}

// lastOpen is when the breaker last opened.
func lastOpen(s StateView) (time.Time, bool) {
	for i := len(s.Transitions) - 1; i >= 0; i-- {
		if s.Transitions[i].To == Open {
			return s.Transitions[i].At, true
		}
	}
	return time.Time{}, false
}

func opens(s StateView) int {
	n := 0
	for _, tr := range s.Transitions {
		if tr.To == Open {
			n++
		}
	}
	return n
}

// maxOpenAttempts bounds how many failed calls a check makes to open the
// breaker before it says the design does not open.
const maxOpenAttempts = 60

// openBreaker starts an outage on an instant provider and calls until the
// breaker opens. It returns when it opened and how many calls reached the
// provider; opened is false when it was still closed after maxOpenAttempts
// failed attempts.
func openBreaker(ctx context.Context, p *labs.Probe, d *driver) (at time.Time, failed int64, opened bool, err error) {
	if err := putDownstream(ctx, p, map[string]any{"latency_ms": 0, "error_rate": 0, "outage": true}); err != nil {
		return at, 0, false, err
	}
	s0, err := readState(ctx, p)
	if err != nil {
		return at, 0, false, err
	}
	for range maxOpenAttempts {
		if _, err := d.post(ctx, p); err != nil {
			return at, 0, false, err
		}
		s, err := readState(ctx, p)
		if err != nil {
			return at, 0, false, err
		}
		failed = s.DownstreamCalls - s0.DownstreamCalls
		if when, ok := firstOpen(s); ok {
			return when, failed, true, nil
		}
		if failed >= maxOpenAttempts {
			break
		}
	}
	return at, failed, false, nil
}

// neverOpened explains a breaker that did not open on a run of failures.
func neverOpened(d labs.Design, failed int64) string {
	why := fmt.Sprintf("failure_threshold %d", d.Int("failure_threshold"))
	if d.Float("failure_rate") > 0 {
		why = fmt.Sprintf("failure_rate %g with min_calls %d", d.Float("failure_rate"), d.Int("min_calls"))
	}
	return fmt.Sprintf("The breaker was still closed after %d consecutive failed calls to the provider (%s), so it never stopped calling it; the card opens it after %d.",
		failed, why, reqThreshold)
}

// retriesAllowed mirrors RetryBudget.Reserve: how many of up to max retries
// the budget would let the next call make, given its window now.
func retriesAllowed(b BudgetView, max int) int {
	reqs := b.FirstAttempts + 1 // the next call's first attempt
	n := 0
	for n < max && float64(b.Retries+n+1)/float64(reqs) <= b.Ratio {
		n++
	}
	return n
}

func outcomes(c CallResult) string {
	if len(c.Outcomes) == 0 {
		return "no attempt"
	}
	return strings.Join(c.Outcomes, ", ")
}

// count writes n with the noun in the number it takes.
func count(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// --- checks ---

// checkOpensAtThreshold counts the failed calls that reach the provider
// before the breaker opens. Calls are sequential, and a retry goes through
// the breaker, so nothing reaches the provider after the call that opens it.
func checkOpensAtThreshold(ctx context.Context, t *labs.Trial) labs.Outcome {
	p, d, err := launchOnClock(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	if err := putDownstream(ctx, p, map[string]any{"latency_ms": 0, "error_rate": 0, "outage": true}); err != nil {
		return labs.Broken(err)
	}
	retries := t.Design.Int("retries")
	// Step 1: up to 4 failed calls. A call may bring retries along, so stop
	// short of 4 when the next call could take the run past it.
	var k int64
	var s StateView
	for k < reqThreshold-1 {
		if s, err = readState(ctx, p); err != nil {
			return labs.Broken(err)
		}
		if k > 0 && k+1+int64(retriesAllowed(s.RetryBudget, retries)) > reqThreshold-1 {
			break
		}
		if _, err := d.post(ctx, p); err != nil {
			return labs.Broken(err)
		}
		if s, err = readState(ctx, p); err != nil {
			return labs.Broken(err)
		}
		k = s.DownstreamCalls
		if _, ok := firstOpen(s); ok {
			switch {
			case k < reqThreshold:
				return labs.Fail("The breaker opened after only %s to the provider; the card keeps calling it until the %dth (failure_threshold %d).",
					count(k, "consecutive failed call", "consecutive failed calls"), reqThreshold, t.Design.Int("failure_threshold"))
			case k > reqThreshold:
				return labs.Fail("The breaker needed %d consecutive failed calls to the provider before it opened; the card stops calling after %d (failure_threshold %d).",
					k, reqThreshold, t.Design.Int("failure_threshold"))
			}
			// Retries took the first calls straight past 4: the reset by a
			// success cannot be isolated, but the threshold itself was met.
			return labs.Pass("The breaker opened on the 5th consecutive failed call and no further call reached the provider (retries took the first calls straight past 4 failures, so the reset by a success was not tried).")
		}
	}
	// Step 2: a success must leave it closed and start the count again.
	if err := putDownstream(ctx, p, map[string]any{"outage": false}); err != nil {
		return labs.Broken(err)
	}
	c, err := d.post(ctx, p)
	if err != nil {
		return labs.Broken(err)
	}
	if s, err = readState(ctx, p); err != nil {
		return labs.Broken(err)
	}
	if c.Status != http.StatusOK {
		return labs.Fail("After %d failed calls the provider recovered, but the next call answered %d (%s) instead of reaching it and succeeding; the breaker is %s.",
			k, c.Status, outcomes(c.CallResult), s.State)
	}
	if _, ok := firstOpen(s); ok {
		return labs.Fail("The breaker opened on a successful call that followed %d failures: it counts failures over a window (failure_rate %g, min_calls %d) rather than %d consecutive failures, so it stops calling a provider that is answering.",
			k, t.Design.Float("failure_rate"), t.Design.Int("min_calls"), reqThreshold)
	}
	// Step 3: a fresh run of failures must open it on the 5th exactly.
	if err := putDownstream(ctx, p, map[string]any{"outage": true}); err != nil {
		return labs.Broken(err)
	}
	base := s.DownstreamCalls
	var run int64
	for range maxOpenAttempts {
		if _, err := d.post(ctx, p); err != nil {
			return labs.Broken(err)
		}
		if s, err = readState(ctx, p); err != nil {
			return labs.Broken(err)
		}
		run = s.DownstreamCalls - base
		if _, ok := firstOpen(s); ok {
			break
		}
		if run >= maxOpenAttempts {
			break
		}
	}
	if _, ok := firstOpen(s); !ok {
		return labs.Fail("After %d failed calls and a success it stayed closed, as it should. %s", k, neverOpened(t.Design, run))
	}
	switch {
	case run < reqThreshold:
		return labs.Fail("After %d failed calls and a success it stayed closed, but the next run of failures opened it after only %s; the card opens it on the %dth (failure_threshold %d).",
			k, count(run, "failed call", "failed calls"), reqThreshold, t.Design.Int("failure_threshold"))
	case run > reqThreshold:
		return labs.Fail("The breaker needed %d consecutive failed calls to the provider before it opened; the card stops calling after %d (failure_threshold %d).",
			run, reqThreshold, t.Design.Int("failure_threshold"))
	}
	return labs.Pass("After %d failed calls and a success the breaker stayed closed; the next run of failures opened it on the %dth failed call, and no further call reached the provider.",
		k, reqThreshold)
}

// Calls checkFailsFast sends while the breaker is open: one every
// fastEvery on the check's clock from the moment it opened, all inside
// fastWindow, well inside the 1 s the card keeps it open.
const (
	fastCalls  = 100
	fastEvery  = 7 * time.Millisecond
	fastWindow = 700 * time.Millisecond
)

// checkFailsFast judges failing fast by what happened: each call is
// answered 503 by the breaker without reaching the provider and without
// waiting on the check's clock. The real time the calls took depends on
// the machine, so it is only reported.
func checkFailsFast(ctx context.Context, t *labs.Trial) labs.Outcome {
	p, d, err := launchOnClock(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	at, failed, opened, err := openBreaker(ctx, p, d)
	if err != nil {
		return labs.Broken(err)
	}
	if !opened {
		return labs.Fail("%s Nothing failed fast.", neverOpened(t.Design, failed))
	}
	s0, err := readState(ctx, p)
	if err != nil {
		return labs.Broken(err)
	}
	var held, onMachine, xs []float64
	var notFast []string
	var longest call
	for i := range fastCalls {
		if err := d.advanceTo(ctx, at.Add(time.Duration(i)*fastEvery)); err != nil {
			return labs.Broken(err)
		}
		since := d.clock.Now().Sub(at)
		c, err := d.post(ctx, p)
		if err != nil {
			return labs.Broken(err)
		}
		held = append(held, millis(c.Held))
		onMachine = append(onMachine, millis(c.Real))
		xs = append(xs, float64(i+1))
		if (c.Status != http.StatusServiceUnavailable || c.Attempts > 0) && len(notFast) < 3 {
			notFast = append(notFast, fmt.Sprintf("%d at %.2f s after opening (%s)", c.Status, since.Seconds(), outcomes(c.CallResult)))
		}
		if c.Held > longest.Held {
			longest = c
		}
	}
	s1, err := readState(ctx, p)
	if err != nil {
		return labs.Broken(err)
	}
	limit := reqFastMS
	chart := &labs.CheckChart{Title: "Calls while open: time each caller waited", XLabel: "call", YLabel: "ms", X: xs,
		Series: []labs.ChartSeries{{Name: "on the checks' clock", Values: held}, {Name: "on the grading machine (not scored)", Values: onMachine}},
		Limit:  &limit}
	realP99 := labs.Percentile(onMachine, 99)
	reached := s1.DownstreamCalls - s0.DownstreamCalls
	var o labs.Outcome
	switch {
	case reached > 0 || len(notFast) > 0:
		o = labs.Fail("Of %d calls in the first %.1f s after the breaker opened, %d reached the provider (first: %s). "+
			"It must stay open, failing fast, for 1 s; open_timeout_ms %d lets trial calls through too soon.",
			len(held), fastWindow.Seconds(), reached, strings.Join(notFast, "; "), t.Design.Int("open_timeout_ms"))
	case longest.Held >= reqFastMS*time.Millisecond:
		o = labs.Fail("All %d calls were answered 503 and none reached the provider, but one waited %.0f ms on the checks' clock before its answer; failing fast means answering at once, in under %.0f ms.",
			len(held), millis(longest.Held), reqFastMS)
	default:
		o = labs.Pass("The breaker opened after %d failed calls; the next %d calls over %.1f s were all answered 503 by the breaker at once (0 ms on the checks' clock), and none reached the provider. "+
			"On the grading machine they took %.3f ms at p99 (reported, not scored).",
			failed, len(held), fastWindow.Seconds(), realP99)
	}
	o.Chart = chart
	return o
}

// pollEvery spaces the calls checkHalfOpen sends while the breaker must
// stay open.
const pollEvery = 50 * time.Millisecond

func checkHalfOpen(ctx context.Context, t *labs.Trial) labs.Outcome {
	p, d, err := launchOnClock(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	at, failed, opened, err := openBreaker(ctx, p, d)
	if err != nil {
		return labs.Broken(err)
	}
	if !opened {
		return labs.Fail("%s It never reached half-open.", neverOpened(t.Design, failed))
	}
	// Until 0.8 s, a call every 50 ms: none may reach the provider.
	for polls := 0; ; polls++ {
		if err := d.advanceTo(ctx, at.Add(time.Duration(polls)*pollEvery)); err != nil {
			return labs.Broken(err)
		}
		since := d.clock.Now().Sub(at)
		if since >= stillOpenUntil {
			break
		}
		c, err := d.post(ctx, p)
		if err != nil {
			return labs.Broken(err)
		}
		if c.Attempts > 0 {
			return labs.Fail("A call reached the provider %.2f s after the breaker opened (poll %d, %s); it must stay open for 1 s before a trial call, and open_timeout_ms %d ends it early.",
				since.Seconds(), polls+1, outcomes(c.CallResult), t.Design.Int("open_timeout_ms"))
		}
	}
	// A slow, failing provider keeps the trial call waiting on it. The
	// clock stays still until all 20 calls have been answered or wait, so
	// the calls that reach the provider are exactly those the breaker
	// admits, whatever order the machine runs them in.
	if err := putDownstream(ctx, p, map[string]any{"latency_ms": 300}); err != nil {
		return labs.Broken(err)
	}
	if err := d.advanceTo(ctx, at.Add(probeAt)); err != nil {
		return labs.Broken(err)
	}
	s1, err := readState(ctx, p)
	if err != nil {
		return labs.Broken(err)
	}
	const n = 20
	cs, err := d.postAll(ctx, p, n)
	if err != nil {
		return labs.Broken(err)
	}
	statuses := map[int]int{}
	for _, c := range cs {
		statuses[c.Status]++
	}
	s2, err := readState(ctx, p)
	if err != nil {
		return labs.Broken(err)
	}
	probes := s2.DownstreamCalls - s1.DownstreamCalls
	switch {
	case probes == 0:
		return labs.Fail("%.1f s after the breaker opened, none of %d calls reached the provider (%s): it was still open and let no trial call through. The card probes after 1 s; open_timeout_ms %d waits longer.",
			probeAt.Seconds(), n, statusText(statuses), t.Design.Int("open_timeout_ms"))
	case probes > reqProbes:
		return labs.Fail("%.1f s after the breaker opened, %d of %d concurrent calls reached the provider (%s); half-open may let at most %d trial call through, and half_open_probes %d admits more.",
			probeAt.Seconds(), probes, n, statusText(statuses), reqProbes, t.Design.Int("half_open_probes"))
	}
	return labs.Pass("Nothing reached the provider for %.1f s after the breaker opened; at %.1f s, %d concurrent calls put exactly 1 trial call on it and the others failed fast (%s).",
		stillOpenUntil.Seconds(), probeAt.Seconds(), n, statusText(statuses))
}

// statusText lists statuses and counts, lowest status first.
func statusText(by map[int]int) string {
	var parts []string
	for code := 100; code < 600; code++ {
		if n := by[code]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d × %d", n, code))
		}
	}
	return strings.Join(parts, ", ")
}

func checkProbeOutcome(ctx context.Context, t *labs.Trial) labs.Outcome {
	p, d, err := launchOnClock(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	at, failed, opened, err := openBreaker(ctx, p, d)
	if err != nil {
		return labs.Broken(err)
	}
	if !opened {
		return labs.Fail("%s There was no trial call to judge.", neverOpened(t.Design, failed))
	}
	// A bad trial call: the provider is still down.
	if err := d.advanceTo(ctx, at.Add(probeAt)); err != nil {
		return labs.Broken(err)
	}
	s0, err := readState(ctx, p)
	if err != nil {
		return labs.Broken(err)
	}
	bad, err := d.post(ctx, p)
	if err != nil {
		return labs.Broken(err)
	}
	s1, err := readState(ctx, p)
	if err != nil {
		return labs.Broken(err)
	}
	if s1.DownstreamCalls == s0.DownstreamCalls {
		return labs.Fail("%.1f s after the breaker opened, a call was still failed fast (%d) with no trial call; the card probes after 1 s, and open_timeout_ms %d waits longer.",
			probeAt.Seconds(), bad.Status, t.Design.Int("open_timeout_ms"))
	}
	if s1.State != Open {
		return labs.Fail("The trial call failed (%s) but the breaker is %s afterwards; a failed trial call must reopen it.", outcomes(bad.CallResult), s1.State)
	}
	after, err := d.post(ctx, p)
	if err != nil {
		return labs.Broken(err)
	}
	s2, err := readState(ctx, p)
	if err != nil {
		return labs.Broken(err)
	}
	if after.Status != http.StatusServiceUnavailable || s2.DownstreamCalls != s1.DownstreamCalls {
		return labs.Fail("After the failed trial call the breaker said open, yet the next call answered %d and %s the provider; it must fail fast again.",
			after.Status, count(s2.DownstreamCalls-s1.DownstreamCalls, "call reached", "calls reached"))
	}
	reopened, _ := lastOpen(s2)
	// A good trial call: the provider has recovered.
	if err := putDownstream(ctx, p, map[string]any{"outage": false}); err != nil {
		return labs.Broken(err)
	}
	if err := d.advanceTo(ctx, reopened.Add(probeAt)); err != nil {
		return labs.Broken(err)
	}
	good, err := d.post(ctx, p)
	if err != nil {
		return labs.Broken(err)
	}
	s3, err := readState(ctx, p)
	if err != nil {
		return labs.Broken(err)
	}
	if good.Status != http.StatusOK {
		return labs.Fail("The provider recovered, but %.1f s after the breaker reopened the call answered %d (%s) instead of making a trial call that succeeds.",
			probeAt.Seconds(), good.Status, outcomes(good.CallResult))
	}
	if s3.State != Closed {
		return labs.Fail("The trial call succeeded but the breaker is %s afterwards, not closed: half_open_probes %d makes it wait for more good trial calls, and the card closes it on the first.",
			s3.State, t.Design.Int("half_open_probes"))
	}
	const more = 5
	for range more {
		c, err := d.post(ctx, p)
		if err != nil {
			return labs.Broken(err)
		}
		if c.Status != http.StatusOK {
			return labs.Fail("After the good trial call closed the breaker, a call answered %d (%s); a closed breaker lets calls reach a healthy provider.",
				c.Status, outcomes(c.CallResult))
		}
	}
	s4, err := readState(ctx, p)
	if err != nil {
		return labs.Broken(err)
	}
	return labs.Pass("A failed trial call reopened the breaker (the next call failed fast, nothing reached the provider); 1.2 s later a successful trial call closed it, and the next %d calls put %d calls on the provider and succeeded.",
		more, s4.DownstreamCalls-s3.DownstreamCalls)
}

// hangCalls is how many calls checkCallDeadline makes to a hung provider.
const hangCalls = 8

// checkCallDeadline measures how long each caller is held by a hung
// provider on the check's clock: exactly the design's timeouts and backoff
// pauses, however busy the machine is.
func checkCallDeadline(ctx context.Context, t *labs.Trial) labs.Outcome {
	p, d, err := launchOnClock(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	// Healthy calls first fill the retry budget's window, so the design's
	// retries are really made when the provider hangs.
	if err := putDownstream(ctx, p, map[string]any{"latency_ms": 0, "error_rate": 0, "outage": false}); err != nil {
		return labs.Broken(err)
	}
	for range 40 {
		if _, err := d.post(ctx, p); err != nil {
			return labs.Broken(err)
		}
	}
	if err := putDownstream(ctx, p, map[string]any{"latency_ms": 3000}); err != nil {
		return labs.Broken(err)
	}
	limit := millis(reqWait)
	var xs, held []float64
	chart := func(o labs.Outcome) labs.Outcome {
		o.Chart = &labs.CheckChart{Title: "Time each caller waited, provider hanging", XLabel: "call", YLabel: "ms on the checks' clock", X: xs,
			Series: []labs.ChartSeries{{Name: "waited", Values: held}}, Limit: &limit}
		return o
	}
	var worst call
	for i := range hangCalls {
		c, err := d.post(ctx, p)
		if err != nil {
			return labs.Broken(err)
		}
		xs = append(xs, float64(i+1))
		held = append(held, millis(c.Held))
		if c.Held > worst.Held {
			worst = c
		}
		if c.Held <= reqWait {
			continue
		}
		timeout := t.Design.Int("call_timeout_ms")
		why := fmt.Sprintf("call_timeout_ms %d lets a single attempt wait longer than that", timeout)
		switch {
		case timeout > int(reqWait/time.Millisecond):
		case c.Attempts > 1:
			why = fmt.Sprintf("%d attempts of up to call_timeout_ms %d each, with backoff pauses between them, add up past it", c.Attempts, timeout)
		default:
			why = fmt.Sprintf("its attempt was not cut at call_timeout_ms %d", timeout)
		}
		return chart(labs.Fail("Call %d waited %.0f ms on the checks' clock (answered %d after %s: %s); the card lets a caller wait at most %.0f ms in total: %s.",
			i+1, millis(c.Held), c.Status, count(int64(c.Attempts), "attempt", "attempts"), outcomes(c.CallResult), limit, why))
	}
	return chart(labs.Pass("With the provider hanging, %d calls each ended within %.0f ms; the longest waited %.0f ms (answered %d after %s: %s).",
		hangCalls, limit, millis(worst.Held), worst.Status, count(int64(worst.Attempts), "attempt", "attempts"), outcomes(worst.CallResult)))
}

// The brownout load, on the check's clock: a call every brownoutEvery (100
// per second), at most brownoutConc in flight (a call due while that many
// are waiting goes out as soon as one ends). Three rounds stay inside the
// retry budget's 10 s window.
const (
	brownoutCalls     = 300
	brownoutEvery     = 10 * time.Millisecond
	brownoutConc      = 10
	brownoutErrorRate = 0.3 // share of the provider's calls that fail
	// A verdict on a share needs enough first attempts behind it: a breaker
	// that trips early can keep all but a dozen calls from the provider, and
	// a dozen cannot tell a 10% budget from none. The load runs again, up to
	// brownoutRounds times, until this many first attempts reached it.
	brownoutMinFirst = 60
	brownoutRounds   = 3
)

func checkRetryLoad(ctx context.Context, t *labs.Trial) labs.Outcome {
	p, d, err := launchOnClock(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	if err := putDownstream(ctx, p, map[string]any{"error_rate": brownoutErrorRate, "latency_ms": 20, "latency": LatencyFixed, "outage": false}); err != nil {
		return labs.Broken(err)
	}
	tl := &tally{d: d, p: p, start: d.clock.Now(), next: d.clock.Now().Add(labs.Bucket)}
	var mu sync.Mutex
	var callErr error
	clientCalls := 0
	var s StateView
	next := d.clock.Now()
	for round := 0; round < brownoutRounds; round++ {
		for range brownoutCalls {
			if err := tl.upTo(ctx, next); err != nil {
				return labs.Broken(err)
			}
			if d.inFlight() >= brownoutConc {
				if err := d.settle(ctx, time.Time{}, func(running int) bool { return running < brownoutConc }); err != nil {
					return labs.Broken(err)
				}
			}
			d.start(func() {
				if _, err := postCall(ctx, p); err != nil {
					mu.Lock()
					callErr = err
					mu.Unlock()
				}
			})
			clientCalls++
			next = next.Add(brownoutEvery)
			if now := d.clock.Now(); next.Before(now) {
				next = now
			}
		}
		for d.inFlight() > 0 {
			if err := tl.upTo(ctx, tl.next); err != nil {
				return labs.Broken(err)
			}
		}
		if s, err = readState(ctx, p); err != nil {
			return labs.Broken(err)
		}
		if s.DownstreamCalls-s.Retries >= brownoutMinFirst {
			break
		}
		next = d.clock.Now()
	}
	if err := tl.upTo(ctx, tl.next); err != nil { // the last bucket
		return labs.Broken(err)
	}
	mu.Lock()
	err = callErr
	mu.Unlock()
	if err != nil {
		return labs.Broken(err)
	}
	chart := tl.chart()

	first := s.DownstreamCalls - s.Retries // each retry is one downstream call
	allowed := reqRetryShare * float64(first)
	share := 0.0
	if first > 0 {
		share = float64(s.Retries) / float64(first)
	}
	seen := fmt.Sprintf("%d client calls put %d calls on the provider: %d first attempts and %s, so retries added %.1f%% to its load (at most %.0f%%: %s). "+
		"The budget refused %s, the breaker %d; it opened %s and failed %d calls fast.",
		clientCalls, s.DownstreamCalls, first, count(s.Retries, "retry", "retries"), 100*share, 100*reqRetryShare,
		count(int64(math.Floor(allowed)), "retry", "retries"), count(s.RetriesDeniedByBudget, "retry", "retries"),
		s.RetriesDeniedByBreaker, count(int64(opens(s)), "time", "times"), s.Rejected)
	// One retry of slack: the budget decides in whole retries, so a share
	// taken over a finite run can land one retry past the line without the
	// design being wrong.
	if float64(s.Retries) > allowed+1 {
		why := ""
		if b := t.Design.Float("retry_budget"); b > reqRetryShare {
			why = fmt.Sprintf(" retry_budget %g lets retries reach %.0f%% of first attempts.", b, 100*b)
		}
		o := labs.Fail("In the brownout, %s%s", seen, why)
		o.Chart = chart
		return o
	}
	o := labs.Pass("In the brownout, %s", seen)
	o.Chart = chart
	return o
}

// tally counts client calls, provider calls and retries in each 100 ms of
// the check's clock, for the brownout's chart. It moves the clock to each
// bucket's end through the driver, so a bucket holds what happened in that
// time on the check's clock, however long the machine took over it.
type tally struct {
	d     *driver
	p     *labs.Probe
	start time.Time
	next  time.Time // the end of the bucket being counted
	last  StateView
	x     []float64
	vals  [3][]float64
}

// maxChartPoints bounds the chart's buckets.
const maxChartPoints = 200

// upTo runs the calls up to time at, counting each bucket that ends on
// the way, and sets the clock there.
func (tl *tally) upTo(ctx context.Context, at time.Time) error {
	for !tl.next.After(at) {
		if err := tl.d.advanceTo(ctx, tl.next); err != nil {
			return err
		}
		s, err := readState(ctx, tl.p)
		if err != nil {
			return err
		}
		if len(tl.x) < maxChartPoints {
			tl.x = append(tl.x, tl.next.Sub(tl.start).Seconds())
			for i, v := range []int64{s.ClientCalls - tl.last.ClientCalls, s.DownstreamCalls - tl.last.DownstreamCalls, s.Retries - tl.last.Retries} {
				tl.vals[i] = append(tl.vals[i], float64(v))
			}
		}
		tl.last = s
		tl.next = tl.next.Add(labs.Bucket)
	}
	return tl.d.advanceTo(ctx, at)
}

func (tl *tally) chart() *labs.CheckChart {
	c := &labs.CheckChart{Title: "Calls per 100 ms in the brownout", XLabel: "s on the checks' clock", YLabel: "calls per 100 ms", X: tl.x}
	for i, n := range []string{"client_calls", "downstream_calls", "retries"} {
		c.Series = append(c.Series, labs.ChartSeries{Name: n, Values: tl.vals[i]})
	}
	return c
}
