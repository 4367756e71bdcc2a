package breaker

import (
	"embed"
	"io/fs"
	"strconv"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The build exercise's contract: the numbers the learner's service reads
// from its environment, and the checks hold it to.
const (
	svcThreshold   = 5                      // FAILURE_THRESHOLD: consecutive failed attempts that open the breaker
	svcOpen        = 2 * time.Second        // OPEN_MS: how long it stays open before a trial call
	svcCallTimeout = 300 * time.Millisecond // CALL_TIMEOUT_MS: each attempt is cut after this
	svcBudget      = 0.1                    // RETRY_BUDGET: retries per first attempt over svcBudgetWindow
	svcWait        = time.Second            // a client call answers within this, retries included
)

// svcBudgetWindow is how far back the retry budget looks.
const svcBudgetWindow = 10 * time.Second

// The checks' margins on real time: a service runs on the machine's time,
// so where a check judges time it leaves room for a busy grading machine,
// always in the direction that keeps a correct service passing.
const (
	// svcPollFor: calls while the breaker must stay open are sent only
	// this long after the failure that opened it, so that none arrives
	// late enough to find a correct breaker half-open.
	svcPollFor = 1400 * time.Millisecond
	// svcTooSoon: a call reaching the dependency less than this after the
	// failure that opened the breaker is a breaker that did not stay open
	// (a correct one opened after that failure, so it probes at least
	// svcOpen later).
	svcTooSoon = svcOpen - 100*time.Millisecond
	// svcProbeAfter: trial calls are sent this long after the breaker was
	// seen open (it opened before that answer, so it has been open at
	// least this long when they arrive).
	svcProbeAfter = svcOpen + 500*time.Millisecond
	// svcWaitJudged: a call with the dependency hanging must answer within
	// the contract's svcWait and this margin.
	svcWaitJudged = svcWait + 500*time.Millisecond
	// svcFastMargin: failing fast is answering about as fast as GET
	// /healthz: medians within this.
	svcFastMargin = 100 * time.Millisecond
)

//go:embed all:kits
var kitFiles embed.FS

// starters are the build exercise's starter kits (go/…, python/…).
func starters() fs.FS {
	sub, err := fs.Sub(kitFiles, "kits")
	if err != nil {
		panic(err) // a literal directory of this package
	}
	return labs.StarterKits(sub)
}

// buildExercise is breaker-build: the learner writes the client, a
// service whose POST /call calls a dependency the checks control.
func buildExercise() labs.Exercise {
	return labs.Exercise{
		ID:    "breaker-build",
		Lab:   "breaker",
		Title: "Build a client that does not hammer a failing dependency",
		Card: []string{
			"Your service answers POST /call by calling the dependency at $DOWNSTREAM_URL/quote, through a circuit breaker.",
			"After 5 consecutive failed attempts on the dependency, stop calling it (the breaker opens); a success in between starts the count again.",
			"While open, answer 503 at once, without calling the dependency.",
			"2 s after opening, let exactly 1 trial call through (half-open); close when it succeeds, reopen for another 2 s when it fails.",
			"Cut each attempt at 300 ms and answer 504; a caller waits at most 1 s for one call, retries included.",
			"Retries add at most 10% to the first attempts over the last 10 s.",
		},
		Scale: "The checks run one replica of your service in a container, on real time: they wait instead of moving a clock, and they judge what the dependency saw (how many calls reached it, and when) and what your service answered. " +
			"Where they judge time they leave wide margins for a busy grading machine, always in your service's favour: calls that must find the breaker open are sent within 1.4 s of the failure that opened it (a call reaching the dependency under 1.9 s after that failure fails the check); " +
			"trial calls are sent 2.5 s after the breaker was seen open; a call to a hanging dependency may take 1.5 s (the contract says 1 s) plus what GET /healthz took just before it; failing fast means a median answer within 100 ms of GET /healthz's.",
		Hint: "Read the fault tolerance lesson on timeouts, retries with jittered backoff and retry budgets, and circuit breakers. " +
			"The starter kits make the classic mistakes: the Go kit calls with no timeout and no breaker; the Python kit retries every failure 5 times at once, with no breaker.",
		Checks: []labs.Check{
			{Name: chkThreshold, Points: 15, Run: checkServiceOpens,
				Requirement: "The dependency fails its calls 1 to 4, answers call 5 and fails from call 6 on. With calls one at a time, the breaker opens on the dependency's 10th call (5 failed in a row since the success), not before and not after: the next call is answered 503 without reaching the dependency."},
			{Name: chkFailFast, Points: 15, Run: checkServiceFailsFast,
				Requirement: "Once open, calls one at a time over the next 1.4 s are each answered 503 without reaching the dependency, and about as fast as GET /healthz (medians within 100 ms)."},
			{Name: chkHalfOpen, Points: 20, Run: checkServiceHalfOpen,
				Requirement: "With the dependency down, calls every 100 ms reach nothing while the breaker is open; 2.5 s after it was seen open, 10 concurrent calls put exactly 1 trial call on the dependency (which holds it), and the others are answered 503."},
			{Name: chkProbe, Points: 15, Run: checkServiceProbes,
				Requirement: "A trial call to the failing dependency reopens the breaker (the next call is 503 without reaching it); 2.5 s later, with the dependency healthy, a trial call answers 200 with the dependency's quote and closes the breaker: the next 5 calls each reach the dependency and answer 200."},
			{Name: chkDeadline, Points: 15, Run: checkServiceCutsSlowCalls,
				Requirement: "With the dependency holding every call, 3 calls one at a time are each answered 504 within 1.5 s (the contract's 1 s, and 0.5 s for a busy grading machine) plus what GET /healthz took just before it."},
			{Name: chkBrownout, Points: 20, Run: checkServiceRetryBudget,
				Requirement: "The dependency fails every 3rd call it receives. Over 150 calls one at a time, at each retry the retries of the last 10 s are at most 10% of the first attempts of the last 10 s, plus 2 for the window's edges."},
		},
		Build: &labs.Build{
			Replicas:   1,
			Downstream: true,
			Env: map[string]string{
				"FAILURE_THRESHOLD": strconv.Itoa(svcThreshold),
				"OPEN_MS":           strconv.Itoa(int(svcOpen / time.Millisecond)),
				"CALL_TIMEOUT_MS":   strconv.Itoa(int(svcCallTimeout / time.Millisecond)),
				"RETRY_BUDGET":      strconv.FormatFloat(svcBudget, 'g', -1, 64),
			},
			Contract: contract(),
			Starters: starters(),
		},
	}
}

// contract is the build exercise's contract, one Markdown paragraph or
// list item per entry.
func contract() []string {
	return []string{
		"`POST /call` (no body) is one client call. Your service calls the dependency with `GET $DOWNSTREAM_URL/quote` through a circuit breaker, with a timeout on each attempt and retries limited by a budget, and answers:",
		"- **200** `{\"quote\": …}`, the dependency's JSON answer as it came (`{\"id\": \"q-17\", \"price_cents\": 1017}`), when an attempt succeeded;",
		"- **502** `{\"error\": \"…\"}` when the dependency failed (it answered 500, or the connection failed) and no retry succeeded;",
		"- **503** `{\"error\": \"…\"}` at once, without calling the dependency, while the breaker is open, or half-open with its trial call already out;",
		"- **504** `{\"error\": \"…\"}` when the attempt was cut at the timeout.",
		"`GET /healthz` answers 200 once the service is ready, within 20 s of its start, without calling the dependency.",
		"The dependency answers `GET /quote` with 200 and a quote as JSON, or 500 when it fails; it may also hang without answering. Call it only while answering a `POST /call`, never in the background: the checks count every call it receives.",
		"The breaker: closed, it lets attempts through and counts consecutive failed attempts (a 500, a connection error or a timeout; a success resets the count). After `FAILURE_THRESHOLD` (5) failures in a row it opens: for `OPEN_MS` (2000) ms every call is answered 503 without calling the dependency. Then it is half-open: it lets exactly one trial call through and answers 503 to the others; a successful trial closes it, a failed one opens it again for another `OPEN_MS`.",
		"Timeouts: each attempt is cut after `CALL_TIMEOUT_MS` (300) ms and counts as a failure. One client call, retries and pauses included, answers within 1 s.",
		"Retries: a failed attempt may be retried, after a short jittered pause and through the breaker like any attempt, only while the retries of the last 10 s stay within `RETRY_BUDGET` (0.1) of the first attempts of the last 10 s. Making no retries at all meets the contract too.",
		"Environment: `PORT` (listen on `0.0.0.0:$PORT`), `REPLICA_ID` (1: the checks run one replica), `DOWNSTREAM_URL` (`http://downstream`), `FAILURE_THRESHOLD`, `OPEN_MS`, `CALL_TIMEOUT_MS` and `RETRY_BUDGET`. There is no Redis or database: a breaker lives in the process that calls the dependency.",
		"Limits: 256 MiB of memory, 1 CPU, 128 processes, a read-only filesystem except /tmp, and no network beyond the dependency.",
	}
}
