package breaker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

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
			if t, err = i.br.Allow(ctx); err != nil {
				if ctx.Err() != nil || i.life.Err() != nil {
					last = "cancelled"
					break
				}
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
	t, err := i.br.Allow(ctx)
	if err != nil {
		i.budget.Cancel(rsv)
		if ctx.Err() != nil || i.life.Err() != nil {
			return Ticket{}, whyCancelled
		}
		i.deniedByBreaker.Add(1)
		return Ticket{}, "the breaker refused the retry: " + err.Error()
	}
	return t, ""
}

// Backoff kinds (the backoff field).
const (
	BackoffNone        = "none"
	BackoffExponential = "exponential"
	BackoffFullJitter  = "full_jitter"
	BackoffEqualJitter = "equal_jitter"
)

// backoff draws the pause before retry n (from 0) of the design's kind,
// with ceiling c = min(BackoffCap, base × 2^n).
func (i *instance) backoff(n int) time.Duration {
	return Backoff(i.backoffKind, i.backoffBase, n)
}

// Backoff draws the pause of kind before retry n (from 0) with base.
func Backoff(kind string, base time.Duration, n int) time.Duration {
	ceiling := BackoffCap
	if d := base << n; d >= 0 && d < ceiling { // n ≤ 9 and base ≤ 10 s: no overflow
		ceiling = d
	}
	if ceiling <= 0 {
		return 0
	}
	switch kind {
	case BackoffNone:
		return 0
	case BackoffExponential:
		return ceiling
	case BackoffEqualJitter:
		return ceiling/2 + rand.N(ceiling-ceiling/2+1)
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
