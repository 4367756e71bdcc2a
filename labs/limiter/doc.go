// Package limiter is the rate limiter lab: five algorithms (fixed window,
// sliding log, sliding window counter, token bucket, GCRA), each one atomic
// Lua script and one Redis round trip per decision, behind simulated
// replicas that share Redis, or keep their own state in memory to show why
// a limit that is not shared does not hold.
//
// # The lab's HTTP contract
//
// Paths are relative to the instance (/api/labs/limiter/instances/{id}
// in the app). A learner's own limiter serves the same routes at its root,
// and the quota exercise's checks grade either one through these routes
// alone (see labs.Target):
//
//	POST /request?key=K
//	    One decision for client K (1 to 200 of A-Z a-z 0-9 . _ : -).
//	    200 admitted or 429 refused, with the headers Retry-After (whole
//	    seconds, at least 1, on a 429), RateLimit-Limit, RateLimit-Remaining
//	    and RateLimit-Reset, and a JSON Response: {"allowed", "key",
//	    "replica", "remaining", "limit", "reset_ms", "retry_after_ms",
//	    "decided_at_ms", …}. 503 when the store could not decide and
//	    on_store_error is fail_closed (the body says so in "store_error").
//	    A bad key is a 400 naming "key".
//	GET /stats
//	    The decisions so far, as State: {"totals": {"allowed", "rejected",
//	    "store_errors"}, "per_replica": [{"replica", "allowed", …}], …}.
//	POST /boundary-burst?key=K
//	    The lab's demonstration, not graded: limit requests just before a
//	    window boundary and limit just after it; a BurstReport. A window
//	    longer than 10 s runs on a copy of the limiter with time sped up.
//
// What the checks read: the status and Retry-After, and from the body
// "decided_at_ms" (when the decision was made, Unix ms; without it, when
// the answer came) and "replica" (which replica decided, for a chart).
// GET /stats is optional for a service: without it a check reports no
// per-replica counts and cannot tell a failing store from a slow one.
//
// # The build exercise
//
// limiter-build (build.go) is the same quota as a learner's own service,
// built from an archive and run as replicas sharing one Redis (see
// labs.Build): POST /request?key=K and GET /healthz, with QUOTA_LIMIT and
// QUOTA_WINDOW_MS in its environment, and fail open while Redis is paused.
// Its checks (live*.go, paused.go) run on real time and judge a request
// as decided somewhere between when it was sent and when its answer came
// back: more than the quota admitted within 1.9 s of each other is proof
// of more than the quota in 2 s, so a slow machine only makes them more
// lenient. Starter kits live in kits/ (a Go module's go.mod as
// go.mod.kit, see labs.StarterKits); the references and flawed variants
// that prove each check both ways live in testdata/build/, each variant
// as a diff of the Python reference.
package limiter
