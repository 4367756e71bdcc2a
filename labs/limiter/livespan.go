package limiter

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The build exercise's checks of time: the sliding span and Retry-After,
// on real time.
const (
	// The span attack on real time: one request, then a burst of
	// spanBurst spanPrimed later, then one request every spanProbeEvery
	// until provenSpan has passed since the burst. A window that starts
	// at a client's first request ends during the probes, and so does a
	// window on the clock's boundaries (wherever they fall, the primer
	// and the burst are in one window, or the burst is in the next);
	// either lets a fresh quota through while the burst's is still within
	// 2 s.
	spanPrimed     = time.Second
	spanProbeEvery = 100 * time.Millisecond
	// retryTiming is allowed around Retry-After for when the decisions
	// were made, beyond the whole second it is rounded up to.
	retryTiming = 250 * time.Millisecond
)

func liveSpan(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, err := startLive(ctx, t, 1)
	if err != nil {
		return failed(err)
	}
	const key = "client-a"
	primer, err := shoot(ctx, tg, key, answerWait)
	if err != nil {
		return failed(err)
	}
	if !primer.allowed {
		return labs.Fail("The first request of a fresh client was refused with 429.")
	}
	if err := labs.Sleep(ctx, nil, time.Until(primer.sent.Add(spanPrimed))); err != nil {
		return labs.Broken(err)
	}
	burst, err := atOnce(ctx, tg, key, spanBurst, spanWorkers)
	if err != nil {
		return failed(err)
	}
	probes, err := probeUntil(ctx, tg, key, earliest(burst).Add(provenSpan))
	if err != nil {
		return failed(err)
	}
	all := append(append([]shot{primer}, burst...), probes...)
	seen := fmt.Sprintf("A fresh client sent 1 request, %s later %d at once, then %d one every %d ms: 1, %d and %d of them admitted",
		seconds(burst[0].sent.Sub(primer.sent)), len(burst), len(probes), spanProbeEvery.Milliseconds(), admitted(burst), admitted(probes))
	var o labs.Outcome
	if most, within := proven(all); most > quota {
		o = labs.Fail("%s; %s.%s", seen, tooMuch(most, within), restarted(admitted(probes)))
	} else {
		o = labs.Pass("%s; never more than the quota of %d within 2 s.", seen, quota)
	}
	o.Chart = timeChart(all, primer.sent)
	return o
}

// restarted explains a span failure when more than one probe got
// through after the burst: the count started afresh.
func restarted(probes int) string {
	if probes <= 1 {
		return ""
	}
	return " A count that starts afresh when a window ends lets a client use its quota at the end of one window and again at the start of the next: " +
		"keep when each admitted request came (a sliding log) and count those of the last 2 s."
}

// probeUntil sends one request for key every spanProbeEvery (or as soon
// as the last was answered, if that took longer) until end.
func probeUntil(ctx context.Context, tg labs.Target, key string, end time.Time) ([]shot, error) {
	var out []shot
	for next := time.Now(); ; next = next.Add(spanProbeEvery) {
		if err := labs.Sleep(ctx, nil, time.Until(next)); err != nil {
			return out, err
		}
		if !time.Now().Before(end) {
			return out, nil
		}
		s, err := shoot(ctx, tg, key, answerWait)
		if err != nil {
			return out, err
		}
		out = append(out, s)
		next = later(next, s.recv.Add(-spanProbeEvery))
	}
}

// later is the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// earliest is when the first of shots was sent.
func earliest(shots []shot) time.Time {
	first := shots[0].sent
	for _, s := range shots {
		if s.sent.Before(first) {
			first = s.sent
		}
	}
	return first
}

// timeChart draws admitted so far against time since start.
func timeChart(shots []shot, start time.Time) *labs.CheckChart {
	c := &labs.CheckChart{Title: "Requests admitted so far", XLabel: "ms since the first request", YLabel: "admitted", Limit: limitLine()}
	var y []float64
	n := 0
	for _, s := range sortedByRecv(shots) {
		if s.allowed {
			n++
		}
		c.X = append(c.X, float64(s.recv.Sub(start).Milliseconds()))
		y = append(y, float64(n))
	}
	c.Series = []labs.ChartSeries{{Name: "admitted", Values: y}}
	return c
}

func sortedByRecv(shots []shot) []shot {
	out := slices.Clone(shots)
	slices.SortStableFunc(out, func(a, b shot) int { return a.recv.Compare(b.recv) })
	return out
}

func liveRetry(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, err := startLive(ctx, t, 1)
	if err != nil {
		return failed(err)
	}
	var o labs.Outcome
	for try := 1; try <= freshTries; try++ {
		key := "client-a"
		if try > 1 {
			key = fmt.Sprintf("client-a-%d", try)
		}
		var ra int
		if o, ra = retryOnce(ctx, tg, key); !o.Passed || ra > 1 {
			return o
		}
		// Retry-After: 1 was honest, but only because the quota came
		// back within a second or so: on a busy machine the burst took
		// most of the window. A service that always says 1 would have
		// passed too, so a fresh client tries again.
	}
	return o
}

// retryOnce is one try of the Retry-After check with a fresh client; ra
// is the Retry-After it judged.
func retryOnce(ctx context.Context, tg labs.Target, key string) (labs.Outcome, int) {
	// Use the quota at once, so the wait that follows is nearly the whole
	// window: a Retry-After that is too short shows.
	burst, err := atOnce(ctx, tg, key, quota+5, quota+5)
	if err != nil {
		return failed(err), 0
	}
	rest, refused, err := untilRefused(ctx, tg, key, exhaustMax)
	if err != nil {
		return failed(err), 0
	}
	if !refused {
		return labs.Fail("The client was never refused in %d requests, so there was no Retry-After to check; the quota is %d.", len(burst)+len(rest), quota), 0
	}
	r := rest[len(rest)-1]
	ra, err := strconv.Atoi(r.retryAfter)
	if err != nil || ra < 1 {
		return labs.Fail("After %d admitted requests the refusal answered 429 with Retry-After %q, not a whole number of seconds of at least 1.",
			admitted(burst)+admitted(rest), r.retryAfter), 0
	}
	said := time.Duration(ra) * time.Second
	var probes []shot
	var passed shot
	for next := r.recv.Add(retryProbe); next.Before(r.recv.Add(min(said+retrySlack, retryMaxWait))); next = next.Add(retryProbe) {
		if err := labs.Sleep(ctx, nil, time.Until(next)); err != nil {
			return labs.Broken(err), 0
		}
		s, err := shoot(ctx, tg, key, answerWait)
		if err != nil {
			return failed(err), 0
		}
		probes = append(probes, s)
		if s.allowed {
			passed = s
			break
		}
		next = later(next, s.recv.Add(-retryProbe))
	}
	return judgeRetry(r, ra, probes, passed), ra
}

// judgeRetry judges Retry-After ra, said by refusal r, against the probes
// sent after it until one passed.
func judgeRetry(r shot, ra int, probes []shot, passed shot) labs.Outcome {
	said := time.Duration(ra) * time.Second
	for _, s := range probes {
		// The service promised, when it decided (by r.recv at the
		// latest), that a request ra seconds later would pass.
		if !s.allowed && s.sent.Sub(r.recv) >= said+retryTiming {
			first := "nothing passed in the " + seconds(probes[len(probes)-1].sent.Sub(r.recv)) + " the check tried"
			if !passed.recv.IsZero() {
				first = "the first request passed " + seconds(passed.recv.Sub(r.recv)) + " after it"
			}
			return labs.Fail("The refusal said Retry-After: %d s, but a request sent %s after it was answered was still refused (%s). "+
				"A client that waits what Retry-After says should get in: say the time until a request would pass, rounded up to whole seconds.",
				ra, seconds(s.sent.Sub(r.recv)), first)
		}
	}
	if passed.recv.IsZero() {
		return labs.Fail("The refusal said Retry-After: %d s; nothing passed in the %s the check tried after it (%d requests, every %d ms). "+
			"Under the quota a client's requests come back within 2 s.", ra, seconds(probes[len(probes)-1].sent.Sub(r.recv)), len(probes), retryProbe.Milliseconds())
	}
	if early := passed.recv.Sub(r.sent); early < said-time.Second-retryTiming {
		return labs.Fail("The refusal said Retry-After: %d s, but a request passed %s after it: Retry-After is the time until a request would pass, rounded up to whole seconds, "+
			"so %d s means more than %d s.", ra, seconds(early), ra, ra-1)
	}
	return labs.Pass("The refusal said Retry-After: %d s; trying every %d ms, the first request passed %s after it was answered: an honest Retry-After.",
		ra, retryProbe.Milliseconds(), seconds(passed.recv.Sub(r.recv)))
}
