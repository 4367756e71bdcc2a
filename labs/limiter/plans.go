package limiter

import (
	"context"
	"fmt"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The Pro plan's numbers: 50 at once, then 10 per second.
const (
	planBurst   = 50
	planRate    = 10 // per second
	planOffered = 80 // sent at once to see the burst
	planPace    = 50 * time.Millisecond
	planRun     = 3 * time.Second
	planSpan    = 250 * time.Millisecond
	planSpanMax = 3 // 10 per second spread evenly: at most 3 in any 250 ms
	planIdle    = 5 * time.Second
)

// The plan's check names.
const (
	checkPlanBurst    = "a burst of 50 at once"
	checkPlanRate     = "then 10 per second"
	checkPlanEven     = "spread evenly, not at the top of each second"
	checkPlanBack     = "the burst is back after 5 s idle"
	checkPlanReplicas = "holds across 3 replicas"
)

// planExercise is step 3: a burst and a rate sized together.
func planExercise() labs.Exercise {
	return labs.Exercise{
		ID: "limiter-pro-plan", Lab: "limiter", Step: 3,
		Title: "A Pro plan: 50 at once, then 10 per second",
		Card: []string{
			"A Pro key may send 50 requests at once, then 10 per second, sustained.",
			"The downstream takes 10 per second spread out, not 10 at the top of each second: after the burst, at most 3 pass in any 250 ms.",
			"A key that was idle for 5 seconds has its whole burst of 50 back.",
			"The plan holds across 3 replicas, and a replica that crashes in the middle of a decision leaves no key without a TTL.",
		},
		Scale: "The plan's own numbers; time is the grader's clock, which stands still while requests are in flight: " +
			"80 requests are released at once, then one every 50 ms for 3 s, then the clock moves 5 s on. The same design always gets the same score.",
		Hint: "A window of 50 per 5 s lets the burst through but then nothing for 5 s; a limit of 10 per second gives no burst. " +
			"Size a token bucket's (or GCRA's) limit, window and burst so that both hold, and compare token_bucket_whole_seconds in the live lab.",
		Checks: []labs.Check{
			{Name: checkPlanBurst, Points: 20, Run: checkBurstOf50,
				Requirement: "80 requests from a fresh key, all in flight at once, let exactly 50 through."},
			{Name: checkPlanRate, Points: 20, Run: checkThenRate,
				Requirement: "After the burst, one request every 50 ms for 3 s: between 28 and 32 pass (10 per second)."},
			{Name: checkPlanEven, Points: 20, Run: checkEven,
				Requirement: "In that run, at most 3 requests pass in any 250 ms."},
			{Name: checkPlanBack, Points: 15, Run: checkBurstBack,
				Requirement: "After a burst, 5 s with no requests; then 80 at once let exactly 50 through again."},
			{Name: checkPlanReplicas, Points: 15, Run: checkPlanAcross,
				Requirement: "With 3 replicas sharing the load round-robin, 150 requests one after another let at most 50 through."},
			{Name: checkStranded, Points: 10, Run: checkNoStrandedKey,
				Requirement: "A replica crashes in the middle of a fresh client's first decision; afterwards every key the limiter keeps in Redis has a TTL."},
		},
		References: planReferences(),
	}
}

func planReferences() []labs.Reference {
	good := func(kv ...any) labs.Design {
		d := labs.Design{"algorithm": TokenBucket, "limit": 10, "window_ms": 1000, "burst": 40, "storage": StorageRedis}
		for i := 0; i+1 < len(kv); i += 2 {
			d[kv[i].(string)] = kv[i+1]
		}
		return d
	}
	return []labs.Reference{
		{Name: "token bucket 10 per second, burst 40", Design: good()},
		{Name: "gcra 10 per second, burst 40", Design: good("algorithm", GCRA)},
		{Name: "refilled in whole seconds", Design: good("algorithm", TokenBucketWholeSeconds), Fails: []string{checkPlanRate, checkPlanEven}},
		{Name: "no burst", Design: good("burst", 0), Fails: []string{checkPlanBurst, checkPlanBack}},
		{Name: "burst too big", Design: good("burst", 50), Fails: []string{checkPlanBurst, checkPlanReplicas}},
		{Name: "rate too low", Design: good("limit", 8, "burst", 42), Fails: []string{checkPlanRate, checkPlanBack}},
		{Name: "sliding log of 50 per 5 s", Design: good("algorithm", SlidingLog, "limit", 50, "window_ms", 5000, "burst", 0), Fails: []string{checkPlanRate}},
		{Name: "INCR then EXPIRE, 50 per 5 s", Design: good("algorithm", FixedWindowTwoCommands, "limit", 50, "window_ms", 5000, "burst", 0),
			Fails: []string{checkPlanRate, checkStranded}},
		{Name: "memory storage", Design: good("storage", StorageMemory), Fails: []string{checkPlanReplicas}},
	}
}

// burst releases planOffered requests for key at once and counts those let through.
func burst(ctx context.Context, tg labs.Target, key string) (int, error) {
	as, err := together(ctx, tg, key, planOffered, planOffered)
	n := 0
	for _, a := range as {
		if a.allowed {
			n++
		}
	}
	return n, err
}

func checkBurstOf50(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, _, err := start(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	n, err := burst(ctx, tg, "pro")
	if err != nil {
		return labs.Broken(err)
	}
	if n != planBurst {
		return labs.Fail("%d requests released at once on a fresh key let %d through; the plan's burst is %d.%s", planOffered, n, planBurst, capacityText(tg.Design()))
	}
	return labs.Pass("%d requests released at once on a fresh key let exactly %d through.", planOffered, n)
}

func capacityText(d labs.Design) string {
	if d == nil {
		return ""
	}
	return fmt.Sprintf(" The design lets limit + burst = %d + %d through at once with %s.", d.Int("limit"), d.Int("burst"), d.String("algorithm"))
}

// paced spends the burst, then sends one request every planPace for
// planRun and returns the admitted requests' times since the run began.
func paced(ctx context.Context, t *labs.Trial) (labs.Target, []time.Duration, error) {
	tg, tl, err := start(ctx, t, nil)
	if err != nil {
		return nil, nil, err
	}
	if _, err := burst(ctx, tg, "pro"); err != nil {
		return nil, nil, err
	}
	var in []time.Duration
	for at := planPace; at <= planRun; at += planPace {
		if err := atTime(ctx, tl, at); err != nil {
			return nil, nil, err
		}
		a, err := ask(ctx, tg, "pro")
		if err != nil {
			return nil, nil, err
		}
		if a.allowed {
			in = append(in, at)
		}
	}
	return tg, in, nil
}

func checkThenRate(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, in, err := paced(ctx, t)
	if err != nil {
		return labs.Broken(err)
	}
	lo, hi := planRate*3-2, planRate*3+2
	if len(in) < lo || len(in) > hi {
		return labs.Fail("After the burst, one request every 50 ms for 3 s let %d through; 10 per second is 30 (28 to 32 accepted).%s",
			len(in), rateText(tg.Design()))
	}
	return labs.Pass("After the burst, one request every 50 ms for 3 s let %d through: 10 per second.", len(in))
}

func rateText(d labs.Design) string {
	if d == nil {
		return ""
	}
	why := " A window lets its whole limit back at once and nothing between; a bucket refills limit per window."
	if d.String("algorithm") == TokenBucketWholeSeconds {
		why = " This bucket refills only at the top of each second, so the requests in between wait, and the last second of the run gets one."
	}
	return fmt.Sprintf(" The design: %s, %d per %d ms.%s", d.String("algorithm"), d.Int("limit"), d.Int("window_ms"), why)
}

func checkEven(ctx context.Context, t *labs.Trial) labs.Outcome {
	_, in, err := paced(ctx, t)
	if err != nil {
		return labs.Broken(err)
	}
	most, at := 0, time.Duration(0)
	for i := range in {
		n := 0
		for j := i; j < len(in) && in[j]-in[i] < planSpan; j++ {
			n++
		}
		if n > most {
			most, at = n, in[i]
		}
	}
	if most > planSpanMax {
		return labs.Fail("After the burst, %d requests passed within 250 ms of each other, from %v into the run: the allowance came back in a lump "+
			"(a bucket refilled a second's worth at a time, at the top of the second), and the downstream gets them all at once.", most, at)
	}
	return labs.Pass("After the burst, at most %d requests passed in any 250 ms: the allowance comes back evenly.", most)
}

func checkBurstBack(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, tl, err := start(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	first, err := burst(ctx, tg, "pro")
	if err != nil {
		return labs.Broken(err)
	}
	if err := atTime(ctx, tl, planIdle); err != nil {
		return labs.Broken(err)
	}
	again, err := burst(ctx, tg, "pro")
	if err != nil {
		return labs.Broken(err)
	}
	if again != planBurst {
		return labs.Fail("A burst let %d through; after 5 s idle, another let %d through, not the plan's %d.%s", first, again, planBurst, capacityText(tg.Design()))
	}
	return labs.Pass("A burst let %d through; after 5 s idle, another let exactly %d through.", first, again)
}

func checkPlanAcross(ctx context.Context, t *labs.Trial) labs.Outcome {
	if !t.Can(labs.Replicas) {
		return labs.Skip("This check runs the limiter as 3 replicas, which this target cannot be run as; it counts neither way.")
	}
	tg, _, err := start(ctx, t, map[string]any{"replicas": 3})
	if err != nil {
		return labs.Broken(err)
	}
	tl, _, err := sequential(ctx, tg, "pro", 150)
	if err != nil {
		return labs.Broken(err)
	}
	if tl.allowed > planBurst {
		why := ""
		if d := tg.Design(); d != nil && d.String("storage") == StorageMemory {
			why = " Each replica keeps its own bucket in memory."
		}
		return labs.Fail("With 3 replicas, 150 requests one after another let %d through, more than the burst of %d.%s", tl.allowed, planBurst, why)
	}
	return labs.Pass("With 3 replicas, 150 requests one after another let %d through: one bucket shared in Redis.", tl.allowed)
}
