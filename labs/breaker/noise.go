package breaker

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The breaker-noisy card's numbers, on the checks' clock.
const (
	noiseRate   = 0.05                  // share of the provider's calls that fail in normal times
	noiseBurst  = 5                     // ... in runs of this many
	noiseCalls  = 1000                  // calls the noise check makes, ten runs of failures
	noiseEvery  = 10 * time.Millisecond // 100 calls per second
	outageMost  = 10                    // failed calls that may reach a dead provider: 0.1 s at 100 per second
	outageWarm  = 50                    // healthy calls before the outage
	stallCalls  = 10                    // calls made while a trial call waits on a slow provider
	stallSlowMS = 300                   // how long the slow provider takes
	stallPolls  = 200                   // calls, 50 ms apart, that wait for the trial call
)

// checkToleratesNoise sends noiseCalls calls at 100 per second to a
// provider that fails 5% of them in runs of 5: the breaker must never open.
func checkToleratesNoise(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, d, err := launchOnClock(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	if err := putDownstream(ctx, tg, map[string]any{"error_rate": noiseRate, "error_burst": noiseBurst, "latency_ms": 0, "outage": false}); err != nil {
		return labs.OutcomeOf(err)
	}
	start, failed := d.now(), 0
	for i := range noiseCalls {
		if err := d.advanceTo(ctx, start.Add(time.Duration(i)*noiseEvery)); err != nil {
			return labs.OutcomeOf(err)
		}
		c, err := d.post(ctx)
		if err != nil {
			return labs.OutcomeOf(err)
		}
		if c.Status != http.StatusOK {
			failed++
		}
		if c.State != Closed || c.Status == http.StatusServiceUnavailable {
			why := mention(tg.Design(), " (%s)", "failure_threshold")
			if d := tg.Design(); d != nil && d.Float("failure_rate") > 0 {
				why = fmt.Sprintf(" (failure_rate %g over %d calls: a run of %d is %.0f%% of that window)",
					d.Float("failure_rate"), d.Int("window_size"), noiseBurst, 100*float64(noiseBurst)/float64(d.Int("window_size")))
			}
			return labs.Fail("The breaker opened at call %d of %d, on a provider that fails only %.0f%% of calls, in runs of %d%s: it mistook normal noise for an outage, and checkout failed calls fast that the provider would have served.",
				i+1, noiseCalls, 100*noiseRate, noiseBurst, why)
		}
	}
	return labs.Pass("%d calls at 100 per second to a provider failing %.0f%% of them in runs of %d: %d failed, and the breaker stayed closed throughout.",
		noiseCalls, 100*noiseRate, noiseBurst, failed)
}

// checkOpensOnOutage warms the breaker with healthy calls, then kills the
// provider and calls at 100 per second: it must open before more than
// outageMost calls reach the dead provider (0.1 s).
func checkOpensOnOutage(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, d, err := launchOnClock(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	if err := putDownstream(ctx, tg, map[string]any{"error_rate": 0, "latency_ms": 0, "outage": false}); err != nil {
		return labs.OutcomeOf(err)
	}
	for range outageWarm {
		if _, err := d.post(ctx); err != nil {
			return labs.OutcomeOf(err)
		}
	}
	if err := putDownstream(ctx, tg, map[string]any{"outage": true}); err != nil {
		return labs.OutcomeOf(err)
	}
	s0, err := readState(ctx, tg)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	start := d.now()
	for i := 0; i < maxOpenAttempts; i++ {
		if err := d.advanceTo(ctx, start.Add(time.Duration(i)*noiseEvery)); err != nil {
			return labs.OutcomeOf(err)
		}
		if _, err := d.post(ctx); err != nil {
			return labs.OutcomeOf(err)
		}
		s, err := readState(ctx, tg)
		if err != nil {
			return labs.OutcomeOf(err)
		}
		reached := s.DownstreamCalls - s0.DownstreamCalls
		if at, ok := firstOpen(s); ok {
			return outageVerdict(reached, at.Sub(start), tg.Design())
		}
		if reached >= maxOpenAttempts {
			break
		}
	}
	return labs.Fail("The provider went down and %d calls at 100 per second reached it over %.1f s, but the breaker never opened%s; the card opens it within 0.1 s.",
		maxOpenAttempts, (maxOpenAttempts * noiseEvery).Seconds(), or(mention(tg.Design(), " (%s)", "breaker"), ""))
}

func outageVerdict(reached int64, after time.Duration, d labs.Design) labs.Outcome {
	if reached > outageMost {
		why := mention(d, " (%s)", "failure_threshold")
		if d != nil && d.Float("failure_rate") > 0 {
			why = fmt.Sprintf(" (failure_rate %g over %d calls, after %d healthy ones fill the window)", d.Float("failure_rate"), d.Int("window_size"), outageWarm)
		}
		return labs.Fail("The provider went down and the breaker opened only after %d calls had reached it (%.2f s at 100 calls per second)%s; the card opens it within 0.1 s, after at most %d.",
			reached, after.Seconds(), why, outageMost)
	}
	return labs.Pass("The provider went down after %d healthy calls; the breaker opened after %s reached it (%.2f s at 100 calls per second), within the card's %d.",
		outageWarm, count(reached, "call", "calls"), after.Seconds(), outageMost)
}

// stalled is a call made while a trial call waited on the slow provider.
type stalled struct {
	c    call
	held time.Duration
}

// checkFastDuringProbe opens the breaker, makes the provider slow, waits
// for the trial call and, while it waits on the provider, makes
// stallCalls calls: each must be failed fast at once, none may wait for
// the trial call to end.
func checkFastDuringProbe(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, d, err := launchOnClock(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	_, failed, opened, err := openBreaker(ctx, tg, d)
	switch {
	case err != nil:
		return labs.OutcomeOf(err)
	case !opened:
		return labs.Fail("The breaker never opened on a dead provider (%s reached it)%s, so there was no trial call and nothing was failed fast.",
			count(failed, "failed call", "failed calls"), mention(tg.Design(), ", with %s", "breaker"))
	}
	if err := putDownstream(ctx, tg, map[string]any{"latency_ms": stallSlowMS}); err != nil {
		return labs.OutcomeOf(err)
	}
	probing, err := startProbe(ctx, tg, d)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	if !probing {
		return labs.Fail("The breaker let no trial call through in %.0f s of calls every 50 ms, so nothing could be judged; the card probes the provider again after a while.",
			(stallPolls * pollEvery).Seconds())
	}
	got, err := callDuringProbe(ctx, d)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	return stallVerdict(got, tg.Design(), d.clock.Manual())
}

// startProbe calls every 50 ms until a call reaches the provider: the
// trial call, left waiting on it.
func startProbe(ctx context.Context, tg labs.Target, d *driver) (bool, error) {
	s0, err := readState(ctx, tg)
	if err != nil {
		return false, err
	}
	for range stallPolls {
		if err := d.advanceTo(ctx, d.now().Add(pollEvery)); err != nil {
			return false, err
		}
		d.start(func() { _, _ = postCall(ctx, tg) })
		// Run it until it ends or waits, without moving the clock.
		if err := d.settle(ctx, d.now(), nil); err != nil {
			return false, err
		}
		s, err := readState(ctx, tg)
		if err != nil {
			return false, err
		}
		if s.DownstreamCalls > s0.DownstreamCalls {
			return true, nil
		}
	}
	return false, nil
}

// callDuringProbe makes stallCalls calls at once while the trial call
// waits, and runs them all, the trial call too, to their ends.
func callDuringProbe(ctx context.Context, d *driver) ([]stalled, error) {
	out := make([]stalled, stallCalls)
	errs := make([]error, stallCalls)
	for i := range stallCalls {
		d.start(func() {
			start := d.now()
			out[i].c, errs[i] = postCall(ctx, d.tg)
			out[i].held = d.now().Sub(start)
		})
	}
	if err := d.settle(ctx, time.Time{}, nil); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func stallVerdict(got []stalled, d labs.Design, manual bool) labs.Outcome {
	var longest stalled
	statuses := map[int]int{}
	for _, s := range got {
		statuses[s.c.Status]++
		if s.held > longest.held || longest.c.Status == 0 {
			longest = s
		}
	}
	if statuses[http.StatusServiceUnavailable] == len(got) && longest.held < reqFastMS*time.Millisecond {
		return labs.Pass("While the trial call waited %d ms on the slow provider, %d more calls were each answered 503 at once (0 ms %s).",
			stallSlowMS, len(got), onClock(manual))
	}
	why := ""
	switch {
	case d != nil && d.String("breaker") == ImplHoldsLock:
		why = " The breaker holds its lock across the call (breaker holds_lock): every caller queues for the lock behind the trial call, even those it is about to fail fast."
	case d != nil && d.Int("half_open_probes") > 1:
		why = fmt.Sprintf(" half_open_probes %d sends more trial calls to the slow provider.", d.Int("half_open_probes"))
	}
	return labs.Fail("While the trial call waited %d ms on the slow provider, %d more calls were answered %s, the slowest after %.0f ms %s (%s); each should have been failed fast at once.%s",
		stallSlowMS, len(got), statusText(statuses), millis(longest.held), onClock(manual), outcomes(longest.c.CallResult), why)
}
