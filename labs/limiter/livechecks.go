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

func liveLimit(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, err := startLive(ctx, t, 1)
	if err != nil {
		return failed(err)
	}
	var last []shot
	o := onFreshClients(ctx, "client-a", func(key string) ([]shot, error) {
		shots, err := inOrder(ctx, tg, key, quickRequests)
		last = shots
		return shots, err
	}, func(shots []shot) (labs.Outcome, bool) {
		return judgeFirstWindow(shots, fmt.Sprintf("A fresh client sent %d requests one after another", len(shots)))
	})
	if o.Err == nil {
		o.Chart = shotChart("Requests admitted so far", last)
	}
	return o
}

func liveKeys(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, err := startLive(ctx, t, 1)
	if err != nil {
		return failed(err)
	}
	var o labs.Outcome
	for try := 1; try <= freshTries; try++ {
		var conclusive bool
		var last time.Time
		o, conclusive, last, err = keysOnce(ctx, tg, try)
		if err != nil {
			return failed(err)
		}
		if conclusive {
			return o
		}
		if err := labs.Sleep(ctx, nil, time.Until(last.Add(freshWait))); err != nil {
			return labs.Broken(err)
		}
	}
	o.Message += fmt.Sprintf(" The grading machine was too busy to send client B's first request within %s of client A's first in %d tries, so this is all it could judge.",
		seconds(provenSpan), freshTries)
	return o
}

// keysOnce is one try of the keys check with a fresh pair of clients: A
// uses up its quota (one after another, or at once after the first try,
// to be quicker), then B, never seen, sends until refused. It is
// conclusive when B's first request was answered within provenSpan of
// A's first: A's count was then certainly still full when B's was
// decided, and a count shared by both refuses it, whatever the machine's
// speed. A refusal of B before its quota fails at any time. An outcome
// that is not conclusive is a pass, as nothing wrong was seen; last is
// when the last request was answered.
func keysOnce(ctx context.Context, tg labs.Target, try int) (o labs.Outcome, conclusive bool, last time.Time, err error) {
	ka, kb := "client-a", "client-b"
	if try > 1 {
		ka, kb = fmt.Sprintf("client-a-%d", try), fmt.Sprintf("client-b-%d", try)
	}
	a, refused, err := useUp(ctx, tg, ka, try > 1)
	if err != nil {
		return o, false, last, err
	}
	if !refused {
		if len(firstWindow(a)) <= quota {
			return labs.Pass("Client A got all of %d requests through, too slowly to use up its quota of %d within 2 s.", len(a), quota), false, lastAnswer(a), nil
		}
		return labs.Fail("Client A was never refused in %d requests, so the check could not use up its quota of %d.", len(a), quota), true, last, nil
	}
	b, bRefused, err := untilRefused(ctx, tg, kb, exhaustMax)
	if err != nil {
		return o, false, last, err
	}
	got, owed := admitted(a), min(admitted(a), quota)
	if bRefused && admitted(b) < owed {
		return labs.Fail("Client A used up its quota (%d admitted, then refused); client B, never seen before, then got only %d through before its first refusal, "+
			"fewer than the %d it is owed: one client's usage counted against another's. Keep a count per key.", got, admitted(b), owed), true, last, nil
	}
	o = labs.Pass("Client A used up its quota (%d admitted, then refused); client B then got %d through, its full allowance.", got, admitted(b))
	return o, b[0].recv.Sub(earliest(a)) < provenSpan, lastAnswer(b), nil
}

// useUp sends requests for key until one is refused: one after another,
// or first quota+1 at once when quick.
func useUp(ctx context.Context, tg labs.Target, key string, quick bool) ([]shot, bool, error) {
	var first []shot
	if quick {
		burst, err := atOnce(ctx, tg, key, quota+1, quota+1)
		if err != nil {
			return nil, false, err
		}
		if admitted(burst) < len(burst) {
			return burst, true, nil
		}
		first = burst
	}
	rest, refused, err := untilRefused(ctx, tg, key, exhaustMax-len(first))
	return append(first, rest...), refused, err
}

func liveConcurrent(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, err := startLive(ctx, t, 1)
	if err != nil {
		return failed(err)
	}
	o := onFreshClientsSaying(ctx, "client-a", func(key string) ([]shot, error) {
		return atOnce(ctx, tg, key, concurrentCount, concurrentCount)
	}, judgeAtOnce, "get half of the requests answered within one window")
	if !o.Passed && o.Err == nil {
		o.Message += " If requests one after another get exactly 20 through but more get through at once, the count is read, decided on and written back in separate steps, " +
			"and requests in flight together all read the same count: decide and count in one step (a Lua script, or INCR's own answer)."
	}
	return o
}

// judgeAtOnce judges requests sent at once as judgeFirstWindow does; a
// pass is conclusive only when at least half of them were answered in the
// first window: on a busy machine a burst may reach the service one
// request at a time, and a count decided in separate steps then shows
// nothing wrong.
func judgeAtOnce(shots []shot) (labs.Outcome, bool) {
	o, conclusive := judgeFirstWindow(shots, fmt.Sprintf("A fresh client sent %d requests at once", len(shots)))
	if o.Passed && 2*len(firstWindow(shots)) < len(shots) {
		conclusive = false
	}
	return o, conclusive
}

func liveReplicas(ctx context.Context, t *labs.Trial) labs.Outcome {
	if !t.Can(labs.Replicas) {
		return labs.Skip("This check runs the service as %d replicas sharing the load, which cannot be done here; it counts neither way.", quotaReplicas)
	}
	tg, err := startLive(ctx, t, quotaReplicas)
	if err != nil {
		return failed(err)
	}
	var last []shot
	o := onFreshClients(ctx, "client-a", func(key string) ([]shot, error) {
		shots, err := inOrder(ctx, tg, key, replicaRequests)
		last = shots
		return shots, err
	}, judgeReplicas)
	if o.Err == nil {
		o.Chart = shotChart("Requests admitted so far, 3 replicas", last)
	}
	return o
}

// judgeReplicas judges a fresh client's requests spread over the replicas
// by its first window, as judgeFirstWindow does, for too many only: how
// few a replica lets through is for the checks on one replica.
func judgeReplicas(shots []shot) (labs.Outcome, bool) {
	in := firstWindow(shots)
	n := counted(in)
	what := fmt.Sprintf("A fresh client sent %d requests one after another, spread round-robin over %d replicas; of the %d answered within %s of the first, %d were admitted",
		len(shots), quotaReplicas, len(in), seconds(provenSpan), n) + failedOpen(in)
	if n > quota {
		return labs.Fail("%s, more than the quota of %d in 2 s. Each replica counting on its own lets a client through up to %d times the quota: "+
			"keep the count where every replica sees it (REDIS_URL).", what, quota, quotaReplicas), true
	}
	return labs.Pass("%s: never more than the quota of %d in 2 s.", what, quota), len(in) > quota
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
