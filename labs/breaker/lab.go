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
package breaker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/sdworkbook/workbook/labs"
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
			"Failed calls may be retried up to retries times, each retry through the breaker, after a full-jitter pause (uniform in 0 to min(2 s, backoff_base_ms × 2^n)), never while the breaker is open, and only while retries stay within retry_budget of first attempts over the last 10 s. " +
			"The breaker never holds its lock while a call runs, so a slow call never delays a fast failure. Its state lives in the server process, because a breaker belongs to the client that calls the dependency.",
		Try: []string{
			"POST call a few times: 200 with attempts 1. Then PUT downstream {\"outage\": true} and keep calling: five 502s, then instant 503s. In GET state, client_calls keeps climbing while downstream_calls stops: the open breaker sends nothing.",
			"Wait open_timeout_ms (2 s) and call again: one probe is let through (half_open), fails, and the breaker reopens. PUT downstream {\"outage\": false}, wait again, and the next probe closes it. Follow it on the state chart and in GET state's transitions.",
			"Make the downstream slow: PUT downstream {\"latency_ms\": 3000}. Every call is cut at call_timeout_ms (1 s) with 504 and counts as a failure, so the breaker opens on slowness as well as on errors, and callers stop waiting 1 s each.",
			"Retry storm: reconfigure with retries 3, retry_budget 1 and failure_threshold 1000, start an outage and run a load of 500 requests: downstream_calls reaches about twice client_calls. Reconfigure with retry_budget 0.1 and repeat: about 1.1×, and retries_denied_by_budget shows what the budget refused.",
			"Partial failure: PUT downstream {\"error_rate\": 0.2, \"outage\": false} and run a load of 5000. With failure_threshold 5 the breaker trips now and then on an unlucky run of five. Reconfigure with failure_rate 0.5, window_size 100 and min_calls 20: it stays closed at 20% and opens soon after you raise error_rate to 0.6. Then try min_calls 1: the first failure after every close trips it.",
			"Long tail: PUT downstream {\"latency\": \"long_tail\", \"latency_ms\": 100, \"error_rate\": 0} with call_timeout_ms 500: about 1% of calls take 1 to 2 s and are cut at 500 ms. Compare call_p99 with call_p50 on the latency chart.",
		},
		Pokes: pokes(),
		Charts: []labs.Chart{
			{Title: "Calls per 100 ms", Series: []string{"client_calls", "downstream_calls"}, Kind: "count"},
			{Title: "Outcomes per 100 ms", Series: []string{"successes", "failures", "rejected", "timeouts"}, Kind: "count"},
			{Title: "Breaker state", Series: []string{"state"}, Kind: "state", Levels: []string{"closed", "half_open", "open"}},
			{Title: "Call latency", Series: []string{"call_p50", "call_p99"}, Kind: "latency"},
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
		f("backoff_base_ms", "Backoff base", labs.Int, 50, 0, 10000, "ms",
			"Full jitter: before retry n (from 0) sleep uniform in [0, min(2000 ms, base × 2^n)]. 0 retries at once."),
		f("retry_budget", "Retry budget", labs.Float, 0.1, 0, 1, "",
			"Retries may add at most this share of first attempts over the last 10 s (0.1: 10%). 0 allows none; 1 lets retries double the load."),
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
	br          *Breaker
	budget      *RetryBudget
	down        *Downstream
	callTimeout time.Duration
	retries     int
	backoffBase time.Duration
	// clock makes the timeouts and backoff pauses and now reads it (the
	// real clock live; a manual one a check suite moves), so that the state
	// machine, the budget's window and every wait keep the same time.
	clock labs.Clock
	now   func() time.Time
	waits *waitLog // nil on the real clock
	// life ends at Close, cutting in-flight calls and backoff pauses.
	life context.Context
	stop context.CancelFunc

	clientCalls, successes, failures, rejected, timeouts, cancelled atomic.Int64
	retried, deniedByBudget, deniedByBreaker                        atomic.Int64
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
		budget:      NewRetryBudget(d.Float("retry_budget"), env.Now),
		down:        down,
		life:        life, stop: stop,
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
		stop()
		return nil, err
	}
	i.br = br
	env.Metrics.Gauge("state", float64(Closed))
	return i, nil
}

// CallResult is what one client call came to, as POST call reports it.
type CallResult struct {
	// Result is ok, failure (502), rejected (503, failed fast), timeout
	// (504) or cancelled (499: the caller or the instance stopped first).
	Result string `json:"result"`
	Status int    `json:"status"`
	// Attempts is how many attempts reached the downstream (0 when the
	// breaker failed the call fast); Outcomes lists them in order.
	Attempts int      `json:"attempts"`
	Outcomes []string `json:"outcomes"`
	// Stopped says why no further retry was made, when one was wanted.
	Stopped   string  `json:"stopped,omitempty"`
	LatencyMS float64 `json:"latency_ms"`
	// State is the breaker's state after the call.
	State State  `json:"state"`
	Error string `json:"error,omitempty"`
}

// outcome gives a result's status and what to tell the caller.
func outcome(result string) (int, string) {
	switch result {
	case "ok":
		return http.StatusOK, ""
	case "failure":
		return http.StatusBadGateway, "The downstream failed."
	case "rejected":
		return http.StatusServiceUnavailable, "The breaker is open: failed fast without calling the downstream."
	case "timeout":
		return http.StatusGatewayTimeout, "The downstream did not answer within call_timeout_ms; the call was cut."
	}
	return StatusCancelled, "The call was abandoned before it finished (the caller went away or the instance stopped)."
}

// call is one client call: a first attempt and any retries, each through
// the breaker.
func (i *instance) call(ctx context.Context) CallResult {
	if i.life.Err() != nil {
		return CallResult{Result: "cancelled", Status: StatusCancelled, Outcomes: []string{}, State: i.br.State(),
			Error: "The instance has stopped."}
	}
	start := i.now()
	m := i.env.Metrics
	i.clientCalls.Add(1)
	m.Count("client_calls", 1)
	res := CallResult{Outcomes: []string{}}
	last := ""
	for n := 0; ; n++ {
		var t Ticket
		if n == 0 {
			var err error
			if t, err = i.br.Allow(); err != nil {
				i.rejected.Add(1)
				m.Count("rejected", 1)
				last, res.Error = "rejected", "The breaker failed the call fast: "+err.Error()+"; the downstream was not called."
				break
			}
			i.budget.OnRequest()
		} else {
			var why string
			if t, why = i.retry(ctx, n); why != "" {
				if why == whyCancelled {
					last = "cancelled"
				}
				res.Stopped = why
				break
			}
			i.retried.Add(1)
			m.Count("retries", 1)
		}
		last = i.attempt(ctx, t)
		res.Attempts++
		res.Outcomes = append(res.Outcomes, last)
		if last == "ok" || last == "cancelled" {
			break
		}
	}
	d := i.now().Sub(start)
	m.Latency("call", d)
	var msg string
	res.Result = last
	if res.Status, msg = outcome(last); res.Error == "" {
		res.Error = msg
	}
	res.LatencyMS = float64(d.Microseconds()) / 1000
	res.State = i.br.State()
	return res
}

const whyCancelled = "the call was abandoned during the backoff pause"

// retry decides whether retry n (from 1) may go out and, if so, sleeps its
// backoff pause and admits it through the breaker. It returns why not, or
// "" with the ticket of the admitted retry.
func (i *instance) retry(ctx context.Context, n int) (Ticket, string) {
	if n > i.retries {
		if i.retries == 0 {
			return Ticket{}, "no retries (retries is 0)"
		}
		return Ticket{}, fmt.Sprintf("all %d retries used", i.retries)
	}
	// Checked before spending budget or sleeping: an open breaker means the
	// client should fail now, not after a pause.
	if i.br.State() == Open {
		i.deniedByBreaker.Add(1)
		return Ticket{}, "the breaker is open; retries are not attempted while it is"
	}
	rsv, ok := i.budget.Reserve()
	if !ok {
		i.deniedByBudget.Add(1)
		reqs, rets := i.budget.Usage()
		return Ticket{}, fmt.Sprintf("retry budget spent: %d retries for %d first attempts in the last %v (retry_budget %g)",
			rets, reqs, BudgetWindow, i.design.Float("retry_budget"))
	}
	if !i.sleep(ctx, i.backoff(n-1)) {
		i.budget.Cancel(rsv)
		return Ticket{}, whyCancelled
	}
	// The breaker may have opened during the pause; the retry asks it again
	// like any other call.
	t, err := i.br.Allow()
	if err != nil {
		i.budget.Cancel(rsv)
		i.deniedByBreaker.Add(1)
		return Ticket{}, "the breaker refused the retry: " + err.Error()
	}
	return t, ""
}

// backoff draws the pause before retry n (from 0) with full jitter: uniform
// in [0, min(BackoffCap, base × 2^n)].
func (i *instance) backoff(n int) time.Duration {
	ceiling := BackoffCap
	if d := i.backoffBase << n; d >= 0 && d < ceiling { // n ≤ 9 and base ≤ 10 s: no overflow
		ceiling = d
	}
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling + 1)
}

// sleep waits d unless ctx ends or the instance stops first.
func (i *instance) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil && i.life.Err() == nil
	}
	t := i.clock.NewTimer(d)
	defer t.Stop()
	defer i.waits.wait(i.now().Add(d))()
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
	case <-i.life.Done():
	}
	return false
}

// attempt makes one admitted call to the downstream with the call timeout
// and no lock held, and reports its outcome to the breaker.
func (i *instance) attempt(ctx context.Context, t Ticket) string {
	actx, cancel := labs.WithTimeout(ctx, i.clock, i.callTimeout)
	unhook := context.AfterFunc(i.life, cancel)
	err := i.down.Call(actx)
	unhook()
	cancel()
	m := i.env.Metrics
	switch {
	case err == nil:
		i.br.Done(t, Success)
		i.successes.Add(1)
		m.Count("successes", 1)
		return "ok"
	case errors.Is(err, ErrDownstream):
		i.br.Done(t, Failure)
		i.failures.Add(1)
		m.Count("failures", 1)
		return "failure"
	case ctx.Err() != nil || i.life.Err() != nil:
		// The caller gave up, not the downstream: this says nothing about
		// its health, so the breaker does not count it.
		i.br.Done(t, Ignore)
		i.cancelled.Add(1)
		return "cancelled"
	default: // our own deadline: the downstream was too slow
		i.br.Done(t, Failure)
		i.timeouts.Add(1)
		m.Count("timeouts", 1)
		return "timeout"
	}
}
