package limiter

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

func checkLimitHonoured(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, clock, err := start(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	tl, as, err := sequential(ctx, tg, "client-a", quickRequests)
	if err != nil {
		return labs.Broken(err)
	}
	chart := &labs.CheckChart{Title: "Requests admitted so far", XLabel: "request", YLabel: "admitted",
		X: oneTo(len(as)), Series: []labs.ChartSeries{{Name: "admitted", Values: cumulative(as)}}, Limit: limitLine()}
	var o labs.Outcome
	switch {
	case tl.allowed == quota:
		o = labs.Pass("%d of %d requests sent one after another, %s, were admitted: exactly the quota of %d.",
			tl.allowed, tl.sent, pace(clock), quota)
	case tl.allowed < quota:
		o = labs.Fail("Only %d of %d requests sent one after another were admitted: too strict, the quota is %d.%s",
			tl.allowed, tl.sent, quota, because(tooFew(tg.Design())))
	default:
		o = labs.Fail("%d of %d requests sent one after another, %s, were admitted: too many, the quota is %d in any 2 s.%s",
			tl.allowed, tl.sent, pace(clock), quota, because(tooMany(tg.Design())))
	}
	o.Chart = chart
	return o
}

// pace says how fast requests sent one after another came, on the time
// the target decides by.
func pace(clock labs.Timeline) string {
	if clock.Manual() {
		return "with no time passing between them"
	}
	return "as fast as the service answered"
}

func checkKeysIndependent(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, _, err := start(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	a, refusal, _, err := exhaust(ctx, tg, "client-a", exhaustMax)
	if err != nil {
		return labs.Broken(err)
	}
	if refusal.status == 0 {
		return labs.Fail("Client A was never refused in %d requests (%d admitted), so the check could not use up its quota; the quota is %d.%s",
			a.sent, a.allowed, quota, because(tooMany(tg.Design())))
	}
	b, _, _, err := exhaust(ctx, tg, "client-b", exhaustMax)
	if err != nil {
		return labs.Broken(err)
	}
	// B is owed the quota, or what A got fresh when the design's limit
	// differs: that is for "limit honoured" to judge, not this check.
	owed := min(a.allowed, quota)
	note := ""
	if a.allowed != quota {
		note = fmt.Sprintf(" (The quota is %d; \"limit honoured\" judges the count itself.)", quota)
	}
	if b.allowed < owed {
		return labs.Fail("Client A used up its quota (%d admitted, then refused); client B, never seen before, then got only %d through before its first refusal, "+
			"fewer than the %d it is owed: one client's usage counted against another's.%s", a.allowed, b.allowed, owed, note)
	}
	return labs.Pass("Client A used up its quota (%d admitted, then refused); client B then got %d through, its full allowance.%s",
		a.allowed, b.allowed, note)
}

func checkConcurrent(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, _, err := start(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	as, err := together(ctx, tg, "client-a", concurrentCount, concurrentCount)
	if err != nil {
		return labs.Broken(err)
	}
	var tl tally
	for _, a := range as {
		tl.add(a)
	}
	counts := fmt.Sprintf("%d admitted, %d refused with 429", tl.allowed, tl.refused)
	switch {
	case tl.allowed == quota:
		return labs.Pass("Of %d requests released at once on one client: %s. Exactly the quota of %d.", tl.sent, counts, quota)
	case tl.allowed < quota:
		return labs.Fail("Of %d requests released at once on one client: %s. Fewer than the quota of %d.%s",
			tl.sent, counts, quota, because(tooFew(tg.Design())))
	default:
		return labs.Fail("Of %d requests released at once on one client: %s. More than the quota of %d.%s",
			tl.sent, counts, quota, because(tooMany(tg.Design())))
	}
}

func checkReplicas(ctx context.Context, t *labs.Trial) labs.Outcome {
	if !t.Can(labs.Replicas) {
		return labs.Skip("This check runs the limiter as %d replicas sharing the load, which the service under test cannot be run as here; it counts neither way.", quotaReplicas)
	}
	// The requirement fixes the replicas; the rest is the design's.
	tg, _, err := start(ctx, t, map[string]any{"replicas": quotaReplicas})
	if err != nil {
		return labs.Broken(err)
	}
	tl, as, err := sequential(ctx, tg, "client-a", replicaRequests)
	if err != nil {
		return labs.Broken(err)
	}
	st, ok, err := stats(ctx, tg)
	if err != nil {
		return labs.Broken(err)
	}
	perText := "per replica not reported"
	if ok {
		var per []string
		for _, r := range st.PerReplica {
			per = append(per, fmt.Sprintf("replica %d admitted %d", r.Replica, r.Allowed))
		}
		perText = strings.Join(per, ", ")
	}
	var o labs.Outcome
	if tl.allowed <= quota {
		o = labs.Pass("%d of %d requests from one client, spread round-robin over %d replicas, were admitted (%s): at most the quota of %d.",
			tl.allowed, tl.sent, quotaReplicas, perText, quota)
	} else {
		o = labs.Fail("%d of %d requests from one client, spread round-robin over %d replicas, were admitted (%s): more than the quota of %d.%s",
			tl.allowed, tl.sent, quotaReplicas, perText, quota, because(replicaReasons(tg.Design())))
	}
	o.Chart = replicaChart(as)
	return o
}

// replicaReasons explains, from the design, why replicas let more through.
func replicaReasons(d labs.Design) []string {
	if d.String("storage") == StorageMemory {
		return []string{fmt.Sprintf("with storage=memory each of the %d replicas counts on its own, so a client gets up to %d × limit; "+
			"share the count in Redis (storage=redis)", quotaReplicas, quotaReplicas)}
	}
	return tooMany(d)
}

// replicaChart draws what was admitted so far, in total and by replica,
// after each request.
func replicaChart(as []answer) *labs.CheckChart {
	series := []labs.ChartSeries{{Name: "all replicas", Values: cumulative(as)}}
	for r := range quotaReplicas {
		v := make([]float64, len(as))
		n := 0
		for i, a := range as {
			if a.allowed && a.replica == r {
				n++
			}
			v[i] = float64(n)
		}
		series = append(series, labs.ChartSeries{Name: "replica " + strconv.Itoa(r), Values: v})
	}
	return &labs.CheckChart{Title: "Requests admitted so far, 3 replicas", XLabel: "request", YLabel: "admitted",
		X: oneTo(len(as)), Series: series, Limit: limitLine()}
}

func checkRecovery(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, clock, err := start(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	used, refusal, last, err := exhaust(ctx, tg, "client-a", exhaustMax)
	if err != nil {
		return labs.Broken(err)
	}
	if refusal.status == 0 {
		return labs.Fail("The client was never refused in %d requests (%d admitted), so there was no used-up quota to come back; the quota is %d.%s",
			used.sent, used.allowed, quota, because(tooMany(tg.Design())))
	}
	if used.allowed == 0 {
		return labs.Fail("The very first request of a fresh client was refused, so no quota was ever there to come back.%s",
			because(tooFew(tg.Design())))
	}
	wait := quotaWindowMS*time.Millisecond + recoveryMargin
	if err := clock.AdvanceTo(ctx, time.UnixMilli(last.at).Add(wait)); err != nil {
		return labs.Broken(err)
	}
	again, as, err := sequential(ctx, tg, "client-a", quota)
	if err != nil {
		return labs.Broken(err)
	}
	waited := fmt.Sprintf("%.1f s", wait.Seconds())
	if as[0].allowed {
		return labs.Pass("The client used up its quota (%d admitted, then refused); %s after its last admitted request the next request passed; %d of the %d requests sent then passed.",
			used.allowed, waited, again.allowed, again.sent)
	}
	why := []string{}
	if w := tg.Design().Int("window_ms"); w > quotaWindowMS {
		why = append(why, fmt.Sprintf("the design's window is %d ms, longer than the quota's 2 s", w))
	}
	if ra := as[0].retryAfter; ra != "" {
		why = append(why, "the refusal said Retry-After: "+ra+" s")
	}
	return labs.Fail("The client used up its quota (%d admitted, then refused); %s after its last admitted request it was still refused with 429, "+
		"and %d of the %d requests sent then passed. The quota should be back 2 s after it was used.%s",
		used.allowed, waited, again.allowed, again.sent, because(why))
}

func checkRetryAfter(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, clock, err := start(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	used, refusal, _, err := exhaust(ctx, tg, "client-a", exhaustMax)
	if err != nil {
		return labs.Broken(err)
	}
	if refusal.status == 0 {
		return labs.Fail("The client was never refused in %d requests (%d admitted), so there was no Retry-After to check; the quota is %d.%s",
			used.sent, used.allowed, quota, because(tooMany(tg.Design())))
	}
	ra, err := strconv.Atoi(refusal.retryAfter)
	if err != nil || ra < 0 {
		return labs.Fail("After %d admitted requests the refusal answered 429 with Retry-After %q, not a number of seconds.", used.allowed, refusal.retryAfter)
	}
	said := time.Duration(ra) * time.Second
	bound := min(said+retrySlack, retryMaxWait)
	var (
		passed answer
		probes int
	)
	for waited := retryProbe; waited <= bound; waited += retryProbe {
		if err := clock.AdvanceTo(ctx, time.UnixMilli(refusal.at).Add(waited)); err != nil {
			return labs.Broken(err)
		}
		a, err := ask(ctx, tg, "client-a")
		if err != nil {
			return labs.Broken(err)
		}
		probes++
		if a.allowed {
			passed = a
			break
		}
	}
	if passed.status == 0 {
		waited := fmt.Sprintf("%.1f s", bound.Seconds())
		if said+retrySlack > retryMaxWait {
			// The check could not wait that long, and need not: the
			// requirement says when the quota is back.
			return labs.Fail("The refusal said Retry-After: %d s. Under the requirement a client's quota is back 2 s after it was used, "+
				"so an honest Retry-After for a client that just used a fresh quota is at most 2 s (plus the 1 s tolerance); "+
				"nothing passed in the %v the check tried after it (%d requests, every %d ms).%s",
				ra, waited, probes, retryProbe.Milliseconds(), because(retryReasons(tg.Design())))
		}
		return labs.Fail("The refusal said Retry-After: %d s, but nothing passed in the %v the check tried after it (%d requests, every %d ms): "+
			"Retry-After promises too early a return.", ra, waited, probes, retryProbe.Milliseconds())
	}
	truth := passed.at - refusal.at
	off := int64(ra)*1000 - truth
	if off < 0 {
		off = -off
	}
	if off <= retryToleranceMS {
		return labs.Pass("The refusal after %d admitted requests said Retry-After: %d s; trying every %d ms, the first request passed %.2f s later, within 1 s of it.",
			used.allowed, ra, retryProbe.Milliseconds(), float64(truth)/1000)
	}
	return labs.Fail("The refusal after %d admitted requests said Retry-After: %d s, but the first request passed %.2f s later (trying every %d ms): %.2f s off, more than 1 s.",
		used.allowed, ra, float64(truth)/1000, retryProbe.Milliseconds(), float64(off)/1000)
}

func retryReasons(d labs.Design) []string {
	if d == nil {
		return nil
	}
	if w := d.Int("window_ms"); w > quotaWindowMS {
		return []string{fmt.Sprintf("the design's window is %d ms, so its Retry-After tells the client to wait that long, not the quota's 2 s", w)}
	}
	return nil
}

// checkLatency measures how long decisions take in real time: the one
// check about the machine's speed, reported and never scored. The limiter
// still decides on the suite's clock, so a slow machine cannot turn late
// decisions into store failures.
func checkLatency(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, _, err := start(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	spec := labs.LoadSpec{Requests: latencyDecisions, Concurrency: 16, Keys: 100}
	sum := labs.RunLoadOn(ctx, tg, spec, func(key string) (string, string) {
		return http.MethodPost, "/request?key=" + url.QueryEscape(key)
	})
	if err := ctx.Err(); err != nil {
		return labs.Broken(err)
	}
	if sum.Requests < spec.Requests || sum.Errors > 0 {
		return labs.Broken(fmt.Errorf("the load run stopped after %d of %d requests, %d failed: %s", sum.Requests, spec.Requests, sum.Errors, sum.Stopped))
	}
	st, ok, err := stats(ctx, tg)
	if err != nil {
		return labs.Broken(err)
	}
	if ok && st.Totals.StoreErrors > 0 {
		// Past the real-time backstop: Redis itself was in trouble.
		return labs.Broken(fmt.Errorf("%d of %d decisions failed in the limiter's Redis", st.Totals.StoreErrors, sum.Requests))
	}
	return labs.Pass("%s decisions over %d clients, %d in flight, at %s per second: p50 %s, p99 %s.",
		labs.Thousands(sum.Requests), spec.Keys, spec.Concurrency, labs.Rate(sum.RatePerS), labs.Millis(sum.P50MS), labs.Millis(sum.P99MS))
}
