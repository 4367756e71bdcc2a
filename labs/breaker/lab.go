package breaker

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labhttp"
)

// BackoffCap bounds one backoff pause.
const BackoffCap = 2 * time.Second

// StatusCancelled is the status of a call whose caller gave up (or whose
// instance stopped) before it finished, as nginx logs it.
const StatusCancelled = 499

// Lab is the circuit-breaker lab.
var Lab labs.Lab = lab{}

type lab struct{}

func (lab) Info() labs.Info {
	return labs.Info{
		ID:      "breaker",
		Title:   "Circuit breaker",
		Summary: "Call a flaky downstream through a circuit breaker with timeouts, retries and a retry budget, and watch it open, fail fast, probe and close.",
		Lesson:  "fault-tolerance",
		Explain: "Each POST call is one client call to a simulated downstream that runs inside the server, so you control exactly how it fails (PUT downstream: error rate, latency and its shape, outage) and it counts every call it really receives (downstream_calls). " +
			"The call goes through a circuit breaker. Closed, it lets calls through and counts failures: errors (502) and calls cut at call_timeout_ms (504) both count. " +
			"After failure_threshold consecutive failures, or when failure_rate is set, once that share of the last window_size calls failed with at least min_calls in the window, it opens: calls fail fast with 503 without touching the downstream. " +
			"After open_timeout_ms it goes half-open and admits at most half_open_probes trial calls; if they all succeed it closes, and the first failure reopens it. " +
			"Failed calls may be retried up to retries times, each retry through the breaker, after a backoff pause (none, exponential, full_jitter or equal_jitter, from backoff_base_ms and capped at 2 s), never while the breaker is open, and only while retries stay within retry_budget of first attempts over the last 10 s (10: unlimited). " +
			"The standard breaker never holds its lock while a call runs, so a slow call never delays a fast failure; breaker holds_lock is the module's code, which does, and breaker none has no breaker at all. Its state lives in the server process, because a breaker belongs to the client that calls the dependency. " +
			"PUT downstream {\"capacity\": N, \"queue\": Q} makes the downstream serve at most N calls at once, first come first served, with Q more waiting; beyond that it refuses calls. A caller that gives up does not take its call back: the downstream still spends its time on it.",
		Try: []string{
			"POST call a few times: 200 with attempts 1. Then PUT downstream {\"outage\": true} and keep calling: five 502s, then instant 503s. In GET state, client_calls keeps climbing while downstream_calls stops: the open breaker sends nothing.",
			"Wait open_timeout_ms (2 s) and call again: one probe is let through (half_open), fails, and the breaker reopens. PUT downstream {\"outage\": false}, wait again, and the next probe closes it. Follow it on the state chart and in GET state's transitions.",
			"Make the downstream slow: PUT downstream {\"latency_ms\": 3000}. Every call is cut at call_timeout_ms (1 s) with 504 and counts as a failure, so the breaker opens on slowness as well as on errors, and callers stop waiting 1 s each. Then reconfigure with breaker holds_lock (the module's code) and run a load of 50 at concurrency 10: calls queue for the lock one behind the other (lock_waits climbs), and even those the breaker fails fast wait seconds for their 503.",
			"Partial failure: PUT downstream {\"error_rate\": 0.2, \"outage\": false} and run a load of 5000. With failure_threshold 5 the breaker trips now and then on an unlucky run of five. Reconfigure with failure_rate 0.5, window_size 100 and min_calls 20: it stays closed at 20% and opens soon after you raise error_rate to 0.6. Then try min_calls 1: the first failure after every close trips it.",
			"Retry storm that outlives its trigger: reconfigure with breaker none, retries 3, backoff none and retry_budget 10 (unlimited), PUT downstream {\"capacity\": 4, \"queue\": 200, \"latency_ms\": 20} and run a load of 3000 at 100 per second. It keeps up. Start an outage for a few seconds, then end it: the queue stays full, calls keep timing out and downstream_calls stays near 4 × client_calls on the load chart. Repeat with backoff full_jitter and retry_budget 0.1, or with the standard breaker: it recovers soon after the outage ends.",
			"Long tail: PUT downstream {\"latency\": \"long_tail\", \"latency_ms\": 100, \"error_rate\": 0} with call_timeout_ms 500: about 1% of calls take 1 to 2 s and are cut at 500 ms. Compare call_p99 with call_p50 on the latency chart.",
		},
		Pokes: pokes(),
		Key:   &labs.KeyNumber{Label: "Breaker state", Kind: labs.KeyLatest, Of: []string{"state"}},
		Charts: []labs.Chart{
			{Title: "Calls per 100 ms", Series: []string{"client_calls", "downstream_calls"}, Kind: "count"},
			{Title: "Outcomes per 100 ms", Series: []string{"successes", "failures", "rejected", "timeouts"}, Kind: "count"},
			{Title: "Breaker state", Series: []string{"state"}, Kind: "state", Levels: []string{"closed", "half_open", "open"}},
			{Title: "Call latency", Series: []string{"call_p50", "call_p99"}, Kind: "latency"},
			{Title: "Downstream load (with a capacity): slots busy, calls queued, calls refused per 100 ms", Series: []string{"downstream_busy", "downstream_queued", "shed"}, Kind: "count"},
			{Title: "Retries and lock waits per 100 ms", Series: []string{"retries", "lock_waits"}, Kind: "count"},
		},
	}
}

func (lab) Fields() []labs.Field {
	f := func(name, label, typ string, def any, lo, hi float64, unit, help string) labs.Field {
		lop, hip := labs.Range(lo, hi)
		return labs.Field{Name: name, Label: label, Type: typ, Default: def, Min: lop, Max: hip, Unit: unit, Help: help}
	}
	return []labs.Field{
		f("failure_threshold", "Failure threshold", labs.Int, 5, 1, 1000, "failures",
			"Consecutive failures (errors or timeouts) that open the breaker. A success resets the count. Not used when failure_rate is set."),
		f("failure_rate", "Failure rate", labs.Float, 0.0, 0, 1, "",
			"0 = off. Above 0, the breaker opens when this share of the last window_size calls failed, with at least min_calls in the window; it replaces the consecutive trigger."),
		f("window_size", "Window size", labs.Int, 20, 5, 1000, "calls",
			"How many recent calls failure_rate is measured over."),
		f("min_calls", "Minimum calls", labs.Int, 10, 1, 1000, "calls",
			"failure_rate only counts once the window holds this many calls, so 1 failure out of 1 call is not a 100% failure rate."),
		f("open_timeout_ms", "Open timeout", labs.Int, 2000, 10, 600000, "ms",
			"How long the breaker stays open, failing fast, before it lets probes through."),
		f("half_open_probes", "Half-open probes", labs.Int, 1, 1, 100, "calls",
			"Trial calls admitted in half-open; all must succeed to close, the first failure reopens. Other calls keep failing fast."),
		f("call_timeout_ms", "Call timeout", labs.Int, 1000, 1, 60000, "ms",
			"Each attempt is cut after this long (504) and counts as a failure."),
		f("retries", "Retries", labs.Int, 0, 0, 10, "retries",
			"Extra attempts after a failed one. Each goes through the breaker; none is made while it is open or when the budget is spent."),
		{Name: "backoff", Label: "Backoff", Type: labs.Enum, Default: BackoffFullJitter,
			Options: []string{BackoffNone, BackoffExponential, BackoffFullJitter, BackoffEqualJitter},
			Help:    "The pause before retry n (from 0), with c = min(2000 ms, backoff_base_ms × 2^n): none retries at once; exponential sleeps c (every caller in step); full_jitter sleeps uniform in [0, c]; equal_jitter sleeps c/2 plus uniform in [0, c/2]."},
		f("backoff_base_ms", "Backoff base", labs.Int, 50, 0, 10000, "ms",
			"The first pause's ceiling; it doubles for each further retry, up to 2 s. 0 retries at once."),
		f("retry_budget", "Retry budget", labs.Float, 0.1, 0, UnlimitedBudget, "",
			"Retries may add at most this share of first attempts over the last 10 s (0.1: 10%). 0 allows none; 1 lets retries double the load; 10 is unlimited (the budget never refuses a retry)."),
		{Name: "breaker", Label: "Breaker", Type: labs.Enum, Default: ImplStandard, Options: []string{ImplStandard, ImplHoldsLock, ImplNone},
			Help: "standard: the lab's breaker, whose lock guards only its state. holds_lock: the module's code, which holds its lock across the call, so a slow call makes every other caller wait, even those it would fail fast. none: no breaker; every call goes to the downstream."},
	}
}

func (lab) Check(d labs.Design) labs.FieldErrors {
	if d.Int("min_calls") > d.Int("window_size") {
		return labs.FieldErrors{"min_calls": fmt.Sprintf("Must be at most window_size (%d): the window never holds more calls.", d.Int("window_size"))}
	}
	return nil
}

// instance is a running breaker lab.
type instance struct {
	env         labs.Env
	design      labs.Design
	br          gate
	budget      *RetryBudget
	down        *Downstream
	callTimeout time.Duration
	retries     int
	backoffBase time.Duration
	backoffKind string
	// clock makes the timeouts and backoff pauses and now reads it (the
	// real clock live; a manual one a check suite moves), so that the state
	// machine, the budget's window and every wait keep the same time.
	clock labs.Clock
	now   func() time.Time
	waits *waitLog // nil on the real clock
	// life ends at Close, cutting in-flight calls and backoff pauses.
	life context.Context
	stop context.CancelFunc
	// router serves the lab's routes (http.go).
	router *labhttp.Router

	clientCalls, successes, failures, rejected, timeouts, cancelled atomic.Int64
	retried, deniedByBudget, deniedByBreaker, lockWaits             atomic.Int64
}

func (lab) New(_ context.Context, env labs.Env, d labs.Design) (labs.Instance, error) {
	clock := env.Clocked()
	if env.Now == nil {
		env.Now = clock.Now
	}
	var waits *waitLog
	if _, manual := clock.(*labs.ManualClock); manual {
		waits = newWaitLog()
	}
	down := NewDownstream(DefaultSettings(), env.Metrics)
	down.clock, down.waits = clock, waits
	life, stop := context.WithCancel(context.Background())
	i := &instance{env: env, design: d, clock: clock, now: env.Now, waits: waits,
		callTimeout: time.Duration(d.Int("call_timeout_ms")) * time.Millisecond,
		retries:     d.Int("retries"),
		backoffBase: time.Duration(d.Int("backoff_base_ms")) * time.Millisecond,
		backoffKind: d.String("backoff"),
		budget:      NewRetryBudget(d.Float("retry_budget"), env.Now),
		down:        down,
		life:        life, stop: stop,
	}
	br, err := i.newGate(env, d)
	if err != nil {
		stop()
		return nil, err
	}
	i.br = br
	describe(env.Metrics, d)
	i.router = i.routes()
	env.Metrics.Gauge("state", float64(Closed))
	return i, nil
}

// newGate builds the breaker the design picks.
func (i *instance) newGate(env labs.Env, d labs.Design) (gate, error) {
	if d.String("breaker") == ImplNone {
		return noBreaker{}, nil
	}
	br, err := New(Config{
		FailureThreshold: d.Int("failure_threshold"),
		FailureRate:      d.Float("failure_rate"),
		WindowSize:       d.Int("window_size"),
		MinCalls:         d.Int("min_calls"),
		OpenTimeout:      time.Duration(d.Int("open_timeout_ms")) * time.Millisecond,
		HalfOpenProbes:   d.Int("half_open_probes"),
		Now:              env.Now,
		OnTransition: func(t Transition) {
			env.Metrics.Gauge("state", float64(t.To))
			kind := "info"
			if t.To == Open {
				kind = "warn"
			}
			env.Metrics.Eventf(kind, "breaker %s → %s: %s", t.From, t.To, t.Reason)
		},
	})
	if err != nil {
		return nil, err
	}
	if d.String("breaker") == ImplHoldsLock {
		return holdsLock{Breaker: br, lock: &callLock{now: i.now, waits: i.waits, hold: i.callTimeout,
			onWait: func() { i.lockWaits.Add(1); env.Metrics.Count("lock_waits", 1) }}}, nil
	}
	return standard{br}, nil
}

// describe puts the design's less usual choices in the event log, so a
// learner reading it knows what the instance does.
func describe(m *labs.Metrics, d labs.Design) {
	switch d.String("breaker") {
	case ImplNone:
		m.Eventf("warn", "no breaker: every call goes to the downstream, however it fails")
	case ImplHoldsLock:
		m.Eventf("warn", "breaker holds_lock: the module's code, which holds its lock across each call; while a slow call runs, every other caller waits for the lock")
	}
	if d.Float("retry_budget") >= UnlimitedBudget {
		m.Eventf("warn", "retry budget unlimited: up to %d retries per call, none refused", d.Int("retries"))
	}
	if d.Int("retries") > 0 {
		m.Eventf("info", "retries: up to %d per call, backoff %s from %d ms", d.Int("retries"), d.String("backoff"), d.Int("backoff_base_ms"))
	}
}
