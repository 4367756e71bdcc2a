package limiter

import (
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
		Step:  1,
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
	}, loginExercise(), planExercise(), buildExercise()}
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
