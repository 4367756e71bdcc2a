package breaker

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

func TestRetryBudgetBoundsLoad(t *testing.T) {
	const requests = 300
	for _, e := range labtest.Envs(t, "brbudget") {
		t.Run(e.Name, func(t *testing.T) {
			// On a clock that stands still the budget's 10 s window holds the
			// whole run, however long the machine takes over it; with no
			// latency and no backoff no call ever waits on that clock.
			clk := labs.NewManualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
			e.Env.Clock, e.Env.Now = clk, clk.Now
			run := func(budget string) stateJSON {
				// The breaker stays closed (its threshold is out of reach),
				// so only the budget limits retries.
				inst := launch(t, e.Env, `{"failure_threshold": 1000, "retries": 3, "backoff_base_ms": 0, "retry_budget": `+budget+`}`)
				setDownstream(t, inst, `{"latency_ms": 0, "outage": true}`)
				sum := labs.RunLoad(context.Background(), inst, labs.LoadSpec{Requests: requests, Concurrency: 8, Keys: 1})
				if sum.ByStatus["502"] != requests {
					t.Fatalf("budget %s: %+v", budget, sum)
				}
				s := getState(t, inst)
				checkAccounting(t, s)
				if s.State != "closed" || s.ClientCalls != requests {
					t.Fatalf("budget %s: %+v", budget, s)
				}
				return s
			}
			tight := run("0.1")
			if limit := 1.1*float64(tight.ClientCalls) + 1; float64(tight.DownstreamCalls) > limit {
				t.Errorf("budget 0.1: %d downstream calls for %d client calls, above %.0f", tight.DownstreamCalls, tight.ClientCalls, limit)
			}
			if tight.Retries < requests/10-8 || tight.RetriesDeniedByBudget == 0 {
				t.Errorf("budget 0.1: %d retries, %d denied", tight.Retries, tight.RetriesDeniedByBudget)
			}
			loose := run("1")
			if float64(loose.DownstreamCalls) < 1.8*float64(loose.ClientCalls) {
				t.Errorf("budget 1: only %d downstream calls for %d client calls", loose.DownstreamCalls, loose.ClientCalls)
			}
			none := run("0")
			if none.Retries != 0 || none.DownstreamCalls != requests {
				t.Errorf("budget 0: %d retries, %d downstream calls", none.Retries, none.DownstreamCalls)
			}
		})
	}
}

func TestNoRetriesWhileOpen(t *testing.T) {
	const threshold, workers = 5, 8
	for _, e := range labtest.Envs(t, "bropen") {
		t.Run(e.Name, func(t *testing.T) {
			design := `{"failure_threshold": 5, "open_timeout_ms": 600000, "retries": 3, "backoff_base_ms": 0, "retry_budget": 1}`
			// One caller at a time, so every step is determined. Budget 1
			// allows one retry per first attempt: calls 1 and 2 make two
			// attempts each; call 3's first attempt is the 5th failure and
			// opens the breaker, so its retry is not made.
			inst := launch(t, e.Env, design)
			setDownstream(t, inst, `{"latency_ms": 0, "outage": true}`)
			for i, want := range []int{2, 2, 1, 0, 0} {
				code, res := post(t, inst)
				if res.Attempts != want {
					t.Fatalf("call %d: %d attempts (%+v), want %d", i+1, res.Attempts, res, want)
				}
				if i == 2 && (code != http.StatusBadGateway || res.State != Open || !strings.Contains(res.Stopped, "breaker is open")) {
					t.Fatalf("call 3: %d %+v", code, res)
				}
			}
			if s := getState(t, inst); s.DownstreamCalls != 5 || s.Retries != 2 || s.RetriesDeniedByBreaker != 1 || s.Rejected != 2 {
				t.Fatalf("sequential: %+v", s)
			}

			// Concurrent callers.
			inst = launch(t, e.Env, design)
			setDownstream(t, inst, `{"latency_ms": 0, "outage": true}`)
			labs.RunLoad(context.Background(), inst, labs.LoadSpec{Requests: 200, Concurrency: workers, Keys: 1})
			s := getState(t, inst)
			checkAccounting(t, s)
			// Only attempts admitted while closed reach the downstream: the
			// threshold's failures and at most one in flight per other
			// worker. Retries would add more if the open breaker let them.
			if s.State != "open" || s.DownstreamCalls > threshold+workers-1 || s.Rejected < 200-threshold-workers {
				t.Fatalf("state %+v", s)
			}
			for range 20 {
				if code, res := post(t, inst); code != http.StatusServiceUnavailable || res.Attempts != 0 {
					t.Fatalf("open: %d %+v", code, res)
				}
			}
			after := getState(t, inst)
			if after.DownstreamCalls != s.DownstreamCalls || after.Retries != s.Retries {
				t.Fatalf("open breaker: downstream %d → %d, retries %d → %d", s.DownstreamCalls, after.DownstreamCalls, s.Retries, after.Retries)
			}
		})
	}
}

// TestMixedLoadAccounting runs a concurrent load where everything happens
// at once (errors, timeouts, retries, opening and probing) and checks the
// books balance and the breaker moved only along its edges.
func TestMixedLoadAccounting(t *testing.T) {
	legal := map[string]bool{"closed>open": true, "open>half_open": true, "half_open>open": true, "half_open>closed": true}
	for _, e := range labtest.Envs(t, "brmixed") {
		t.Run(e.Name, func(t *testing.T) {
			inst := launch(t, e.Env, `{"failure_rate": 0.5, "window_size": 10, "min_calls": 5, "open_timeout_ms": 10,
				"half_open_probes": 2, "call_timeout_ms": 4, "retries": 2, "backoff_base_ms": 1, "retry_budget": 0.5}`)
			setDownstream(t, inst, `{"error_rate": 0.4, "latency_ms": 2, "latency": "uniform"}`)
			sum := labs.RunLoad(context.Background(), inst, labs.LoadSpec{Requests: 600, Concurrency: 8, RatePerS: 2000, Keys: 1})
			s := getState(t, inst)
			checkAccounting(t, s)
			if sum.Errors != 0 || s.ClientCalls != 600 || s.Successes == 0 || s.Failures == 0 || s.Retries == 0 {
				t.Fatalf("summary %+v state %+v", sum, s)
			}
			prev := "closed"
			if len(s.Transitions) == MaxTransitions { // older ones were dropped
				prev = s.Transitions[0]["from"].(string)
			}
			for _, tr := range s.Transitions {
				from, to := tr["from"].(string), tr["to"].(string)
				if from != prev || !legal[from+">"+to] {
					t.Fatalf("transition %s → %s after %s", from, to, prev)
				}
				prev = to
			}
			if prev != s.State {
				t.Fatalf("last transition to %s, state %s", prev, s.State)
			}
		})
	}
}
