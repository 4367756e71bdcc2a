// Package breaker is the circuit-breaker lab: a client calls a simulated
// downstream through a circuit breaker, with a per-call timeout and
// optional retries (capped exponential backoff with full jitter, limited by
// a retry budget). The learner breaks the downstream (errors, slowness, a
// long tail, an outage) and watches the breaker open, fail fast, probe in
// half-open and close again, and how much load retries add.
//
// The breaker, the budget and the downstream live in the server process.
// That is the design, not a shortcut: a breaker belongs to the client that
// calls a dependency, and it exists to decide in microseconds without a
// network round trip, so its state is not put in Redis or the database.
// The instance keeps nothing there; Close still sweeps its Redis prefix.
//
// # The lab's HTTP contract
//
// Paths are relative to the instance (/api/labs/breaker/instances/{id} in
// the app). A learner's own client serves the same routes at its root, and
// the payments exercise's checks grade either one through these routes
// alone (see labs.Target):
//
//	POST /call
//	    One client call: a first attempt and any retries, each through the
//	    breaker. 200 ok, 502 the provider failed, 503 the breaker failed
//	    it fast (with Retry-After, whole seconds until it may probe), 504
//	    cut at call_timeout_ms, 499 abandoned. The body is a CallResult:
//	    {"result", "status", "attempts", "outcomes", "stopped",
//	    "latency_ms", "state", "error"}.
//	GET /state
//	    A StateView: {"state", "downstream_calls" (counted by the provider
//	    itself), "client_calls", "successes", "failures", "timeouts",
//	    "cancelled", "rejected", "retries", "retries_denied_by_budget",
//	    "retries_denied_by_breaker", "lock_waits", "downstream_load":
//	    {"busy", "queued", "shed"}, "transitions": [{"at", "from", "to",
//	    "reason"}], "breaker", "retry_budget": {"ratio",
//	    "window_seconds", "first_attempts", "retries"}, "design",
//	    "downstream"}.
//	PUT /downstream
//	    A partial update of the simulated provider: {"error_rate" (0 to
//	    1), "latency_ms" (0 to 10000), "latency" ("fixed", "uniform",
//	    "long_tail"), "outage", "error_burst" (0 to 100: errors in evenly
//	    spaced runs of this many), "capacity" (0 to 1000 calls served at
//	    once, 0 for no limit) and "queue" (0 to 100000 calls waiting for a
//	    slot; see capacity.go)}; answers the Settings now in force. A body
//	    that is not one JSON object is a 400 naming "body", a larger one
//	    than 16 KiB a 413; fields unknown, null, of the wrong type or out
//	    of range are all named in one 422, and nothing changes.
//	GET /waits[?since=V&wait_ms=T]
//	    What the calls in progress wait on, for a suite that moves the
//	    instance's clock itself: a WaitsView {"clock": "manual" or "real",
//	    "now", "waiting", "next_wake", "version"}. With since, the answer
//	    waits until the version is no longer V, or T ms (default 10000,
//	    at most 30000) of real time have passed. On the real clock it
//	    answers at once with "clock": "real".
//
// What the checks read: POST /call's status and its body's "attempts" and
// "outcomes"; GET /state's "state", "client_calls", "downstream_calls",
// "retries", "rejected", "retries_denied_by_budget",
// "retries_denied_by_breaker", "transitions" and "retry_budget"; and they
// set the provider with PUT /downstream. On a built-in design they run on a clock of their own and
// read GET /waits to move it only when every call is waiting; a service
// runs on real time, needs no GET /waits, and the checks wait instead.
//
// # The build exercise
//
// In breaker-build (build.go) the learner writes the client itself: a
// service, one replica in the sandbox, whose POST /call calls a
// dependency at $DOWNSTREAM_URL/quote through a circuit breaker, cuts
// each attempt at CALL_TIMEOUT_MS and retries within RETRY_BUDGET, and
// answers 200 {"quote": …}, 502, 503 (failed fast) or 504 (cut); it also
// answers GET /healthz. It has no PUT /downstream or GET /state, so its
// checks (build_open.go, build_calls.go) control the dependency instead:
// each launches the service with a Provider of its own (provider.go, the
// lab's simulated downstream served over HTTP) and judges what the
// provider received (how many calls, when they arrived, which were
// retries) and what the service answered, on real time with margins that
// favour a correct service. References, flawed variants and the starter
// kits (kits/go, kits/python) are proven through the sandbox in
// build_test.go.
package breaker
