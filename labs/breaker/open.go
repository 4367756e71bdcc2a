package breaker

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// Calls checkFailsFast sends while the breaker is open: one every
// fastEvery on the check's clock from the moment it opened, all inside
// fastWindow, well inside the 1 s the card keeps it open.
const (
	fastCalls  = 100
	fastEvery  = 7 * time.Millisecond
	fastWindow = 700 * time.Millisecond
)

// whileOpen is what checkFailsFast saw of its calls.
type whileOpen struct {
	held, onMachine, xs []float64
	notFast             []string // the first calls not failed fast
	longest             call     // the call that waited longest
	reached             int64    // calls that reached the provider
}

// checkFailsFast judges failing fast by what happened: each call is
// answered 503 by the breaker without reaching the provider and without
// waiting on the check's clock. The real time the calls took depends on
// the machine, so it is only reported.
func checkFailsFast(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, d, err := launchOnClock(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	at, failed, opened, err := openBreaker(ctx, tg, d)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	if !opened {
		return labs.Fail("%s Nothing failed fast.", neverOpened(tg.Design(), failed))
	}
	w, err := callWhileOpen(ctx, tg, d, at)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	o := failFastVerdict(w, failed, tg.Design(), d.clock.Manual())
	limit := reqFastMS
	o.Chart = &labs.CheckChart{Title: "Calls while open: time each caller waited", XLabel: "call", YLabel: "ms", X: w.xs,
		Series: []labs.ChartSeries{{Name: waitedOn(d.clock), Values: w.held}, {Name: "on the grading machine (not scored)", Values: w.onMachine}},
		Limit:  &limit}
	return o
}

// waitedOn names the time calls are judged on, for charts.
func waitedOn(clock labs.Timeline) string {
	if clock.Manual() {
		return "on the checks' clock"
	}
	return "on the service's real time"
}

// callWhileOpen sends fastCalls calls, one every fastEvery from at.
func callWhileOpen(ctx context.Context, tg labs.Target, d *driver, at time.Time) (whileOpen, error) {
	var w whileOpen
	s0, err := readState(ctx, tg)
	if err != nil {
		return w, err
	}
	for i := range fastCalls {
		if err := d.advanceTo(ctx, at.Add(time.Duration(i)*fastEvery)); err != nil {
			return w, err
		}
		since := d.now().Sub(at)
		c, err := d.post(ctx)
		if err != nil {
			return w, err
		}
		w.held = append(w.held, millis(c.Held))
		w.onMachine = append(w.onMachine, millis(c.Real))
		w.xs = append(w.xs, float64(i+1))
		if (c.Status != http.StatusServiceUnavailable || c.Attempts > 0) && len(w.notFast) < 3 {
			w.notFast = append(w.notFast, fmt.Sprintf("%d at %.2f s after opening (%s)", c.Status, since.Seconds(), outcomes(c.CallResult)))
		}
		if c.Held > w.longest.Held {
			w.longest = c
		}
	}
	s1, err := readState(ctx, tg)
	if err != nil {
		return w, err
	}
	w.reached = s1.DownstreamCalls - s0.DownstreamCalls
	return w, nil
}

// failFastVerdict judges the calls made while the breaker was open.
func failFastVerdict(w whileOpen, failed int64, d labs.Design, manual bool) labs.Outcome {
	switch {
	case w.reached > 0 || len(w.notFast) > 0:
		return labs.Fail("Of %d calls in the first %.1f s after the breaker opened, %d reached the provider (first: %s). "+
			"It must stay open, failing fast, for 1 s%s",
			len(w.held), fastWindow.Seconds(), w.reached, strings.Join(w.notFast, "; "), or(mention(d, "; %s lets trial calls through too soon.", "open_timeout_ms"), "."))
	case w.longest.Held >= reqFastMS*time.Millisecond:
		return labs.Fail("All %d calls were answered 503 and none reached the provider, but one waited %.0f ms %s before its answer; failing fast means answering at once, in under %.0f ms.",
			len(w.held), millis(w.longest.Held), onClock(manual), reqFastMS)
	}
	if !manual {
		return labs.Pass("The breaker opened after %d failed calls; the next %d calls over %.1f s were all answered 503 by the breaker, the slowest in %.1f ms, and none reached the provider.",
			failed, len(w.held), fastWindow.Seconds(), millis(w.longest.Held))
	}
	return labs.Pass("The breaker opened after %d failed calls; the next %d calls over %.1f s were all answered 503 by the breaker at once (0 ms on the checks' clock), and none reached the provider. "+
		"On the grading machine they took %.3f ms at p99 (reported, not scored).",
		failed, len(w.held), fastWindow.Seconds(), labs.Percentile(w.onMachine, 99))
}

// onClock says where a wait was measured.
func onClock(manual bool) string {
	if manual {
		return "on the checks' clock"
	}
	return "in real time"
}

// pollEvery spaces the calls checkHalfOpen sends while the breaker must
// stay open.
const pollEvery = 50 * time.Millisecond

// halfOpenCalls is how many concurrent calls checkHalfOpen sends once the
// breaker may probe.
const halfOpenCalls = 20

func checkHalfOpen(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, d, err := launchOnClock(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	at, failed, opened, err := openBreaker(ctx, tg, d)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	if !opened {
		return labs.Fail("%s It never reached half-open.", neverOpened(tg.Design(), failed))
	}
	if o, err := pollWhileOpen(ctx, tg, d, at); err != nil || o != nil {
		return outcomeOr(o, err)
	}
	probes, statuses, err := burstAtProbeTime(ctx, tg, d, at)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	switch {
	case probes == 0:
		return labs.Fail("%.1f s after the breaker opened, none of %d calls reached the provider (%s): it was still open and let no trial call through. The card probes after 1 s%s",
			probeAt.Seconds(), halfOpenCalls, statusText(statuses), or(mention(tg.Design(), "; %s waits longer.", "open_timeout_ms"), "."))
	case probes > reqProbes:
		return labs.Fail("%.1f s after the breaker opened, %d of %d concurrent calls reached the provider (%s); half-open may let at most %d trial call through%s.",
			probeAt.Seconds(), probes, halfOpenCalls, statusText(statuses), reqProbes, mention(tg.Design(), ", and %s admits more", "half_open_probes"))
	}
	return labs.Pass("Nothing reached the provider for %.1f s after the breaker opened; at %.1f s, %d concurrent calls put exactly 1 trial call on it and the others failed fast (%s).",
		stillOpenUntil.Seconds(), probeAt.Seconds(), halfOpenCalls, statusText(statuses))
}

// pollWhileOpen sends a call every 50 ms until 0.8 s after the breaker
// opened at at: none may reach the provider.
func pollWhileOpen(ctx context.Context, tg labs.Target, d *driver, at time.Time) (*labs.Outcome, error) {
	for polls := 0; ; polls++ {
		if err := d.advanceTo(ctx, at.Add(time.Duration(polls)*pollEvery)); err != nil {
			return nil, err
		}
		since := d.now().Sub(at)
		if since >= stillOpenUntil {
			return nil, nil
		}
		c, err := d.post(ctx)
		if err != nil {
			return nil, err
		}
		if c.Attempts > 0 {
			o := labs.Fail("A call reached the provider %.2f s after the breaker opened (poll %d, %s); it must stay open for 1 s before a trial call%s.",
				since.Seconds(), polls+1, outcomes(c.CallResult), mention(tg.Design(), ", and %s ends it early", "open_timeout_ms"))
			return &o, nil
		}
	}
}

// burstAtProbeTime sends halfOpenCalls calls at once 1.2 s after the
// breaker opened at at, and counts those that reached the provider. A
// slow, failing provider keeps the trial call waiting on it. On the
// check's clock time stays still until all the calls have been answered
// or wait, so the calls that reach the provider are exactly those the
// breaker admits, whatever order the machine runs them in.
func burstAtProbeTime(ctx context.Context, tg labs.Target, d *driver, at time.Time) (probes int64, statuses map[int]int, err error) {
	if err := putDownstream(ctx, tg, map[string]any{"latency_ms": 300}); err != nil {
		return 0, nil, err
	}
	if err := d.advanceTo(ctx, at.Add(probeAt)); err != nil {
		return 0, nil, err
	}
	s1, err := readState(ctx, tg)
	if err != nil {
		return 0, nil, err
	}
	cs, err := d.postAll(ctx, halfOpenCalls)
	if err != nil {
		return 0, nil, err
	}
	statuses = map[int]int{}
	for _, c := range cs {
		statuses[c.Status]++
	}
	s2, err := readState(ctx, tg)
	if err != nil {
		return 0, nil, err
	}
	return s2.DownstreamCalls - s1.DownstreamCalls, statuses, nil
}
