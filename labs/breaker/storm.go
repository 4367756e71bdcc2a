package breaker

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The breaker-storm card's provider and load, on the checks' clock.
const (
	stormCapacity  = 4                     // calls the provider serves at once
	stormQueue     = 200                   // calls it queues beyond that
	stormLatencyMS = 20                    // each call's service time: 200 calls per second in all
	stormEvery     = 10 * time.Millisecond // checkout's load: 100 calls per second
	stormNoise     = 0.08                  // share of calls failing in normal times, spread out
	stormNoiseOK   = 0.99                  // share of client calls that must succeed then
	stormNoiseN    = 300                   // calls of the noise check
	stormRecovered = 0.95                  // share that must succeed from 1 s after recovery
	stormMaxWait   = time.Second           // the longest a caller may wait
)

// stormProvider is the card's provider.
func stormProvider() map[string]any {
	return map[string]any{"capacity": stormCapacity, "queue": stormQueue, "latency_ms": stormLatencyMS,
		"latency": LatencyFixed, "error_rate": 0, "error_burst": 0, "outage": false}
}

// phase is a stretch of the load with the provider set one way.
type phase struct {
	calls int
	set   map[string]any // applied as the phase begins, if any
}

// stormCall is one client call of a load run.
type stormCall struct {
	phase      int
	start, end time.Time
	c          call
}

// runLoad sends one call every stormEvery through the phases, without
// waiting for answers (the load is open: checkout's users do not wait for
// one another), then runs every call to its end.
func runLoad(ctx context.Context, tg labs.Target, d *driver, phases []phase) ([]stormCall, error) {
	var mu sync.Mutex
	var out []stormCall
	var callErr error
	next := d.now()
	for p, ph := range phases {
		if err := d.advanceTo(ctx, next); err != nil {
			return nil, err
		}
		if ph.set != nil {
			if err := putDownstream(ctx, tg, ph.set); err != nil {
				return nil, err
			}
		}
		for range ph.calls {
			if err := d.advanceTo(ctx, next); err != nil {
				return nil, err
			}
			d.start(func() {
				sc := stormCall{phase: p, start: d.now()}
				c, err := postCall(ctx, tg)
				sc.c, sc.end = c, d.now()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					callErr = err
					return
				}
				out = append(out, sc)
			})
			next = next.Add(stormEvery)
		}
	}
	if err := d.settle(ctx, time.Time{}, nil); err != nil {
		return nil, err
	}
	return out, callErr
}

// checkMasksNoise: with 8% of the provider's calls failing, spread out, at
// least 99% of client calls succeed (retries hide the noise).
func checkMasksNoise(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, d, err := launchOnClock(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	noisy := stormProvider()
	noisy["error_rate"], noisy["error_burst"] = stormNoise, 1
	calls, err := runLoad(ctx, tg, d, []phase{{calls: stormNoiseN, set: noisy}})
	if err != nil {
		return labs.OutcomeOf(err)
	}
	s, err := readState(ctx, tg)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	ok, statuses := tallyCalls(calls)
	share := float64(ok) / float64(len(calls))
	seen := fmt.Sprintf("With %.0f%% of the provider's calls failing, spread out, %d of %d client calls succeeded (%.1f%%; %s), with %s; the budget refused %d.",
		100*stormNoise, ok, len(calls), 100*share, statusText(statuses), count(s.Retries, "retry", "retries"), s.RetriesDeniedByBudget)
	if share >= stormNoiseOK {
		return labs.Pass("%s", seen)
	}
	why := ""
	switch dd := tg.Design(); {
	case dd == nil:
	case dd.Int("retries") == 0:
		why = " With retries 0 every failed call reaches checkout; one retry would succeed."
	case s.RetriesDeniedByBudget > 0:
		why = fmt.Sprintf(" retry_budget %g lets retries add only %.0f%% of first attempts, fewer than the %.0f%% that fail.", dd.Float("retry_budget"), 100*dd.Float("retry_budget"), 100*stormNoise)
	case s.Rejected > 0:
		why = " The breaker opened and failed calls fast."
	}
	return labs.Fail("%s The card needs at least %.0f%%.%s", seen, 100*stormNoiseOK, why)
}

// restartPhases: healthy, an outage of the provider, then healthy again.
func restartPhases(healthy, down, after int) []phase {
	dead := map[string]any{"outage": true}
	back := map[string]any{"outage": false}
	return []phase{{calls: healthy, set: stormProvider()}, {calls: down, set: dead}, {calls: after, set: back}}
}

// checkEveryCallTried: through a provider restart, no client call is
// failed fast; each one reaches the provider at least once.
func checkEveryCallTried(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, d, err := launchOnClock(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	calls, err := runLoad(ctx, tg, d, restartPhases(50, 100, 50))
	if err != nil {
		return labs.OutcomeOf(err)
	}
	fast := 0
	for _, c := range calls {
		if c.c.Attempts == 0 {
			fast++
		}
	}
	if fast == 0 {
		return labs.Pass("Through a 1 s outage of the provider, all %d client calls reached it at least once; none was failed fast.", len(calls))
	}
	return labs.Fail("Through a 1 s outage of the provider, %d of %d client calls were failed fast without reaching it%s; checkout tries every payment.",
		fast, len(calls), mention(tg.Design(), ": the breaker opened (%s)", "breaker"))
}

// checkRecovers: a 2 s outage under 100 calls per second, then the
// provider is back. From 1 s after, 95% of client calls succeed, each
// within 1 s.
func checkRecovers(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, d, err := launchOnClock(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	calls, err := runLoad(ctx, tg, d, restartPhases(100, 200, 200))
	if err != nil {
		return labs.OutcomeOf(err)
	}
	s, err := readState(ctx, tg)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	var judged, ok int
	var slowest time.Duration
	statuses := map[int]int{}
	t0 := firstStart(calls)
	for _, c := range calls {
		if c.phase != 2 || c.start.Sub(t0) < 4*time.Second { // from 1 s after recovery (at 3 s)
			continue
		}
		judged++
		statuses[c.c.Status]++
		held := c.end.Sub(c.start)
		slowest = max(slowest, held)
		if c.c.Status == http.StatusOK && held <= stormMaxWait {
			ok++
		}
	}
	share := float64(ok) / float64(max(judged, 1))
	seen := fmt.Sprintf("From 1 s to 2 s after the provider came back, %d of %d client calls succeeded within %.0f s (%.0f%%; %s; the slowest waited %.0f ms). Over the whole run %d client calls put %d calls on the provider, and it refused %d for a full queue.",
		ok, judged, stormMaxWait.Seconds(), 100*share, statusText(statuses), millis(slowest), s.ClientCalls, s.DownstreamCalls, s.DownstreamLoad.Shed)
	o := labs.Pass("%s", seen)
	if share < stormRecovered {
		o = labs.Fail("%s The card needs %.0f%%: retries kept the provider's queue full after the outage ended, so every call waited past its timeout and was retried again.%s",
			seen, 100*stormRecovered, stormWhy(tg.Design()))
	}
	o.Chart = stormChart(calls)
	return o
}

// stormWhy names the settings that let retries multiply the load.
func stormWhy(d labs.Design) string {
	if d == nil {
		return ""
	}
	budget := fmt.Sprintf("retry_budget %g", d.Float("retry_budget"))
	if d.Float("retry_budget") >= UnlimitedBudget {
		budget = "an unlimited retry_budget"
	}
	return fmt.Sprintf(" With retries %d and %s, each client call can put %d calls on a provider that serves 200 per second; checkout sends 100.",
		d.Int("retries"), budget, 1+d.Int("retries"))
}

// tallyCalls counts the calls that succeeded, and all by status.
func tallyCalls(calls []stormCall) (ok int, statuses map[int]int) {
	statuses = map[int]int{}
	for _, c := range calls {
		statuses[c.c.Status]++
		if c.c.Status == http.StatusOK {
			ok++
		}
	}
	return ok, statuses
}

// stormChart plots the share of client calls that succeeded, per 100 ms
// of their start, and the attempts they made.
func stormChart(calls []stormCall) *labs.CheckChart {
	if len(calls) == 0 {
		return nil
	}
	t0 := firstStart(calls)
	n := 50
	xs := make([]float64, n)
	okv, att := make([]float64, n), make([]float64, n)
	for i := range xs {
		xs[i] = float64(i) / 10
	}
	for _, c := range calls {
		b := int(c.start.Sub(t0) / labs.Bucket)
		if b < 0 || b >= n {
			continue
		}
		att[b] += float64(c.c.Attempts)
		if c.c.Status == http.StatusOK {
			okv[b]++
		}
	}
	return &labs.CheckChart{Title: "Client calls per 100 ms: outage from 1 s to 3 s", XLabel: "s on the checks' clock", YLabel: "calls per 100 ms", X: xs,
		Series: []labs.ChartSeries{{Name: "succeeded", Values: okv}, {Name: "attempts on the provider", Values: att}}}
}

// firstStart is when the first call of a run started (calls are listed in
// the order they ended).
func firstStart(calls []stormCall) time.Time {
	var t0 time.Time
	for i, c := range calls {
		if i == 0 || c.start.Before(t0) {
			t0 = c.start
		}
	}
	return t0
}
