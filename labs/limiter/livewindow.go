package limiter

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The count checks ("limit honoured", "exact under 200 concurrent
// requests", "holds across 3 replicas") judge a fresh client's first
// window only: the requests answered within provenSpan of when its first
// request was sent were certainly decided inside any window that starts
// at or after that first request, so more than the quota among them is an
// over-count, whatever kind of window the service keeps. Requests after
// it are for the sliding-span check, which owns window boundaries: on a
// busy machine a run of requests spreads over several windows, and a
// window that restarts would otherwise be judged by checks that are not
// about it.

// freshTries is how many fresh clients a count check tries when the
// machine was too slow to answer more than the quota inside one window.
// Between tries the check waits until the last try's requests have left
// the window (freshWait after the last answer), so a count kept wrongly
// for every key, which another check judges, does not carry over.
const (
	freshTries = 4
	freshWait  = quotaWindowMS*time.Millisecond + recoveryMargin
)

// firstWindow is the shots answered within provenSpan of when the first of
// them was sent.
func firstWindow(shots []shot) []shot {
	if len(shots) == 0 {
		return nil
	}
	start := earliest(shots)
	var in []shot
	for _, s := range shots {
		if s.recv.Sub(start) < provenSpan {
			in = append(in, s)
		}
	}
	return in
}

// refusedEarly finds a refusal in the first window that no correct count
// makes: at is its place in the order sent (from 1), and before is how
// many admitted requests could have been decided in the window before it,
// at most (sent before it was answered, answered after a window and
// clockSlack before it was sent), fewer than the quota. It holds whatever
// the machine's speed. A request let through failing open counts here as
// possibly in the count: a Redis call that timed out may still have run
// (the script counted it, the answer came too late). Refusals after the
// first window are not judged: a count that never expires refuses there,
// which the recovery check owns.
func refusedEarly(shots []shot) (at, before int, ok bool) {
	bySent := append([]shot(nil), shots...)
	sort.SliceStable(bySent, func(i, j int) bool { return bySent[i].sent.Before(bySent[j].sent) })
	window := quotaWindowMS*time.Millisecond + clockSlack
	for i, r := range bySent {
		if r.allowed || r.recv.Sub(bySent[0].sent) >= provenSpan {
			continue
		}
		n := 0
		for _, s := range bySent {
			if s.allowed && s.sent.Before(r.recv) && s.recv.After(r.sent.Add(-window)) {
				n++
			}
		}
		if n < quota {
			return i + 1, n, true
		}
	}
	return 0, 0, false
}

// judgeFirstWindow judges a fresh client's run of requests by its first
// window; conclusive is false when too few of them were answered inside
// it to judge (a slow machine): the outcome is then a pass, as nothing
// wrong was seen.
func judgeFirstWindow(shots []shot, what string) (o labs.Outcome, conclusive bool) {
	if at, before, early := refusedEarly(shots); early {
		return labs.Fail("%s: request %d was refused with 429 when at most %d admitted requests could have been in the 2 s before it: too strict, a fresh client's quota is %d.",
			what, at, before, quota), true
	}
	in := firstWindow(shots)
	n := counted(in)
	head := fmt.Sprintf("%s; of the %d answered within %s of the first, %d were admitted", what, len(in), seconds(provenSpan), n)
	if len(in) == len(shots) {
		head = fmt.Sprintf("%s (all answered within %s): %d admitted, %d refused with 429", what, seconds(shots[len(shots)-1].recv.Sub(earliest(shots))), n, len(shots)-admitted(shots))
	}
	head += failedOpen(in)
	if n > quota {
		return labs.Fail("%s, more than the quota of %d in 2 s.", head, quota), true
	}
	if len(in) <= quota || n < quota {
		return labs.Pass("%s: no more than the quota.", head), false
	}
	return labs.Pass("%s: exactly the quota.", head), true
}

// onFreshClients runs a count check's run for a fresh client (key, then
// key-2, key-3 …) until its verdict is conclusive. A machine too slow to
// judge in freshTries runs does not fail the learner: what the last run
// saw passes, saying so.
func onFreshClients(ctx context.Context, key string, run func(key string) ([]shot, error), judge func([]shot) (labs.Outcome, bool)) labs.Outcome {
	return onFreshClientsSaying(ctx, key, run, judge, "get more than the quota answered within one window")
}

// onFreshClientsSaying is onFreshClients; busy says, after "too busy
// to", what the machine could not do when no run was conclusive.
func onFreshClientsSaying(ctx context.Context, key string, run func(key string) ([]shot, error), judge func([]shot) (labs.Outcome, bool), busy string) labs.Outcome {
	var o labs.Outcome
	for try := 1; try <= freshTries; try++ {
		k := key
		if try > 1 {
			k = fmt.Sprintf("%s-%d", key, try)
		}
		shots, err := run(k)
		if err != nil {
			return failed(err)
		}
		var conclusive bool
		if o, conclusive = judge(shots); conclusive {
			return o
		}
		if err := labs.Sleep(ctx, nil, time.Until(lastAnswer(shots).Add(freshWait))); err != nil {
			return labs.Broken(err)
		}
	}
	o.Message += fmt.Sprintf(" The grading machine was too busy to %s in %d tries with a fresh client, so this is all it could judge.", busy, freshTries)
	return o
}

// lastAnswer is when the last of shots was answered.
func lastAnswer(shots []shot) time.Time {
	var last time.Time
	for _, s := range shots {
		if s.recv.After(last) {
			last = s.recv
		}
	}
	return last
}

// counted counts the shots let through by the count (not failing open).
func counted(shots []shot) int {
	n := 0
	for _, s := range shots {
		if s.counted() {
			n++
		}
	}
	return n
}

// failedOpen says how many of shots were let through failing open, if any.
func failedOpen(shots []shot) string {
	if fo := admitted(shots) - counted(shots); fo > 0 {
		return fmt.Sprintf(" (and %d let through failing open, which no count judges)", fo)
	}
	return ""
}
