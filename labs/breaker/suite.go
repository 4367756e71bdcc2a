package breaker

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The requirement card's numbers. Checks test these, whatever the design's
// own knobs say.
const (
	reqThreshold   = 5                       // consecutive failed calls that open the breaker
	reqFastMS      = 5.0                     // a failed-fast answer takes less than this
	reqProbes      = 1                       // trial calls in half-open
	reqWaitMS      = 500                     // the most a caller waits for one call
	reqRetryShare  = 0.1                     // retries may add this share of first attempts
	waitMarginMS   = 100                     // scheduling slack on reqWaitMS
	stillOpenUntil = 800 * time.Millisecond  // polled up to here: must still be open
	probeAt        = 1200 * time.Millisecond // the trial call is due by here, with margin
)

// Exercises are the lab's graded tasks.
func (lab) Exercises() []labs.Exercise {
	return []labs.Exercise{{
		ID:    "breaker-payments",
		Lab:   "breaker",
		Title: "Protect checkout from a failing payment provider",
		Card: []string{
			"After 5 consecutive failed calls to the payment provider, stop calling it (the breaker opens).",
			"While open, fail fast: answer in under 5 ms and send the provider no calls.",
			"After 1 s open, let at most 1 trial call through (half-open); close when it succeeds, reopen when it fails.",
			"A caller never waits more than 500 ms in total for one call, retries included, when the provider hangs.",
			"When 30% of the provider's calls fail (a brownout), retries add at most 10% to the load on the provider.",
		},
		Scale: "Time-scaled so the checks finish in seconds: a checkout would keep the breaker open for tens of seconds before its trial call; here that is 1 s. The other numbers are as stated.",
		Hint: "Read the fault tolerance lesson on circuit breakers, timeouts, retries with backoff and retry budgets. " +
			"The provider is the lab's simulated downstream; the checks break it with PUT downstream and count what reaches it.",
		Checks: []labs.Check{
			{Name: "opens after the threshold", Points: 15, Run: checkOpensAtThreshold,
				Requirement: "The breaker opens on the 5th consecutive failed call to the provider, not before: 4 failures followed by a success leave it closed, and the count starts again."},
			{Name: "fails fast while open", Points: 15, Run: checkFailsFast,
				Requirement: "Once open, calls are answered 503 in under 5 ms (p99) and none reaches the provider during the first 0.7 s."},
			{Name: "half-open after the timeout, at most 1 probe", Points: 20, Run: checkHalfOpen,
				Requirement: "Nothing reaches the provider for 0.8 s after the breaker opens; 1.2 s after, 20 concurrent calls put exactly 1 trial call on it."},
			{Name: "closes after a good probe, reopens after a bad one", Points: 15, Run: checkProbeOutcome,
				Requirement: "A failed trial call reopens the breaker (the next call fails fast); a successful one closes it, and calls reach the provider again."},
			{Name: "slow calls cut at the timeout", Points: 15, Run: checkCallDeadline,
				Requirement: "With the provider hanging for 3 s, every call ends within 500 ms (+100 ms margin) in total, retries and backoff pauses included."},
			{Name: "retries within budget in a brownout", Points: 20, Run: checkRetryLoad,
				Requirement: "With 30% of the provider's calls failing, 300 client calls (10 at a time, 100 per second; up to 900 when the breaker keeps most of them from the provider) add at most 10% retries on top of the first attempts that reach the provider."},
		},
	}}
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

// timedCall is one POST call and how long the caller waited for it.
type timedCall struct {
	CallResult
	Took time.Duration
}

func postCall(ctx context.Context, p *labs.Probe) (timedCall, error) {
	t0 := time.Now()
	r := p.Do(ctx, http.MethodPost, "call", nil)
	took := time.Since(t0)
	var c CallResult
	if err := r.JSON(&c); err != nil {
		return timedCall{}, fmt.Errorf("POST call answered %d with %q: %w", r.Status, r.Body, err)
	}
	c.Status = r.Status
	return timedCall{CallResult: c, Took: took}, nil
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

// sleepUntil waits for t or for ctx to end.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxOpenAttempts bounds how many failed calls a check makes to open the
// breaker before it says the design does not open.
const maxOpenAttempts = 60

// openBreaker starts an outage on an instant provider and calls until the
// breaker opens. It returns when it opened and how many calls reached the
// provider; opened is false when it was still closed after maxOpenAttempts
// failed attempts.
func openBreaker(ctx context.Context, p *labs.Probe) (at time.Time, failed int64, opened bool, err error) {
	if err := putDownstream(ctx, p, map[string]any{"latency_ms": 0, "error_rate": 0, "outage": true}); err != nil {
		return at, 0, false, err
	}
	s0, err := readState(ctx, p)
	if err != nil {
		return at, 0, false, err
	}
	for range maxOpenAttempts {
		if _, err := postCall(ctx, p); err != nil {
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
	p, err := t.Launch(ctx, nil)
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
		if _, err := postCall(ctx, p); err != nil {
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
	c, err := postCall(ctx, p)
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
		if _, err := postCall(ctx, p); err != nil {
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

// fastWindow is how long after opening checkFailsFast sends calls: well
// inside the 1 s the card keeps the breaker open.
const fastWindow = 700 * time.Millisecond

func checkFailsFast(ctx context.Context, t *labs.Trial) labs.Outcome {
	p, err := t.Launch(ctx, nil)
	if err != nil {
		return labs.Broken(err)
	}
	at, failed, opened, err := openBreaker(ctx, p)
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
	const calls = 100
	var lats, xs []float64
	var notFast []string
	for i := 0; i < calls && time.Since(at) < fastWindow; i++ {
		since := time.Since(at)
		c, err := postCall(ctx, p)
		if err != nil {
			return labs.Broken(err)
		}
		// The lab's own timing of the call: what the breaker adds, without
		// the test harness's scheduling on a busy machine.
		lats = append(lats, c.LatencyMS)
		xs = append(xs, float64(len(xs)+1))
		if c.Status != http.StatusServiceUnavailable && len(notFast) < 3 {
			notFast = append(notFast, fmt.Sprintf("%d at %.2f s after opening (%s)", c.Status, since.Seconds(), outcomes(c.CallResult)))
		}
		if err := sleepUntil(ctx, time.Now().Add(5*time.Millisecond)); err != nil {
			return labs.Broken(err)
		}
	}
	s1, err := readState(ctx, p)
	if err != nil {
		return labs.Broken(err)
	}
	limit := reqFastMS
	chart := &labs.CheckChart{Title: "Latency of calls while open", XLabel: "call", YLabel: "ms", X: xs,
		Series: []labs.ChartSeries{{Name: "call latency", Values: lats}}, Limit: &limit}
	p99 := labs.Percentile(lats, 99)
	reached := s1.DownstreamCalls - s0.DownstreamCalls
	var o labs.Outcome
	switch {
	case reached > 0 || len(notFast) > 0:
		o = labs.Fail("Of %d calls in the first %.1f s after the breaker opened, %d reached the provider (first: %s). "+
			"It must stay open, failing fast, for 1 s; open_timeout_ms %d lets trial calls through too soon.",
			len(lats), fastWindow.Seconds(), reached, strings.Join(notFast, "; "), t.Design.Int("open_timeout_ms"))
	case p99 >= reqFastMS:
		o = labs.Fail("All %d calls were failed fast with 503 and none reached the provider, but p99 latency was %.2f ms; the card wants under %.0f ms.",
			len(lats), p99, reqFastMS)
	default:
		o = labs.Pass("The breaker opened after %d failed calls; the next %d calls over %.1f s were all answered 503, p99 %.3f ms, and none reached the provider.",
			failed, len(lats), fastWindow.Seconds(), p99)
	}
	o.Chart = chart
	return o
}

func checkHalfOpen(ctx context.Context, t *labs.Trial) labs.Outcome {
	p, err := t.Launch(ctx, nil)
	if err != nil {
		return labs.Broken(err)
	}
	at, failed, opened, err := openBreaker(ctx, p)
	if err != nil {
		return labs.Broken(err)
	}
	if !opened {
		return labs.Fail("%s It never reached half-open.", neverOpened(t.Design, failed))
	}
	// Until 0.8 s, a call every 50 ms: none may reach the provider.
	for polls := 0; time.Since(at) < stillOpenUntil; polls++ {
		since := time.Since(at)
		c, err := postCall(ctx, p)
		if err != nil {
			return labs.Broken(err)
		}
		if c.Attempts > 0 {
			return labs.Fail("A call reached the provider %.2f s after the breaker opened (poll %d, %s); it must stay open for 1 s before a trial call, and open_timeout_ms %d ends it early.",
				since.Seconds(), polls+1, outcomes(c.CallResult), t.Design.Int("open_timeout_ms"))
		}
		if err := sleepUntil(ctx, time.Now().Add(50*time.Millisecond)); err != nil {
			return labs.Broken(err)
		}
	}
	// A slow, failing provider keeps the trial call in flight while the
	// others arrive, and reopens the breaker behind it, so calls that come
	// late are refused whatever the design.
	if err := putDownstream(ctx, p, map[string]any{"latency_ms": 300}); err != nil {
		return labs.Broken(err)
	}
	if err := sleepUntil(ctx, at.Add(probeAt)); err != nil {
		return labs.Broken(err)
	}
	s1, err := readState(ctx, p)
	if err != nil {
		return labs.Broken(err)
	}
	const n = 20
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	var callErr error
	for range n {
		wg.Go(func() {
			<-start
			c, err := postCall(ctx, p)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				callErr = err
				return
			}
			statuses[c.Status]++
		})
	}
	close(start)
	wg.Wait()
	if callErr != nil {
		return labs.Broken(callErr)
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
	p, err := t.Launch(ctx, nil)
	if err != nil {
		return labs.Broken(err)
	}
	at, failed, opened, err := openBreaker(ctx, p)
	if err != nil {
		return labs.Broken(err)
	}
	if !opened {
		return labs.Fail("%s There was no trial call to judge.", neverOpened(t.Design, failed))
	}
	// A bad trial call: the provider is still down.
	if err := sleepUntil(ctx, at.Add(probeAt)); err != nil {
		return labs.Broken(err)
	}
	s0, err := readState(ctx, p)
	if err != nil {
		return labs.Broken(err)
	}
	bad, err := postCall(ctx, p)
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
	after, err := postCall(ctx, p)
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
	if err := sleepUntil(ctx, reopened.Add(probeAt)); err != nil {
		return labs.Broken(err)
	}
	good, err := postCall(ctx, p)
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
		c, err := postCall(ctx, p)
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

// hangCalls is how many calls checkCallDeadline makes to a hung provider,
// and callGiveUp how long it waits for one before calling it hung too.
const (
	hangCalls  = 8
	callGiveUp = 1500 * time.Millisecond
)

func checkCallDeadline(ctx context.Context, t *labs.Trial) labs.Outcome {
	p, err := t.Launch(ctx, nil)
	if err != nil {
		return labs.Broken(err)
	}
	// Healthy calls first fill the retry budget's window, so the design's
	// retries are really made when the provider hangs.
	if err := putDownstream(ctx, p, map[string]any{"latency_ms": 0, "error_rate": 0, "outage": false}); err != nil {
		return labs.Broken(err)
	}
	for range 40 {
		if _, err := postCall(ctx, p); err != nil {
			return labs.Broken(err)
		}
	}
	if err := putDownstream(ctx, p, map[string]any{"latency_ms": 3000}); err != nil {
		return labs.Broken(err)
	}
	limit := float64(reqWaitMS)
	var xs, took []float64
	chart := func(o labs.Outcome) labs.Outcome {
		o.Chart = &labs.CheckChart{Title: "Time each caller waited, provider hanging", XLabel: "call", YLabel: "ms", X: xs,
			Series: []labs.ChartSeries{{Name: "waited", Values: took}}, Limit: &limit}
		return o
	}
	var worst timedCall
	for i := range hangCalls {
		cctx, cancel := context.WithTimeout(ctx, callGiveUp)
		c, err := postCall(cctx, p)
		cancel()
		if err != nil {
			return labs.Broken(err)
		}
		if ctx.Err() != nil {
			return labs.Broken(ctx.Err())
		}
		xs = append(xs, float64(i+1))
		took = append(took, millis(c.Took))
		if c.Took > worst.Took {
			worst = c
		}
		if c.Took <= (reqWaitMS+waitMarginMS)*time.Millisecond {
			continue
		}
		why := fmt.Sprintf("call_timeout_ms %d lets a single attempt wait longer than that", t.Design.Int("call_timeout_ms"))
		switch {
		case t.Design.Int("call_timeout_ms") > reqWaitMS:
		case c.Attempts > 1:
			why = fmt.Sprintf("%d attempts of up to call_timeout_ms %d each, with backoff pauses between them, add up past it", c.Attempts, t.Design.Int("call_timeout_ms"))
		default:
			why = fmt.Sprintf("its one attempt outlasted call_timeout_ms %d, which suggests the grading machine was overloaded", t.Design.Int("call_timeout_ms"))
		}
		if c.Status == StatusCancelled {
			return chart(labs.Fail("Call %d was still waiting after %.1f s when the check gave up (%s); the card lets a caller wait at most %d ms in total: %s.",
				i+1, c.Took.Seconds(), outcomes(c.CallResult), reqWaitMS, why))
		}
		return chart(labs.Fail("Call %d took %.0f ms (answered %d after %s: %s); the card lets a caller wait at most %d ms in total: %s.",
			i+1, millis(c.Took), c.Status, count(int64(c.Attempts), "attempt", "attempts"), outcomes(c.CallResult), reqWaitMS, why))
	}
	return chart(labs.Pass("With the provider hanging, %d calls each ended within %d ms; the longest took %.0f ms (answered %d after %s: %s).",
		hangCalls, reqWaitMS, millis(worst.Took), worst.Status, count(int64(worst.Attempts), "attempt", "attempts"), outcomes(worst.CallResult)))
}

// The brownout load: long enough for the breaker to trip and recover,
// short enough that three rounds stay inside the retry budget's 10 s window.
var brownout = labs.LoadSpec{Requests: 300, Concurrency: 10, RatePerS: 100, Keys: 1}

const (
	brownoutErrorRate = 0.3 // share of the provider's calls that fail
	// A verdict on a share needs enough first attempts behind it: a breaker
	// that trips early can keep all but a dozen calls from the provider, and
	// a dozen cannot tell a 10% budget from none. The load runs again, up to
	// brownoutRounds times, until this many first attempts reached it.
	brownoutMinFirst = 60
	brownoutRounds   = 3
)

func checkRetryLoad(ctx context.Context, t *labs.Trial) labs.Outcome {
	p, err := t.Launch(ctx, nil)
	if err != nil {
		return labs.Broken(err)
	}
	if err := putDownstream(ctx, p, map[string]any{"error_rate": brownoutErrorRate, "latency_ms": 20, "latency": LatencyFixed, "outage": false}); err != nil {
		return labs.Broken(err)
	}
	start := time.Now()
	clientCalls := 0
	var s StateView
	for round := 0; round < brownoutRounds; round++ {
		clientCalls += labs.RunLoad(ctx, p.Instance, brownout).Requests
		if err := ctx.Err(); err != nil {
			return labs.Broken(err)
		}
		if s, err = readState(ctx, p); err != nil {
			return labs.Broken(err)
		}
		if s.DownstreamCalls-s.Retries >= brownoutMinFirst {
			break
		}
	}
	end := time.Now()
	// Let the metrics close the last 100 ms bucket before reading them.
	if err := sleepUntil(ctx, time.Now().Add(labs.Bucket+50*time.Millisecond)); err != nil {
		return labs.Broken(err)
	}
	chart := loadChart(p.Metrics, start, end)

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

// loadChart draws client calls, provider calls and retries per 100 ms over
// the load run, from the instance's metrics.
func loadChart(m *labs.Metrics, start, end time.Time) *labs.CheckChart {
	_, pts, _, cancel := m.Subscribe()
	cancel()
	from, to := start.Add(-labs.Bucket).UnixMilli(), end.Add(labs.Bucket).UnixMilli()
	c := &labs.CheckChart{Title: "Calls per 100 ms in the brownout", XLabel: "s", YLabel: "calls per 100 ms"}
	names := []string{"client_calls", "downstream_calls", "retries"}
	vals := make([][]float64, len(names))
	for _, pt := range pts {
		if pt.T < from || pt.T > to || len(c.X) >= 200 {
			continue
		}
		c.X = append(c.X, float64(pt.T-start.UnixMilli())/1000)
		for i, n := range names {
			v := pt.V[n] // absent before the first retry: 0
			if math.IsNaN(v) {
				v = 0
			}
			vals[i] = append(vals[i], v)
		}
	}
	for i, n := range names {
		c.Series = append(c.Series, labs.ChartSeries{Name: n, Values: vals[i]})
	}
	return c
}
