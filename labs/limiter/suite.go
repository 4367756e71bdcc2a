package limiter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The API quota exercise's numbers. The product requirement is 100 requests
// per minute per client across 3 replicas; for grading a minute became 2 s
// and 100 became 20, so the whole suite runs in seconds.
const (
	quota         = 20
	quotaWindowMS = 2000
	quotaReplicas = 3
	// retryToleranceMS is how far Retry-After may be from the truth.
	retryToleranceMS = 1000
	// latencyDecisions is the size of the latency measurement: enough for
	// a p99 (ten decisions above it), and the one part of the suite whose
	// running time grows with the machine's load.
	latencyDecisions = 1000
)

// gradingStart is where the suite's clock starts in every check: one fixed
// instant, the start of a window of every length that divides a day, so
// each check meets the design's windows in the same place on every run.
var gradingStart = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)

// The suite's sizes and times. Every time is on the suite's own clock (see
// start), which stands still while requests are in flight: a burst takes
// no time at all for the limiter, and the suite moves the clock itself to
// place a burst or to wait out a window.
const (
	quickRequests   = 2 * quota // limit honoured
	concurrentCount = 200       // exact under concurrency
	replicaRequests = 100       // holds across replicas
	exhaustMax      = 100       // requests sent to use up a key before giving up

	// The boundary attack: a burst of spanBurst requests spanLead before
	// a window boundary and one of quota requests spanAfter past it
	// (enough for a fixed window to admit a second quota), spanWorkers in
	// flight. The lead gives a token bucket or GCRA time to refill a few
	// requests between the bursts (3 at 20 per 2 s). A sliding window
	// counter's estimate still counts the whole previous window spanAfter
	// past the boundary and lets nothing more in until window / limit
	// (100 ms here) has passed.
	spanLead    = 300 * time.Millisecond
	spanAfter   = 10 * time.Millisecond
	spanBurst   = quota + 10
	spanWorkers = 16
	// A design whose window is shorter than the quota's gets a third burst
	// spanThirdAfter after its window has passed since the first burst,
	// when that is still within 2 s of it.
	spanThirdAfter = 10 * time.Millisecond

	// recoveryMargin is waited beyond the window after the last admitted
	// request before asking again: a sliding window counter may take up to
	// window / limit (100 ms) longer to let a request in, depending on
	// where in its window the quota was used.
	recoveryMargin = 300 * time.Millisecond

	// After a refusal, the clock moves on retryProbe at a time, with one
	// request each, until a request passes, for at most Retry-After +
	// retrySlack, and never more than retryMaxWait: under the requirement
	// a used-up quota comes back within the window.
	retryProbe   = 50 * time.Millisecond
	retrySlack   = 1500 * time.Millisecond
	retryMaxWait = quotaWindowMS*time.Millisecond + retryToleranceMS*time.Millisecond + retrySlack
)

// The check names, as learners read them and references name them.
const (
	checkLimit       = "limit honoured"
	checkKeys        = "keys independent"
	checkConcurrency = "exact under 200 concurrent requests"
	checkReplicated  = "holds across 3 replicas"
	checkSpan        = "no more than the limit in any sliding span"
	checkRecovers    = "recovers after the window"
	checkRetry       = "Retry-After honest"
	checkLatencyP99  = "decision latency p99"
)

// Exercises are the rate limiter's graded tasks.
func (lab) Exercises() []labs.Exercise {
	return []labs.Exercise{{
		ID:    "limiter-api-quota",
		Lab:   "limiter",
		Title: "An API quota across replicas",
		Card: []string{
			"Each client (API key) has a quota of 20 requests per 2 seconds.",
			"The quota is enforced across 3 replicas that share the load round-robin.",
			"No client gets more than 20 requests through in any 2-second span, including across window boundaries.",
			"A refused request answers 429 with a Retry-After that is honest to within 1 s.",
			"The quota comes back once the window has passed.",
			"One client's usage never affects another's.",
		},
		Scale: "The product requirement is 100 requests per minute per client, enforced across 3 replicas, " +
			"with no client getting more than 100 in any 60-second span. For grading, 60 s became 2 s and 100 requests became 20, " +
			"so the suite finishes in seconds; the 3 replicas and the 1 s tolerance on Retry-After are unchanged. " +
			"Time is judged on the grader's own clock, not the machine's: the limiter takes the time the grader hands it " +
			"(in the live lab it reads Redis TIME), the grader holds that clock still while its requests are in flight, " +
			"so a burst takes no time at all however busy the grading machine is, and it moves the clock itself: " +
			"to send a burst 300 ms before a window boundary and another 10 ms after it, to wait 2.3 s after a client's last admitted request, " +
			"or to try again every 50 ms after a refusal. The same design therefore always gets the same score. " +
			"Since no decision takes any time on that clock, timeout_ms never decides a check (the card says nothing about a slow Redis). " +
			"Only the decision latency is measured in real time; it is reported, never scored.",
		Hint: "Read the rate limiter lesson. In the lab, try the boundary burst with each algorithm, " +
			"and a load on one key with 3 replicas and memory storage, then redis storage.",
		Checks: []labs.Check{
			{Name: checkLimit, Points: 15, Run: checkLimitHonoured,
				Requirement: "A fresh client sending 40 requests one after another, with no time passing between them, gets exactly 20 through: no more, and no fewer."},
			{Name: checkKeys, Points: 10, Run: checkKeysIndependent,
				Requirement: "After client A has used up its quota, client B still gets its full quota (20, or as many as A got fresh if the limit is wrong)."},
			{Name: checkConcurrency, Points: 15, Run: checkConcurrent,
				Requirement: "200 requests from one fresh client, all in flight at once, let exactly 20 through."},
			{Name: checkReplicated, Points: 20, Run: checkReplicas,
				Requirement: "With 3 replicas sharing the load round-robin, 100 requests from one client let at most 20 through."},
			{Name: checkSpan, Points: 20, Run: checkSlidingSpan,
				Requirement: "A burst 300 ms before a window boundary and another 10 ms after it (and, if the window is shorter than 2 s, a third once it has passed) let at most 20 through in any 2-second span."},
			{Name: checkRecovers, Points: 10, Run: checkRecovery,
				Requirement: "A client that used up its quota is let through again 2.3 s after its last admitted request: once the 2 s window has passed, with 300 ms to spare."},
			{Name: checkRetry, Points: 10, Run: checkRetryAfter,
				Requirement: "A refused request answers 429 with Retry-After, and the first request to pass, trying every 50 ms after the refusal, comes within 1 s of what Retry-After said."},
			{Name: checkLatencyP99, Points: 0, Run: checkLatency,
				Requirement: "Measured in real time, not graded: the p50 and p99 of 1000 decisions over 100 clients, 16 in flight."},
		},
		References: quotaReferences(),
	}}
}

// quotaReferences are the designs whose verdicts are known: two that meet
// the quota and the classic mistakes, each with every check it fails.
func quotaReferences() []labs.Reference {
	// good is an exact sliding log of 20 per 2 s shared in Redis, with
	// changes; every other field keeps its default, as a learner would
	// leave it.
	good := func(kv ...any) labs.Design {
		d := labs.Design{"algorithm": SlidingLog, "limit": 20, "window_ms": 2000, "storage": StorageRedis, "burst": 0}
		for i := 0; i+1 < len(kv); i += 2 {
			d[kv[i].(string)] = kv[i+1]
		}
		return d
	}
	return []labs.Reference{
		{Name: "sliding log", Design: good()},
		{Name: "sliding window counter", Design: good("algorithm", SlidingWindow)},
		{Name: "limit too low", Design: good("limit", 10), Fails: []string{checkLimit, checkConcurrency}},
		{Name: "limit too high", Design: good("limit", 30), Fails: []string{checkLimit, checkConcurrency, checkReplicated, checkSpan}},
		{Name: "memory storage", Design: good("storage", StorageMemory), Fails: []string{checkReplicated}},
		{Name: "memory storage on 3 replicas", Design: good("storage", StorageMemory, "replicas", 3),
			Fails: []string{checkLimit, checkConcurrency, checkReplicated, checkSpan}},
		{Name: "fixed window", Design: good("algorithm", FixedWindow), Fails: []string{checkSpan}},
		{Name: "window too short", Design: good("window_ms", 1000), Fails: []string{checkSpan}},
		{Name: "token bucket", Design: good("algorithm", TokenBucket), Fails: []string{checkSpan}},
		{Name: "gcra", Design: good("algorithm", GCRA), Fails: []string{checkSpan}},
		{Name: "window too long", Design: good("window_ms", 10000), Fails: []string{checkRecovers, checkRetry}},
	}
}

// start launches the design with changes on a clock of the suite's own,
// which stands still until the check moves it. The limiter decides by it
// (Redis TIME does not come into it), so what a check sees depends on the
// design and never on how fast the machine answers.
func start(ctx context.Context, t *labs.Trial, changes map[string]any) (*labs.Probe, *labs.ManualClock, error) {
	clock := labs.NewManualClock(gradingStart)
	t.Clock = clock
	p, err := t.Launch(ctx, changes)
	return p, clock, err
}

// answer is one request's outcome as a client sees it.
type answer struct {
	status     int
	allowed    bool
	at         int64 // the limiter's clock at the decision, Unix ms
	retryAfter string
	replica    int
}

// ask sends POST request?key=key, as a client would. An error is the
// environment's (or the grader's context ending), not the design's.
func ask(ctx context.Context, p *labs.Probe, key string) (answer, error) {
	r := p.Do(ctx, http.MethodPost, "request?key="+url.QueryEscape(key), nil)
	a := answer{status: r.Status, retryAfter: r.Header.Get("Retry-After")}
	if err := ctx.Err(); err != nil {
		return a, err
	}
	var body Response
	switch r.Status {
	case http.StatusOK, http.StatusTooManyRequests, http.StatusServiceUnavailable:
		// A 503 is on_store_error refusing; its body says why.
		if err := r.JSON(&body); err != nil {
			return a, fmt.Errorf("POST request?key=%s: reading the body: %w", key, err)
		}
	}
	switch {
	case body.StoreError != "":
		// The suite's clock stands still, so timeout_ms cannot end a
		// decision: a store that did not decide within the real-time
		// backstop is the environment's failure, not the design's.
		return a, fmt.Errorf("the limiter's Redis did not decide: %s", body.StoreError)
	case r.Status != http.StatusOK && r.Status != http.StatusTooManyRequests:
		return a, fmt.Errorf("POST request?key=%s answered %d: %s", key, r.Status, r.Body)
	}
	a.allowed = r.Status == http.StatusOK
	a.at, a.replica = body.DecidedAtMS, body.Replica
	return a, nil
}

// tally counts answers.
type tally struct{ sent, allowed, refused int }

func (t *tally) add(a answer) {
	t.sent++
	if a.allowed {
		t.allowed++
	} else {
		t.refused++
	}
}

// windowed reports whether the design counts in fixed windows aligned to
// multiples of window_ms, whose boundaries matter.
func windowed(d labs.Design) bool {
	alg := d.String("algorithm")
	return alg == FixedWindow || alg == SlidingWindow
}

// exhaust sends requests for key one after another until one is refused
// or max were sent. It returns the tally, the refusal (zero
// when none came) and the last admitted answer.
func exhaust(ctx context.Context, p *labs.Probe, key string, max int) (tally, answer, answer, error) {
	var (
		tl          tally
		lastAllowed answer
	)
	for range max {
		a, err := ask(ctx, p, key)
		if err != nil {
			return tl, answer{}, lastAllowed, err
		}
		tl.add(a)
		if !a.allowed {
			return tl, a, lastAllowed, nil
		}
		lastAllowed = a
	}
	return tl, answer{}, lastAllowed, nil
}

// sequential sends n requests for key one after another.
func sequential(ctx context.Context, p *labs.Probe, key string, n int) (tally, []answer, error) {
	var tl tally
	out := make([]answer, 0, n)
	for range n {
		a, err := ask(ctx, p, key)
		if err != nil {
			return tl, out, err
		}
		tl.add(a)
		out = append(out, a)
	}
	return tl, out, nil
}

// together sends n requests for key with workers in flight at a time (n
// workers: all at once, released together).
func together(ctx context.Context, p *labs.Probe, key string, n, workers int) ([]answer, error) {
	out := make([]answer, n)
	errs := make([]error, n)
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				out[i], errs[i] = ask(ctx, p, key)
			}
		}()
	}
	close(start)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, errors.Join(errs...)
}

// cumulative is how many were admitted after each answer: a chart series.
func cumulative(as []answer) []float64 {
	out := make([]float64, len(as))
	n := 0
	for i, a := range as {
		if a.allowed {
			n++
		}
		out[i] = float64(n)
	}
	return out
}

func oneTo(n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = float64(i + 1)
	}
	return x
}

func limitLine() *float64 {
	v := float64(quota)
	return &v
}

// because explains a result with the reasons found, or says nothing.
func because(reasons []string) string {
	if len(reasons) == 0 {
		return ""
	}
	return " Likely why: " + strings.Join(reasons, "; ") + "."
}

// tooMany lists what in the design lets more than the quota through in a
// run of requests with no time passing.
func tooMany(d labs.Design) []string {
	c := configOf(d)
	var why []string
	if c.limit > quota {
		why = append(why, fmt.Sprintf("the design's limit is %d, above the quota of %d", c.limit, quota))
	}
	if c.storage == StorageMemory && c.replicas > 1 {
		why = append(why, fmt.Sprintf("with storage=memory each of the %d replicas counts on its own, so a client gets up to %d × limit",
			c.replicas, c.replicas))
	}
	if c.capacity() > c.limit {
		why = append(why, fmt.Sprintf("%s with burst %d lets limit + burst = %d through at once", c.algorithm, c.burst, c.capacity()))
	}
	// No time passes during these runs, so neither a short window nor a
	// continuous refill can be why.
	return why
}

// tooFew lists what in the design refuses requests within the quota.
func tooFew(d labs.Design) []string {
	c := configOf(d)
	if c.capacity() < quota {
		return []string{fmt.Sprintf("the design lets %d through at once (limit %d), below the quota of %d", c.capacity(), c.limit, quota)}
	}
	return nil
}

func checkLimitHonoured(ctx context.Context, t *labs.Trial) labs.Outcome {
	p, _, err := start(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	tl, as, err := sequential(ctx, p, "client-a", quickRequests)
	if err != nil {
		return labs.Broken(err)
	}
	chart := &labs.CheckChart{Title: "Requests admitted so far", XLabel: "request", YLabel: "admitted",
		X: oneTo(len(as)), Series: []labs.ChartSeries{{Name: "admitted", Values: cumulative(as)}}, Limit: limitLine()}
	var o labs.Outcome
	switch {
	case tl.allowed == quota:
		o = labs.Pass("%d of %d requests sent one after another, with no time passing between them, were admitted: exactly the quota of %d.",
			tl.allowed, tl.sent, quota)
	case tl.allowed < quota:
		o = labs.Fail("Only %d of %d requests sent one after another were admitted: too strict, the quota is %d.%s",
			tl.allowed, tl.sent, quota, because(tooFew(p.Design)))
	default:
		o = labs.Fail("%d of %d requests sent one after another, with no time passing between them, were admitted: too many, the quota is %d in any 2 s.%s",
			tl.allowed, tl.sent, quota, because(tooMany(p.Design)))
	}
	o.Chart = chart
	return o
}

func checkKeysIndependent(ctx context.Context, t *labs.Trial) labs.Outcome {
	p, _, err := start(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	a, refusal, _, err := exhaust(ctx, p, "client-a", exhaustMax)
	if err != nil {
		return labs.Broken(err)
	}
	if refusal.status == 0 {
		return labs.Fail("Client A was never refused in %d requests (%d admitted), so the check could not use up its quota; the quota is %d.%s",
			a.sent, a.allowed, quota, because(tooMany(p.Design)))
	}
	b, _, _, err := exhaust(ctx, p, "client-b", exhaustMax)
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
	p, _, err := start(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	as, err := together(ctx, p, "client-a", concurrentCount, concurrentCount)
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
			tl.sent, counts, quota, because(tooFew(p.Design)))
	default:
		return labs.Fail("Of %d requests released at once on one client: %s. More than the quota of %d.%s",
			tl.sent, counts, quota, because(tooMany(p.Design)))
	}
}

func checkReplicas(ctx context.Context, t *labs.Trial) labs.Outcome {
	// The requirement fixes the replicas; the rest is the design's.
	p, _, err := start(ctx, t, map[string]any{"replicas": quotaReplicas})
	if err != nil {
		return labs.Broken(err)
	}
	tl, as, err := sequential(ctx, p, "client-a", replicaRequests)
	if err != nil {
		return labs.Broken(err)
	}
	var st State
	if r := p.Do(ctx, http.MethodGet, "stats", nil); r.Status != http.StatusOK {
		return labs.Broken(fmt.Errorf("GET stats answered %d: %s", r.Status, r.Body))
	} else if err := r.JSON(&st); err != nil {
		return labs.Broken(fmt.Errorf("GET stats: %w", err))
	}
	var per []string
	for _, r := range st.PerReplica {
		per = append(per, fmt.Sprintf("replica %d admitted %d", r.Replica, r.Allowed))
	}
	perText := strings.Join(per, ", ")

	// Admitted so far, in total and by replica, after each request.
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
	chart := &labs.CheckChart{Title: "Requests admitted so far, 3 replicas", XLabel: "request", YLabel: "admitted",
		X: oneTo(len(as)), Series: series, Limit: limitLine()}

	var o labs.Outcome
	if tl.allowed <= quota {
		o = labs.Pass("%d of %d requests from one client, spread round-robin over %d replicas, were admitted (%s): at most the quota of %d.",
			tl.allowed, tl.sent, quotaReplicas, perText, quota)
	} else {
		why := tooMany(p.Design)
		if p.Design.String("storage") == StorageMemory {
			why = []string{fmt.Sprintf("with storage=memory each of the %d replicas counts on its own, so a client gets up to %d × limit; "+
				"share the count in Redis (storage=redis)", quotaReplicas, quotaReplicas)}
		}
		o = labs.Fail("%d of %d requests from one client, spread round-robin over %d replicas, were admitted (%s): more than the quota of %d.%s",
			tl.allowed, tl.sent, quotaReplicas, perText, quota, because(why))
	}
	o.Chart = chart
	return o
}

// spanned is one answer of the boundary attack, timed relative to the
// boundary on the limiter's clock.
type spanned struct {
	burst int
	answer
}

func checkSlidingSpan(ctx context.Context, t *labs.Trial) labs.Outcome {
	p, clock, err := start(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	// Aim at a window boundary of the design where it has them; otherwise
	// any moment will do, as the design keeps no boundary to exploit.
	w := int64(p.Design.Int("window_ms"))
	earliest := clock.Now().UnixMilli() + spanLead.Milliseconds()
	boundary, aligned := earliest, false
	if windowed(p.Design) {
		boundary, aligned = (earliest+w-1)/w*w, true
	}
	// Bursts, relative to the boundary: one before it, one just after, and
	// when the design's window is shorter than the quota's, one more as
	// soon as that window has passed since the first burst, still within
	// 2 s of it.
	const key = "client-a"
	var (
		all   []spanned
		sends = []int64{-spanLead.Milliseconds(), spanAfter.Milliseconds()}
		sizes = []int{spanBurst, quota}
	)
	for i := 0; i < len(sends); i++ {
		clock.Set(time.UnixMilli(boundary + sends[i]))
		as, err := together(ctx, p, key, sizes[i], spanWorkers)
		if err != nil {
			return labs.Broken(err)
		}
		for _, a := range as {
			all = append(all, spanned{burst: i + 1, answer: a})
		}
		if i > 0 {
			continue
		}
		// The first burst's admissions, on the limiter's clock (all at one
		// moment, as the clock stood still).
		var firstIn, lastIn int64
		for _, a := range as {
			if a.allowed && (firstIn == 0 || a.at < firstIn) {
				firstIn = a.at
			}
			if a.allowed && a.at > lastIn {
				lastIn = a.at
			}
		}
		if third := lastIn + w + spanThirdAfter.Milliseconds(); lastIn > 0 && third-boundary > sends[1] && third-firstIn < quotaWindowMS {
			sends, sizes = append(sends, third-boundary), append(sizes, spanBurst)
		}
	}
	at := sends

	var (
		ats     []int64 // admitted, relative to the boundary
		after   int
		byBurst = make([]int, len(at)+1)
	)
	for i := range all {
		s := &all[i]
		s.at -= boundary
		if !s.allowed {
			continue
		}
		byBurst[s.burst]++
		ats = append(ats, s.at)
		if s.at >= 0 {
			after++
		}
	}
	slices.Sort(ats)
	// inSpan counts admissions in (t − 2 s, t].
	inSpan := func(t int64) int {
		lo, _ := slices.BinarySearch(ats, t-quotaWindowMS+1)
		hi, _ := slices.BinarySearch(ats, t+1)
		return hi - lo
	}
	worst, worstAt := 0, int64(0)
	for _, a := range ats {
		if n := inSpan(a); n > worst {
			worst, worstAt = n, a
		}
	}
	var spanMS int64
	if len(ats) > 0 {
		spanMS = ats[len(ats)-1] - ats[0]
	}

	chart := spanChart(all, inSpan)
	var seen string
	if aligned {
		chart.XLabel = "ms from the window boundary"
		seen = fmt.Sprintf("%d requests %d ms before a window boundary of the design and %d more %d ms after it: %d admitted in the first burst and %d in the second",
			spanBurst, spanLead.Milliseconds(), quota, spanAfter.Milliseconds(), byBurst[1], byBurst[2])
	} else {
		chart.XLabel = "ms from the moment between the bursts"
		seen = fmt.Sprintf("%d requests at once and %d more %d ms later (%s keeps no window boundary to aim at): %d admitted in the first burst and %d in the second",
			spanBurst, quota, at[1]-at[0], p.Design.String("algorithm"), byBurst[1], byBurst[2])
	}
	if len(at) > 2 {
		seen += fmt.Sprintf("; then, since the design's window is only %d ms, %d more once that window had passed, %d ms after the first burst: %d admitted",
			w, spanBurst, at[2]-at[0], byBurst[3])
	}

	var o labs.Outcome
	if worst <= quota {
		o = labs.Pass("Sent %s. At most %d were admitted in any 2 s span; the quota is %d.", seen, worst, quota)
	} else {
		o = labs.Fail("Sent %s. %d were admitted in the 2 s up to %+d ms (all admitted within %d ms); at most %d are allowed in any 2 s span.%s",
			seen, worst, worstAt, spanMS, quota, because(spanReasons(p.Design, after)))
	}
	o.Chart = chart
	return o
}

// spanReasons explains, from the design, why the boundary attack got more
// than the quota through.
func spanReasons(d labs.Design, after int) []string {
	c := configOf(d)
	var why []string
	switch c.algorithm {
	case FixedWindow:
		why = append(why, "a fixed window starts counting from zero at each boundary, so a client can use its quota at the end of one window and again at the start of the next")
	case TokenBucket, GCRA:
		why = append(why, fmt.Sprintf("%s starts full (%d) and refills continuously at %d per %d ms, so in any 2 s it admits its capacity plus what refilled meanwhile, up to about %d",
			c.algorithm, c.capacity(), c.limit, c.window, c.capacity()+c.limit*quotaWindowMS/c.window))
	case SlidingWindow:
		if after > 0 {
			why = append(why, "the sliding window counter estimates the previous window's requests as spread evenly; when they all came late, it lets more through soon after the boundary")
		}
	}
	if c.limit > quota {
		why = append(why, fmt.Sprintf("the design's limit is %d, above the quota of %d", c.limit, quota))
	}
	if c.window < quotaWindowMS && c.algorithm != TokenBucket && c.algorithm != GCRA {
		why = append(why, fmt.Sprintf("the design's window is %d ms, shorter than the quota's 2 s", c.window))
	}
	if c.storage == StorageMemory && c.replicas > 1 {
		why = append(why, fmt.Sprintf("with storage=memory each of the %d replicas counts on its own", c.replicas))
	}
	return why
}

// spanChart draws the attack: admitted in the 2 s up to each moment, and
// refused so far, every 20 ms around the boundary.
func spanChart(all []spanned, inSpan func(int64) int) *labs.CheckChart {
	lo, hi := -spanLead.Milliseconds()-20, spanAfter.Milliseconds()+100
	for _, s := range all {
		lo, hi = min(lo, s.at-20), max(hi, s.at+20)
	}
	const step = 20
	lo, hi = lo/step*step, (hi+step-1)/step*step
	if n := (hi - lo) / step; n > 190 {
		hi = lo + 190*step // keep the chart short
	}
	c := &labs.CheckChart{Title: "Admitted in the last 2 s, around the boundary attack", YLabel: "requests", Limit: limitLine()}
	var span, refused []float64
	for x := lo; x <= hi; x += step {
		n := 0
		for _, s := range all {
			if !s.allowed && s.at <= x {
				n++
			}
		}
		c.X = append(c.X, float64(x))
		span = append(span, float64(inSpan(x)))
		refused = append(refused, float64(n))
	}
	c.Series = []labs.ChartSeries{{Name: "admitted in the last 2 s", Values: span}, {Name: "refused so far", Values: refused}}
	return c
}

func checkRecovery(ctx context.Context, t *labs.Trial) labs.Outcome {
	p, clock, err := start(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	used, refusal, last, err := exhaust(ctx, p, "client-a", exhaustMax)
	if err != nil {
		return labs.Broken(err)
	}
	if refusal.status == 0 {
		return labs.Fail("The client was never refused in %d requests (%d admitted), so there was no used-up quota to come back; the quota is %d.%s",
			used.sent, used.allowed, quota, because(tooMany(p.Design)))
	}
	if used.allowed == 0 {
		return labs.Fail("The very first request of a fresh client was refused, so no quota was ever there to come back.%s",
			because(tooFew(p.Design)))
	}
	wait := quotaWindowMS*time.Millisecond + recoveryMargin
	clock.Set(time.UnixMilli(last.at).Add(wait))
	again, as, err := sequential(ctx, p, "client-a", quota)
	if err != nil {
		return labs.Broken(err)
	}
	waited := fmt.Sprintf("%.1f s", wait.Seconds())
	if as[0].allowed {
		return labs.Pass("The client used up its quota (%d admitted, then refused); %s after its last admitted request the next request passed; %d of the %d requests sent then passed.",
			used.allowed, waited, again.allowed, again.sent)
	}
	why := []string{}
	if w := p.Design.Int("window_ms"); w > quotaWindowMS {
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
	p, clock, err := start(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	used, refusal, _, err := exhaust(ctx, p, "client-a", exhaustMax)
	if err != nil {
		return labs.Broken(err)
	}
	if refusal.status == 0 {
		return labs.Fail("The client was never refused in %d requests (%d admitted), so there was no Retry-After to check; the quota is %d.%s",
			used.sent, used.allowed, quota, because(tooMany(p.Design)))
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
		clock.Set(time.UnixMilli(refusal.at).Add(waited))
		a, err := ask(ctx, p, "client-a")
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
				ra, waited, probes, retryProbe.Milliseconds(), because(retryReasons(p.Design)))
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
	p, _, err := start(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	spec := labs.LoadSpec{Requests: latencyDecisions, Concurrency: 16, Keys: 100}
	sum := labs.RunLoad(ctx, p.Instance, spec)
	if err := ctx.Err(); err != nil {
		return labs.Broken(err)
	}
	if sum.Requests < spec.Requests {
		return labs.Broken(fmt.Errorf("the load run stopped after %d of %d requests: %s", sum.Requests, spec.Requests, sum.Stopped))
	}
	var st State
	if r := p.Do(ctx, http.MethodGet, "stats", nil); r.Status != http.StatusOK || r.JSON(&st) != nil {
		return labs.Broken(fmt.Errorf("GET stats answered %d: %s", r.Status, r.Body))
	}
	if st.Totals.StoreErrors > 0 {
		// Past the real-time backstop: Redis itself was in trouble.
		return labs.Broken(fmt.Errorf("%d of %d decisions failed in the limiter's Redis", st.Totals.StoreErrors, sum.Requests))
	}
	return labs.Pass("%d decisions over %d clients, %d in flight, at %.0f per second: p50 %.2f ms, p99 %.2f ms.",
		sum.Requests, spec.Keys, spec.Concurrency, sum.RatePerS, sum.P50MS, sum.P99MS)
}
