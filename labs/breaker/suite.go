package breaker

import (
	"maps"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The requirement card's numbers. Checks test these, whatever the design's
// own knobs say.
// Times are on the check's own clock (see driver), so they are exact.
const (
	reqThreshold  = 5                      // consecutive failed calls that open the breaker
	reqFastMS     = 5.0                    // a failed-fast answer takes less than this
	reqProbes     = 1                      // trial calls in half-open
	reqWait       = 500 * time.Millisecond // the most a caller waits for one call
	reqRetryShare = 0.1                    // retries may add this share of first attempts
	// The card's 1 s open timeout is judged in a band around it: still
	// open when polled up to 0.8 s, and probing at 1.2 s.
	stillOpenUntil = 800 * time.Millisecond
	probeAt        = 1200 * time.Millisecond
)

// Exercises are the lab's graded tasks.
func (lab) Exercises() []labs.Exercise {
	return []labs.Exercise{{
		ID:    "breaker-payments",
		Lab:   "breaker",
		Step:  1,
		Title: "Protect checkout from a failing payment provider",
		Card: []string{
			"After 5 consecutive failed calls to the payment provider, stop calling it (the breaker opens).",
			"While open, fail fast: answer at once (under 5 ms), without calling the provider.",
			"After 1 s open, let at most 1 trial call through (half-open); close when it succeeds, reopen when it fails.",
			"A caller never waits more than 500 ms in total for one call, retries included, when the provider hangs.",
			"When 30% of the provider's calls fail (a brownout), retries add at most 10% to the load on the provider.",
		},
		Scale: "Time-scaled so the checks finish in seconds: a checkout would keep the breaker open for tens of seconds before its trial call; here that is 1 s. The other numbers are as stated. " +
			"Time is measured on the checks' own clock, not the grading machine's: it moves only while every call in progress is waiting (on the provider, a call timeout or a backoff pause), and then straight to the moment the first one wakes. " +
			"So a call the breaker answers without waiting takes 0 ms, a call cut at a 200 ms timeout takes exactly 200 ms, and the same design gets the same result on a busy machine as on an idle one.",
		Hint: "Read the fault tolerance lesson on circuit breakers, timeouts, retries with backoff and retry budgets. " +
			"The provider is the lab's simulated downstream; the checks break it with PUT downstream and count what reaches it.",
		Checks: []labs.Check{
			{Name: chkThreshold, Points: 15, Run: checkOpensAtThreshold,
				Requirement: "The breaker opens on the 5th consecutive failed call to the provider, not before: 4 failures followed by a success leave it closed, and the count starts again."},
			{Name: chkFailFast, Points: 15, Run: checkFailsFast,
				Requirement: "Once open, 100 calls spread over the first 0.7 s are each answered 503 by the breaker itself, without waiting on the provider, a timeout or a pause (0 ms on the checks' clock, so under 5 ms), and none reaches the provider. The real time the calls took on the grading machine is reported, not scored."},
			{Name: chkHalfOpen, Points: 20, Run: checkHalfOpen,
				Requirement: "On the checks' clock, a band around the card's 1 s: nothing reaches the provider during the first 0.8 s after the breaker opens (a call every 50 ms); at 1.2 s, 20 concurrent calls put exactly 1 trial call on it."},
			{Name: chkProbe, Points: 15, Run: checkProbeOutcome,
				Requirement: "A failed trial call reopens the breaker (the next call fails fast); a successful one closes it, and calls reach the provider again."},
			{Name: chkDeadline, Points: 15, Run: checkCallDeadline,
				Requirement: "With the provider hanging for 3 s, every call ends within 500 ms on the checks' clock, retries and backoff pauses included."},
			{Name: chkBrownout, Points: 20, Run: checkRetryLoad,
				Requirement: "With 30% of the provider's calls failing, 300 client calls (100 per second of the checks' clock, at most 10 at a time; up to 900 when the breaker keeps most of them from the provider) add at most 10% retries on top of the first attempts that reach the provider."},
		},
		References: references(),
	}, noisyExercise(), stormExercise(), buildExercise()}
}

// Check names, as the references name them.
const (
	chkThreshold = "opens after the threshold"
	chkFailFast  = "fails fast while open"
	chkHalfOpen  = "half-open after the timeout, at most 1 probe"
	chkProbe     = "closes after a good probe, reopens after a bad one"
	chkDeadline  = "slow calls cut at the timeout"
	chkBrownout  = "retries within budget in a brownout"
)

// goodDesign meets the breaker-payments card: it opens on the 5th failure,
// probes once after 1 s, cuts an attempt at 200 ms so one retry and its
// pause (at most 50 ms) fit in 500 ms, and keeps retries to 10% of first
// attempts.
func goodDesign() labs.Design {
	return labs.Design{
		"failure_threshold": 5,
		"open_timeout_ms":   1000,
		"half_open_probes":  1,
		"call_timeout_ms":   200,
		"retries":           1,
		"backoff_base_ms":   50,
		"retry_budget":      0.1,
	}
}

// references are the good design and the classic mistakes, each the good
// design with one thing changed, and the checks each one fails.
func references() []labs.Reference {
	bad := func(name string, changes labs.Design, fails ...string) labs.Reference {
		d := goodDesign()
		maps.Copy(d, changes)
		return labs.Reference{Name: name, Design: d, Fails: fails}
	}
	return []labs.Reference{
		{Name: "good", Design: goodDesign()},
		bad("opens late (failure_threshold 20)", labs.Design{"failure_threshold": 20}, chkThreshold),
		bad("opens on the first failure (failure_threshold 1)", labs.Design{"failure_threshold": 1}, chkThreshold),
		bad("failure rate over a window, not consecutive", labs.Design{"failure_rate": 0.5, "window_size": 20, "min_calls": 5}, chkThreshold),
		bad("never opens (failure_threshold 1000)", labs.Design{"failure_threshold": 1000}, chkThreshold, chkFailFast, chkHalfOpen, chkProbe),
		bad("probes after 100 ms", labs.Design{"open_timeout_ms": 100}, chkFailFast, chkHalfOpen),
		bad("probes after 500 ms", labs.Design{"open_timeout_ms": 500}, chkFailFast, chkHalfOpen),
		bad("probes after 2 s", labs.Design{"open_timeout_ms": 2000}, chkHalfOpen, chkProbe),
		bad("5 probes", labs.Design{"half_open_probes": 5}, chkHalfOpen, chkProbe),
		bad("1 s call timeout", labs.Design{"call_timeout_ms": 1000}, chkDeadline),
		bad("3 retries", labs.Design{"retries": 3}, chkDeadline),
		bad("3 retries with a budget of 100%", labs.Design{"retries": 3, "retry_budget": 1.0}, chkDeadline, chkBrownout),
	}
}
