package limiter

import (
	"embed"
	"io/fs"
	"strconv"

	"github.com/sdworkbook/workbook/labs"
)

// kits are the build exercise's starter kits, a directory per language.
//
//go:embed all:kits
var kits embed.FS

// checkPaused is the build exercise's own check: what the service does
// while its Redis does not answer.
const checkPaused = "Redis paused"

// buildExercise is the limiter as a learner's own service: the same quota
// as limiter-api-quota, judged by its answers on real time.
func buildExercise() labs.Exercise {
	starters, err := fs.Sub(kits, "kits")
	if err != nil {
		panic(err) // kits is embedded: it has that directory
	}
	return labs.Exercise{
		ID:    "limiter-build",
		Lab:   "limiter",
		Title: "Build it: a rate limiter service across replicas",
		Card: []string{
			"Build the service: each client (API key) has a quota of 20 requests per 2 seconds, enforced across 3 replicas that share one Redis.",
			"No client gets more than 20 requests through in any 2-second span: across window boundaries, across replicas and under 200 requests at once.",
			"A refused request answers 429 with an honest Retry-After: a client that waits that many seconds gets in.",
			"The quota comes back once 2 s have passed, and one client's usage never affects another's.",
			"Fail open: while Redis does not answer, requests are let through, each answered within 1 s. " +
				"This is a choice: the limiter is a safety net in front of an API, and refusing everything would turn a Redis outage into an outage of the whole API " +
				"(an endpoint where each request costs money or security, such as logins or SMS, would fail closed instead). Once Redis answers again, the quota holds again.",
		},
		Scale: "The product requirement is 100 requests per minute per client across 3 replicas; for grading, a minute became 2 s and 100 requests became 20 " +
			"(QUOTA_LIMIT and QUOTA_WINDOW_MS). Your service runs in containers on real time, so the checks judge time as a client sees it: a request was decided " +
			"somewhere between when it was sent and when its answer came back, and a check counts only what those times prove, with 100 ms allowed for clocks " +
			"(more than 20 admitted within 1.9 s is more than 20 in 2 s). A slow or busy machine can only make a check more lenient; it never fails a correct service. " +
			"The count checks (limit, 200 at once, 3 replicas) judge a fresh client's first window only: the requests answered within 1.9 s of when its first was sent; " +
			"what comes after is the sliding-span check's, so a window that restarts is judged there alone, however long a busy machine takes to send the requests. " +
			"When fewer than 21 requests could be answered in that time, the check tries a fresh client, up to 4 times. " +
			"The real-time bounds are wide: every answer within 10 s; while Redis is paused, each answer within 2 s (the contract says 1 s) plus what GET /healthz took just before Redis was paused (at most 0.75 s more); " +
			"Retry-After may be 250 ms short of the truth, or up to its rounding (1 s) plus 250 ms long; the quota is expected back 2.3 s after a client's last admitted request; " +
			"and limiting again within 10 s of Redis answering again (the contract says 5 s). Every check but the replica one runs on one replica.",
		Hint: "Read the rate limiter case study: the boundary burst, the INCR-then-EXPIRE bug, atomic Lua scripts on the Redis clock, and failing open or closed. " +
			"Download a starter kit, run it, and fix what the checks say.",
		Checks: buildChecks(),
		Build: &labs.Build{
			Replicas: quotaReplicas,
			Redis:    true,
			Env:      map[string]string{"QUOTA_LIMIT": strconv.Itoa(quota), "QUOTA_WINDOW_MS": strconv.Itoa(quotaWindowMS)},
			Contract: buildContract,
			Starters: labs.StarterKits(starters),
		},
	}
}

// buildContract is what the learner's service must do, as the exercise
// page and the starter kits show it.
var buildContract = []string{
	"`POST /request?key=K` decides one request of client `K` (1 to 200 of `A-Z a-z 0-9 . _ : -`): **200** when it is let through, " +
		"**429** when the client has used its quota, with a `Retry-After` header: the whole number of seconds, at least 1, until a request of that client " +
		"would be let through (rounded up). A bad key is a **400**.",
	"The body is JSON. The checks read only the status and `Retry-After`; these fields are suggested, all optional: `allowed`, `key`, " +
		"`replica` (your `REPLICA_ID`), `remaining`, `retry_after_ms`, `decided_at_ms` (when it was decided, Unix ms), " +
		"`fail_open` (true when Redis did not decide and the request was let through: the checks do not count it against the quota).",
	"The quota: at most `QUOTA_LIMIT` requests per client in any span of `QUOTA_WINDOW_MS` milliseconds (20 and 2000 when graded), " +
		"counted across every replica. The grader runs 3 replicas behind one address, round-robin, sharing one Redis.",
	"`REDIS_URL` is `redis://[:password@]host:port/db`: the Redis all replicas share. Its database is yours alone, and fresh for each check.",
	"Fail open: while Redis does not answer, let each request through with **200** within 1 s (a short timeout on every Redis call). " +
		"Once Redis answers again, limit again within 5 s.",
	"`PORT`: listen on `0.0.0.0:$PORT`. `REPLICA_ID`: which replica this is (1, 2, 3).",
	"Readiness: `GET /healthz` answers **200** within 20 s of start.",
	"Limits: 256 MiB of memory, 1 CPU, 128 processes (threads count), a read-only filesystem except `/tmp`, and no network beyond Redis.",
}

// buildChecks are the quota checks on real time, and Redis paused.
func buildChecks() []labs.Check {
	return []labs.Check{
		{Name: checkLimit, Points: 10, Run: liveLimit,
			Requirement: "A fresh client sending 40 requests one after another gets 20 through in its first 2 s: no fewer, and no more."},
		{Name: checkKeys, Points: 10, Run: liveKeys,
			Requirement: "After client A has used up its quota, client B still gets its full quota (20, or as many as A got if the count is wrong)."},
		{Name: checkConcurrency, Points: 15, Run: liveConcurrent,
			Requirement: "200 requests from one fresh client, all in flight at once, let 20 through in its first 2 s: no fewer, and no more."},
		{Name: checkReplicated, Points: 20, Run: liveReplicas,
			Requirement: "With 3 replicas sharing the load round-robin, 100 requests from one fresh client sent one after another let no more than 20 through in its first 2 s."},
		{Name: checkSpan, Points: 15, Run: liveSpan,
			Requirement: "One request, 1 s later 30 at once, then one every 100 ms until 1.9 s after the burst: never more than 20 let through within 2 s " +
				"(a window that restarts, at the first request or on the clock, lets a second quota through)."},
		{Name: checkRecovers, Points: 10, Run: liveRecovery,
			Requirement: "A client that used up its quota is let through again 2.3 s after its last admitted request was answered."},
		{Name: checkRetry, Points: 10, Run: liveRetry,
			Requirement: "After 25 requests at once, a refusal answers 429 with a Retry-After of whole seconds; trying every 50 ms, no request sent Retry-After + 250 ms after it is refused, " +
				"and none passes before Retry-After − 1 s − 250 ms."},
		{Name: checkPaused, Points: 10, Run: liveRedisPaused,
			Requirement: "While Redis is paused, 5 requests one after another are each let through with 200 within 2 s, plus what GET /healthz took just before Redis was paused, up to 0.75 s (fail open); once Redis answers again, " +
				"a fresh client sending up to 40 requests one after another is refused within 10 s."},
	}
}
