package breaker

import (
	"context"
	"fmt"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// hangCalls is how many calls checkCallDeadline makes to a hung provider.
const hangCalls = 8

// warmCalls are the healthy calls checkCallDeadline makes first: they fill
// the retry budget's window, so the design's retries are really made when
// the provider hangs.
const warmCalls = 40

// checkCallDeadline measures how long each caller is held by a hung
// provider on the check's clock: exactly the design's timeouts and backoff
// pauses, however busy the machine is.
func checkCallDeadline(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, d, err := launchOnClock(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	if err := putDownstream(ctx, tg, map[string]any{"latency_ms": 0, "error_rate": 0, "outage": false}); err != nil {
		return labs.OutcomeOf(err)
	}
	for range warmCalls {
		if _, err := d.post(ctx); err != nil {
			return labs.OutcomeOf(err)
		}
	}
	if err := putDownstream(ctx, tg, map[string]any{"latency_ms": 3000}); err != nil {
		return labs.OutcomeOf(err)
	}
	limit := millis(reqWait)
	var xs, held []float64
	chart := func(o labs.Outcome) labs.Outcome {
		o.Chart = &labs.CheckChart{Title: "Time each caller waited, provider hanging", XLabel: "call", YLabel: "ms " + onClock(d.clock.Manual()), X: xs,
			Series: []labs.ChartSeries{{Name: "waited", Values: held}}, Limit: &limit}
		return o
	}
	var worst call
	for i := range hangCalls {
		c, err := d.post(ctx)
		if err != nil {
			return labs.OutcomeOf(err)
		}
		xs = append(xs, float64(i+1))
		held = append(held, millis(c.Held))
		if c.Held > worst.Held {
			worst = c
		}
		if c.Held > reqWait {
			return chart(labs.Fail("Call %d waited %.0f ms %s (answered %d after %s: %s); the card lets a caller wait at most %.0f ms in total: %s.",
				i+1, millis(c.Held), onClock(d.clock.Manual()), c.Status, count(int64(c.Attempts), "attempt", "attempts"), outcomes(c.CallResult),
				limit, whyHeld(tg.Design(), c)))
		}
	}
	return chart(labs.Pass("With the provider hanging, %d calls each ended within %.0f ms; the longest waited %.0f ms (answered %d after %s: %s).",
		hangCalls, limit, millis(worst.Held), worst.Status, count(int64(worst.Attempts), "attempt", "attempts"), outcomes(worst.CallResult)))
}

// whyHeld explains a call that held its caller too long, from the design
// when there is one.
func whyHeld(d labs.Design, c call) string {
	if d == nil {
		if c.Attempts > 1 {
			return fmt.Sprintf("%d attempts, with backoff pauses between them, add up past it", c.Attempts)
		}
		return "its attempt was not cut in time"
	}
	timeout := d.Int("call_timeout_ms")
	switch {
	case timeout > int(reqWait/time.Millisecond):
		return fmt.Sprintf("call_timeout_ms %d lets a single attempt wait longer than that", timeout)
	case c.Attempts > 1:
		return fmt.Sprintf("%d attempts of up to call_timeout_ms %d each, with backoff pauses between them, add up past it", c.Attempts, timeout)
	}
	return fmt.Sprintf("its attempt was not cut at call_timeout_ms %d", timeout)
}
