package breaker

import (
	"maps"

	"github.com/sdworkbook/workbook/labs"
)

// Check names of the ladder's higher rungs, as the references name them.
const (
	chkNoise   = "stays closed through background errors"
	chkOutage  = "opens within 0.1 s of an outage"
	chkStall   = "fails fast while a trial call is slow"
	chkMasks   = "retries hide occasional errors"
	chkTried   = "every call reaches the provider"
	chkRecover = "recovers after the provider's restart"
)

// noisyExercise is step 2: tolerate background errors, yet react fast to
// an outage.
func noisyExercise() labs.Exercise {
	return labs.Exercise{
		ID: "breaker-noisy", Lab: "breaker", Step: 2,
		Title: "Ignore a noisy provider, catch a dead one",
		Card: []string{
			"The search provider fails 5% of calls in normal times, in short runs (up to 5 failures in a row, when one of its replicas restarts). These must never open the breaker.",
			"When the provider really goes down, stop calling it fast: at 100 calls per second, the breaker opens within 0.1 s (at most 10 failed calls reach it).",
			"While a trial call waits on a slow provider, every other caller is still failed fast at once.",
		},
		Scale: "Time is on the checks' own clock (see the first step), so 100 calls per second are exactly 10 ms apart and a wait on the slow provider is exactly its 300 ms. " +
			"The provider's errors are not drawn at random here: 5 failures in a row once in every 100 calls, so every design meets the same noise.",
		Hint: "A consecutive-failure threshold must sit between the longest normal run of failures and the number the outage allows; a failure rate over a window must sit above the share a normal run takes of that window and open fast enough when the window fills with failures. " +
			"Read the module's circuit breaker code: where does it take its lock, and where does it let it go?",
		Checks: []labs.Check{
			{Name: chkNoise, Points: 35, Run: checkToleratesNoise,
				Requirement: "1000 calls at 100 per second to a provider that fails 5% of them, 5 in a row once every 100 calls: the breaker never opens."},
			{Name: chkOutage, Points: 35, Run: checkOpensOnOutage,
				Requirement: "After 50 healthy calls the provider fails every call; at 100 calls per second the breaker opens before more than 10 calls have reached it (0.1 s)."},
			{Name: chkStall, Points: 30, Run: checkFastDuringProbe,
				Requirement: "With the breaker open and the provider slow (300 ms), once a trial call is waiting on the provider, 10 more calls are each answered 503 at once (0 ms on the checks' clock), not after the trial call ends."},
		},
		References: noisyReferences(),
	}
}

// noisyGood opens on the 8th consecutive failure: above the noise's runs
// of 5, within the outage's 10.
func noisyGood() labs.Design {
	return labs.Design{"failure_threshold": 8, "open_timeout_ms": 1000, "half_open_probes": 1, "call_timeout_ms": 200, "retries": 0}
}

func noisyReferences() []labs.Reference {
	bad := func(name string, changes labs.Design, fails ...string) labs.Reference {
		d := noisyGood()
		maps.Copy(d, changes)
		return labs.Reference{Name: name, Design: d, Fails: fails}
	}
	return []labs.Reference{
		{Name: "good", Design: noisyGood()},
		bad("failure rate 30% over 20 calls", labs.Design{"failure_rate": 0.3, "window_size": 20, "min_calls": 10}),
		bad("opens on a run of 5 (failure_threshold 5)", labs.Design{"failure_threshold": 5}, chkNoise),
		bad("failure rate 10% over 20 calls", labs.Design{"failure_rate": 0.1, "window_size": 20, "min_calls": 10}, chkNoise),
		bad("opens late (failure_threshold 20)", labs.Design{"failure_threshold": 20}, chkOutage),
		bad("failure rate 50% over 100 calls", labs.Design{"failure_rate": 0.5, "window_size": 100, "min_calls": 20}, chkOutage),
		bad("the module's breaker (breaker holds_lock)", labs.Design{"breaker": ImplHoldsLock}, chkStall),
		bad("no breaker", labs.Design{"breaker": ImplNone}, chkOutage, chkStall),
	}
}

// stormExercise is step 3: retries that hide noise but must not keep a
// restarted provider down.
func stormExercise() labs.Exercise {
	return labs.Exercise{
		ID: "breaker-storm", Lab: "breaker", Step: 3,
		Title: "Retry without a retry storm",
		Card: []string{
			"The payment provider serves 4 calls at a time, 20 ms each (200 calls per second), and queues up to 200 more; it keeps working on a call whose caller has given up. Checkout sends it 100 calls per second.",
			"Checkout never refuses a payment by itself: every client call reaches the provider at least once, even while it is down.",
			"In normal times 8% of the provider's calls fail, spread out: at least 99% of client calls must still succeed.",
			"After a 2 s outage the provider is back: from 1 s after its return, at least 95% of client calls succeed, each within 1 s.",
		},
		Scale: "Time is on the checks' own clock: the load is exactly 100 calls per second and the provider's queue is computed, not timed, so a design gets the same result on a busy machine. " +
			"The provider's 8% of errors are spread evenly (one call in 13) rather than drawn at random.",
		Hint: "Read the debugging lesson's retry storms and the fault tolerance lesson's retry budgets. Work out the provider's load during the outage: 100 first attempts per second, plus the retries your settings allow, against 200 per second. " +
			"What happens to calls that wait in its queue longer than your call timeout?",
		Checks: []labs.Check{
			{Name: chkMasks, Points: 30, Run: checkMasksNoise,
				Requirement: "300 calls at 100 per second, with one call in 13 failing at the provider: at least 99% of client calls succeed."},
			{Name: chkTried, Points: 20, Run: checkEveryCallTried,
				Requirement: "Through 0.5 s healthy, a 1 s outage and 0.5 s healthy again at 100 calls per second, every client call reaches the provider at least once (none is failed fast)."},
			{Name: chkRecover, Points: 50, Run: checkRecovers,
				Requirement: "1 s healthy, a 2 s outage (every call fails after its 20 ms), then healthy, at 100 calls per second: of the calls made from 1 s to 2 s after the provider's return, at least 95% succeed within 1 s."},
		},
		References: stormReferences(),
	}
}

// stormGood retries once, within a 10% budget, after a jittered pause, so
// the outage's load stays near 110 calls per second.
func stormGood() labs.Design {
	return labs.Design{"breaker": ImplNone, "call_timeout_ms": 200, "retries": 1, "backoff": BackoffFullJitter, "backoff_base_ms": 50, "retry_budget": 0.1}
}

func stormReferences() []labs.Reference {
	bad := func(name string, changes labs.Design, fails ...string) labs.Reference {
		d := stormGood()
		maps.Copy(d, changes)
		return labs.Reference{Name: name, Design: d, Fails: fails}
	}
	return []labs.Reference{
		{Name: "good", Design: stormGood()},
		bad("no retries", labs.Design{"retries": 0}, chkMasks),
		bad("a 2% retry budget", labs.Design{"retry_budget": 0.02}, chkMasks),
		bad("3 immediate retries, unlimited budget", labs.Design{"retries": 3, "backoff": BackoffNone, "retry_budget": UnlimitedBudget}, chkRecover),
		bad("3 retries with exponential backoff, unlimited budget", labs.Design{"retries": 3, "backoff": BackoffExponential, "retry_budget": UnlimitedBudget}, chkRecover),
		bad("a breaker (breaker standard)", labs.Design{"breaker": ImplStandard}, chkTried),
	}
}
