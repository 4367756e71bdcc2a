package limiter

import (
	"context"
	"fmt"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The build exercise's checks of the count itself. Each launches a fresh
// service (a fresh Redis database) and judges what it answered, as
// explained at provenSpan.

// tooMuch says what a run of requests proved when more than the quota
// got through within provenSpan.
func tooMuch(most int, within time.Duration) string {
	return fmt.Sprintf("%d of them were let through within %s of each other, more than the quota of %d in any 2 s", most, seconds(within), quota)
}

// judgeCount judges a run of requests of one fresh client whose first
// quota should have passed: more than the quota proven within 2 s fails,
// and so does less than the quota. what describes the run.
func judgeCount(shots []shot, what string) labs.Outcome {
	n := admitted(shots)
	if most, within := proven(shots); most > quota {
		return labs.Fail("%s: %d admitted, %d refused with 429; %s.", what, n, len(shots)-n, tooMuch(most, within))
	}
	if n < quota {
		return labs.Fail("%s: only %d admitted, %d refused with 429: too strict, a fresh client's quota is %d.", what, n, len(shots)-n, quota)
	}
	took := shots[len(shots)-1].recv.Sub(shots[0].sent)
	if n == quota {
		return labs.Pass("%s (all answered in %s): %d admitted, %d refused with 429: exactly the quota.", what, seconds(took), n, len(shots)-n)
	}
	// More than the quota, but never more than it within 2 s: the run
	// took long enough for the first ones to leave the window.
	return labs.Pass("%s (all answered in %s): %d admitted, %d refused with 429, and never more than %d within 2 s.",
		what, seconds(took), n, len(shots)-n, quota)
}

func liveLimit(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, err := startLive(ctx, t, 1)
	if err != nil {
		return failed(err)
	}
	shots, err := inOrder(ctx, tg, "client-a", quickRequests)
	if err != nil {
		return failed(err)
	}
	o := judgeCount(shots, fmt.Sprintf("A fresh client sent %d requests one after another", len(shots)))
	o.Chart = shotChart("Requests admitted so far", shots)
	return o
}

func liveKeys(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, err := startLive(ctx, t, 1)
	if err != nil {
		return failed(err)
	}
	a, refused, err := untilRefused(ctx, tg, "client-a", exhaustMax)
	if err != nil {
		return failed(err)
	}
	if !refused {
		return labs.Fail("Client A was never refused in %d requests sent one after another, so the check could not use up its quota of %d.", len(a), quota)
	}
	b, _, err := untilRefused(ctx, tg, "client-b", exhaustMax)
	if err != nil {
		return failed(err)
	}
	got, owed := admitted(a), min(admitted(a), quota)
	if admitted(b) < owed {
		return labs.Fail("Client A used up its quota (%d admitted, then refused); client B, never seen before, then got only %d through before its first refusal, "+
			"fewer than the %d it is owed: one client's usage counted against another's. Keep a count per key.", got, admitted(b), owed)
	}
	return labs.Pass("Client A used up its quota (%d admitted, then refused); client B then got %d through, its full allowance.", got, admitted(b))
}

func liveConcurrent(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, err := startLive(ctx, t, 1)
	if err != nil {
		return failed(err)
	}
	shots, err := atOnce(ctx, tg, "client-a", concurrentCount, concurrentCount)
	if err != nil {
		return failed(err)
	}
	o := judgeCount(shots, fmt.Sprintf("A fresh client sent %d requests at once", len(shots)))
	if !o.Passed {
		o.Message += " If requests one after another get exactly 20 through but more get through at once, the count is read, decided on and written back in separate steps, " +
			"and requests in flight together all read the same count: decide and count in one step (a Lua script, or INCR's own answer)."
	}
	return o
}

func liveReplicas(ctx context.Context, t *labs.Trial) labs.Outcome {
	if !t.Can(labs.Replicas) {
		return labs.Skip("This check runs the service as %d replicas sharing the load, which cannot be done here; it counts neither way.", quotaReplicas)
	}
	tg, err := startLive(ctx, t, quotaReplicas)
	if err != nil {
		return failed(err)
	}
	shots, err := inOrder(ctx, tg, "client-a", replicaRequests)
	if err != nil {
		return failed(err)
	}
	what := fmt.Sprintf("A fresh client sent %d requests one after another, spread round-robin over %d replicas", len(shots), quotaReplicas)
	var o labs.Outcome
	if most, within := proven(shots); most > quota {
		o = labs.Fail("%s: %d admitted; %s. Each replica counting on its own lets a client through up to %d times the quota: keep the count where every replica sees it (REDIS_URL).",
			what, admitted(shots), tooMuch(most, within), quotaReplicas)
	} else {
		o = labs.Pass("%s: %d admitted, never more than the quota of %d within 2 s.", what, admitted(shots), quota)
	}
	o.Chart = shotChart("Requests admitted so far, 3 replicas", shots)
	return o
}

func liveRecovery(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, err := startLive(ctx, t, 1)
	if err != nil {
		return failed(err)
	}
	used, refused, err := untilRefused(ctx, tg, "client-a", exhaustMax)
	if err != nil {
		return failed(err)
	}
	if !refused {
		return labs.Fail("The client was never refused in %d requests sent one after another, so there was no used-up quota to come back; the quota is %d.", len(used), quota)
	}
	last := lastAdmitted(used)
	if last.recv.IsZero() {
		return labs.Fail("The very first request of a fresh client was refused, so no quota was ever there to come back.")
	}
	wait := quotaWindowMS*time.Millisecond + recoveryMargin
	if err := labs.Sleep(ctx, nil, time.Until(last.recv.Add(wait))); err != nil {
		return labs.Broken(err)
	}
	again, err := shoot(ctx, tg, "client-a", answerWait)
	if err != nil {
		return failed(err)
	}
	if again.allowed {
		return labs.Pass("The client used up its quota (%d admitted, then refused); %s after its last admitted request was answered, the next request passed.",
			admitted(used), seconds(wait))
	}
	return labs.Fail("The client used up its quota (%d admitted, then refused); %s after its last admitted request was answered, it was still refused with 429 (Retry-After: %q). "+
		"The quota should be back 2 s after it was used: does every count expire?", admitted(used), seconds(wait), again.retryAfter)
}

// shotChart draws what was admitted so far after each request.
func shotChart(title string, shots []shot) *labs.CheckChart {
	x, y := make([]float64, len(shots)), make([]float64, len(shots))
	n := 0
	for i, s := range shots {
		if s.allowed {
			n++
		}
		x[i], y[i] = float64(i+1), float64(n)
	}
	return &labs.CheckChart{Title: title, XLabel: "request", YLabel: "admitted", X: x,
		Series: []labs.ChartSeries{{Name: "admitted", Values: y}}, Limit: limitLine()}
}
