package breaker

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

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
	tg, d, err := launchOnClock(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	if err := putDownstream(ctx, tg, map[string]any{"error_rate": brownoutErrorRate, "latency_ms": 20, "latency": LatencyFixed, "outage": false}); err != nil {
		return labs.OutcomeOf(err)
	}
	b := &brownout{d: d, tl: &tally{d: d, start: d.now(), next: d.now().Add(labs.Bucket)}}
	if err := b.run(ctx); err != nil {
		return labs.OutcomeOf(err)
	}
	o := brownoutVerdict(b.clientCalls, b.state, tg.Design())
	o.Chart = b.tl.chart()
	return o
}

// brownout drives the brownout's load and keeps what it saw.
type brownout struct {
	d  *driver
	tl *tally

	clientCalls int
	state       StateView // at the end of the last round

	mu      sync.Mutex
	callErr error // the last call the target did not answer
}

// run sends rounds of the load until enough first attempts reached the
// provider, then counts the last bucket.
func (b *brownout) run(ctx context.Context) error {
	next := b.d.now()
	for range brownoutRounds {
		if err := b.round(ctx, next); err != nil {
			return err
		}
		s, err := readState(ctx, b.d.tg)
		if err != nil {
			return err
		}
		b.state = s
		if s.DownstreamCalls-s.Retries >= brownoutMinFirst {
			break
		}
		next = b.d.now()
	}
	if err := b.tl.upTo(ctx, b.tl.next); err != nil { // the last bucket
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.callErr
}

// round sends brownoutCalls calls from next on, one every brownoutEvery
// with at most brownoutConc in flight, and runs them all to their ends.
func (b *brownout) round(ctx context.Context, next time.Time) error {
	d := b.d
	for range brownoutCalls {
		if err := b.tl.upTo(ctx, next); err != nil {
			return err
		}
		if d.inFlight() >= brownoutConc {
			if err := d.settle(ctx, time.Time{}, func(running int) bool { return running < brownoutConc }); err != nil {
				return err
			}
		}
		d.start(func() {
			if _, err := postCall(ctx, d.tg); err != nil {
				b.mu.Lock()
				b.callErr = err
				b.mu.Unlock()
			}
		})
		b.clientCalls++
		next = next.Add(brownoutEvery)
		if now := d.now(); next.Before(now) {
			next = now
		}
	}
	for d.inFlight() > 0 {
		if err := b.tl.upTo(ctx, b.tl.next); err != nil {
			return err
		}
	}
	return nil
}

// brownoutVerdict judges the retries the load added to the provider's
// first attempts.
func brownoutVerdict(clientCalls int, s StateView, d labs.Design) labs.Outcome {
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
	if float64(s.Retries) <= allowed+1 {
		return labs.Pass("In the brownout, %s", seen)
	}
	why := ""
	if b := d.Float("retry_budget"); d != nil && b > reqRetryShare {
		why = fmt.Sprintf(" retry_budget %g lets retries reach %.0f%% of first attempts.", b, 100*b)
	}
	return labs.Fail("In the brownout, %s%s", seen, why)
}

// tally counts client calls, provider calls and retries in each 100 ms of
// the check's clock, for the brownout's chart. It moves the clock to each
// bucket's end through the driver, so a bucket holds what happened in that
// time on the check's clock, however long the machine took over it.
type tally struct {
	d     *driver
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
		s, err := readState(ctx, tl.d.tg)
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
	c := &labs.CheckChart{Title: "Calls per 100 ms in the brownout", XLabel: "s " + onClock(tl.d.clock.Manual()), YLabel: "calls per 100 ms", X: tl.x}
	for i, n := range []string{"client_calls", "downstream_calls", "retries"} {
		c.Series = append(c.Series, labs.ChartSeries{Name: n, Values: tl.vals[i]})
	}
	return c
}
