package breaker

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

func TestCallStatusesAndState(t *testing.T) {
	for _, e := range labtest.Envs(t, "brstatus") {
		t.Run(e.Name, func(t *testing.T) {
			clk := newFakeClock()
			e.Env.Now = clk.Now
			inst := launch(t, e.Env, `{"failure_threshold": 3, "open_timeout_ms": 2000}`)
			callUntilOpen(t, inst)
			rec := serve(t, inst, http.MethodPost, "call", "")
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "2" {
				t.Fatalf("open: %d Retry-After %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
			}
			var res CallResult
			_ = json.Unmarshal(rec.Body.Bytes(), &res)
			if res.Result != "rejected" || res.Attempts != 0 || res.State != Open {
				t.Fatalf("open: %+v", res)
			}

			s := getState(t, inst)
			if s.State != "open" || s.DownstreamCalls != 4 || s.ClientCalls != 5 || s.Successes != 1 || s.Failures != 3 || s.Rejected != 1 || s.Timeouts != 0 {
				t.Fatalf("state %+v", s)
			}
			checkAccounting(t, s)
			if tr := transitionsOf(s); !slices.Equal(tr, []string{"closed>open"}) {
				t.Fatalf("transitions %v", tr)
			}
			if s.Design["failure_threshold"] != 3.0 || s.Downstream["error_rate"] != 1.0 {
				t.Fatalf("design %v downstream %v", s.Design, s.Downstream)
			}
			checkStateFields(t, inst)
			// Hit is the same call.
			if code, err := inst.Hit(context.Background(), "k0"); code != http.StatusServiceUnavailable || err != nil {
				t.Fatalf("Hit: %d %v", code, err)
			}
		})
	}
}

// callUntilOpen makes a healthy call, then three failing ones that open a
// breaker whose failure_threshold is 3, checking each answer.
func callUntilOpen(t *testing.T, inst *instance) {
	t.Helper()
	setDownstream(t, inst, `{"latency_ms": 0}`)
	if code, res := post(t, inst); code != http.StatusOK || res.Result != "ok" || res.Attempts != 1 || res.State != Closed {
		t.Fatalf("healthy call: %d %+v", code, res)
	}
	setDownstream(t, inst, `{"error_rate": 1}`)
	for i := range 3 {
		code, res := post(t, inst)
		if code != http.StatusBadGateway || res.Result != "failure" || res.Attempts != 1 || res.Error == "" {
			t.Fatalf("failing call %d: %d %+v", i, code, res)
		}
		if want := map[bool]State{true: Open, false: Closed}[i == 2]; res.State != want {
			t.Fatalf("after failure %d the breaker is %s", i+1, res.State)
		}
	}
}

// checkStateFields checks that GET state's raw JSON names every public
// field, and its first transition every part.
func checkStateFields(t *testing.T, inst *instance) {
	t.Helper()
	raw := map[string]any{}
	_ = json.Unmarshal(serve(t, inst, http.MethodGet, "state", "").Body.Bytes(), &raw)
	for _, k := range []string{"state", "downstream_calls", "client_calls", "successes", "failures", "rejected", "timeouts",
		"retries", "retries_denied_by_budget", "retries_denied_by_breaker", "transitions", "breaker", "retry_budget", "design", "downstream"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("GET state has no %q", k)
		}
	}
	trs, _ := raw["transitions"].([]any)
	if len(trs) == 0 {
		t.Fatalf("GET state has no transitions: %v", raw)
	}
	tr, _ := trs[0].(map[string]any)
	for _, k := range []string{"at", "from", "to", "reason"} {
		if tr[k] == nil || tr[k] == "" {
			t.Errorf("transition has no %q: %v", k, tr)
		}
	}
}

func TestBreakerCyclesThroughHalfOpen(t *testing.T) {
	for _, e := range labtest.Envs(t, "brcycle") {
		t.Run(e.Name, func(t *testing.T) {
			clk := newFakeClock()
			e.Env.Now = clk.Now
			inst := launch(t, e.Env, `{"failure_threshold": 1, "open_timeout_ms": 2000, "half_open_probes": 2}`)
			setDownstream(t, inst, `{"latency_ms": 0, "outage": true}`)
			status := func(want int) {
				t.Helper()
				if code, res := post(t, inst); code != want {
					t.Fatalf("got %d (%+v), want %d", code, res, want)
				}
			}
			status(http.StatusBadGateway) // opens
			status(http.StatusServiceUnavailable)
			clk.Advance(1999 * time.Millisecond)
			status(http.StatusServiceUnavailable)
			clk.Advance(time.Millisecond)
			before := getState(t, inst).DownstreamCalls
			status(http.StatusBadGateway) // the probe fails: reopens
			status(http.StatusServiceUnavailable)
			if got := getState(t, inst).DownstreamCalls - before; got != 1 {
				t.Fatalf("half-open sent %d calls, want the 1 probe", got)
			}
			setDownstream(t, inst, `{"outage": false}`)
			clk.Advance(2 * time.Second)
			status(http.StatusOK)
			if s := getState(t, inst); s.State != "half_open" {
				t.Fatalf("after 1 of 2 probes: %s", s.State)
			}
			status(http.StatusOK)
			s := getState(t, inst)
			want := []string{"closed>open", "open>half_open", "half_open>open", "open>half_open", "half_open>closed"}
			if tr := transitionsOf(s); s.State != "closed" || !slices.Equal(tr, want) {
				t.Fatalf("state %s, transitions %v", s.State, tr)
			}
			checkAccounting(t, s)
			// Every transition is in the event log with its reason.
			_, _, events, cancel := e.Env.Metrics.Subscribe()
			cancel()
			n := 0
			for _, ev := range events {
				if strings.HasPrefix(ev.Msg, "breaker ") && strings.Contains(ev.Msg, ": ") {
					n++
				}
			}
			if n != len(want) {
				t.Fatalf("%d transition events, want %d: %+v", n, len(want), events)
			}
		})
	}
}

// On a manual clock a slow call is cut exactly at call_timeout_ms: it waits
// until the clock reaches the timeout and not a moment longer.
func TestSlowCallsCutAtTimeout(t *testing.T) {
	for _, e := range labtest.Envs(t, "brslow") {
		t.Run(e.Name, func(t *testing.T) {
			clk := labs.NewManualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
			e.Env.Clock, e.Env.Now = clk, clk.Now
			inst := launch(t, e.Env, `{"failure_threshold": 2, "call_timeout_ms": 50, "open_timeout_ms": 600000}`)
			setDownstream(t, inst, `{"latency_ms": 10000}`)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a backstop, never a verdict
			defer cancel()
			for i := range 2 {
				done := make(chan CallResult, 1)
				go func() { done <- inst.call(ctx) }()
				// The call waits on its timeout and on the provider.
				if err := clk.BlockUntil(ctx, 2); err != nil {
					t.Fatal(err)
				}
				clk.Advance(49 * time.Millisecond)
				select {
				case res := <-done:
					t.Fatalf("slow call %d ended before its timeout: %+v", i, res)
				default:
				}
				clk.Advance(time.Millisecond)
				var res CallResult
				select {
				case res = <-done:
				case <-ctx.Done():
					t.Fatalf("slow call %d was not cut at its timeout", i)
				}
				if res.Status != http.StatusGatewayTimeout || res.Result != "timeout" || res.Attempts != 1 || res.LatencyMS != 50 {
					t.Fatalf("slow call %d: %+v", i, res)
				}
			}
			s := getState(t, inst)
			// Two timeouts count as two consecutive failures: open.
			if s.State != "open" || s.Timeouts != 2 || s.Failures != 0 || s.DownstreamCalls != 2 {
				t.Fatalf("state %+v", s)
			}
			if r := s.Transitions[0]["reason"].(string); !strings.Contains(r, "2 consecutive failures") {
				t.Fatalf("reason %q", r)
			}
			checkAccounting(t, s)
		})
	}
}

func TestCloseStopsCallsAndSweepsKeys(t *testing.T) {
	for _, e := range labtest.Envs(t, "brclose") {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			clk := labs.NewManualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
			e.Env.Clock, e.Env.Now = clk, clk.Now
			inst := launch(t, e.Env, `{"call_timeout_ms": 60000}`)
			if err := e.Env.Redis.Set(ctx, e.Env.Prefix+"stray", "1", 0).Err(); err != nil {
				t.Fatal(err)
			}
			setDownstream(t, inst, `{"latency_ms": 10000}`)
			done := make(chan CallResult, 1)
			go func() { done <- inst.call(ctx) }()
			// The call is at the downstream once it waits there and on its
			// timeout (a backstop bounds the wait; it is never a verdict).
			bctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if err := clk.BlockUntil(bctx, 2); err != nil {
				t.Fatal("the call never reached the downstream")
			}
			if err := inst.Close(ctx); err != nil {
				t.Fatal(err)
			}
			select {
			case res := <-done:
				if res.Result != "cancelled" || res.Status != StatusCancelled {
					t.Fatalf("in-flight call at close: %+v", res)
				}
			case <-bctx.Done():
				t.Fatal("Close left a call waiting on the downstream")
			}
			if n, err := e.Env.Redis.Exists(ctx, e.Env.Prefix+"stray").Result(); err != nil || n != 0 {
				t.Fatalf("keys under the prefix after Close: %d %v", n, err)
			}
			if _, err := inst.Hit(ctx, "k0"); err == nil {
				t.Fatal("Hit on a closed instance reported no error")
			}
			checkAccounting(t, getState(t, inst))
		})
	}
}

func TestInfoAndDesign(t *testing.T) {
	info := Lab.Info()
	if info.ID != "breaker" || info.Lesson != "fault-tolerance" || len(info.Try) < 4 || len(info.Try) > 6 || info.Explain == "" {
		t.Fatalf("info %+v", info)
	}
	var series []string
	for _, c := range info.Charts {
		series = append(series, c.Series...)
		if c.Kind == "state" && !slices.Equal(c.Levels, []string{"closed", "half_open", "open"}) {
			t.Errorf("state chart levels %v", c.Levels)
		}
	}
	for _, s := range []string{"client_calls", "downstream_calls", "successes", "failures", "rejected", "timeouts", "state", "call_p50", "call_p99"} {
		if !slices.Contains(series, s) {
			t.Errorf("no chart draws %s", s)
		}
	}
	d, errs := labs.ParseDesign(Lab, []byte(`{}`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := labs.Design{"failure_threshold": 5, "failure_rate": 0.0, "window_size": 20, "min_calls": 10, "open_timeout_ms": 2000,
		"half_open_probes": 1, "call_timeout_ms": 1000, "retries": 0, "backoff_base_ms": 50, "retry_budget": 0.1,
		"backoff": BackoffFullJitter, "breaker": ImplStandard}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("default %s = %#v, want %#v", k, d[k], v)
		}
	}
	if len(d) != len(want) {
		t.Errorf("design has %d fields, want %d", len(d), len(want))
	}
	for body, field := range map[string]string{
		`{"failure_threshold": 0}`:             "failure_threshold",
		`{"failure_threshold": 1001}`:          "failure_threshold",
		`{"failure_rate": 1.1}`:                "failure_rate",
		`{"window_size": 4}`:                   "window_size",
		`{"window_size": 10, "min_calls": 11}`: "min_calls",
		`{"open_timeout_ms": 9}`:               "open_timeout_ms",
		`{"half_open_probes": 101}`:            "half_open_probes",
		`{"call_timeout_ms": 0}`:               "call_timeout_ms",
		`{"retries": 11}`:                      "retries",
		`{"backoff_base_ms": 10001}`:           "backoff_base_ms",
		`{"retry_budget": 10.01}`:              "retry_budget",
	} {
		if _, errs := labs.ParseDesign(Lab, []byte(body)); errs[field] == "" {
			t.Errorf("%s: %v, want an error on %s", body, errs, field)
		}
	}
}

func TestBackoffFullJitter(t *testing.T) {
	i := &instance{backoffBase: 100 * time.Millisecond}
	for n, ms := range []time.Duration{100, 200, 400, 800, 1600, 2000, 2000, 2000, 2000, 2000} { // capped at BackoffCap
		ceiling := ms * time.Millisecond
		var maxSeen time.Duration
		for range 2000 {
			d := i.backoff(n)
			if d < 0 || d > ceiling {
				t.Fatalf("retry %d: pause %v outside [0, %v]", n, d, ceiling)
			}
			maxSeen = max(maxSeen, d)
		}
		// Jittered over the whole range, not a fixed pause: in 2000 draws
		// the largest is all but certain to be in the top quarter.
		if maxSeen < ceiling*3/4 {
			t.Errorf("retry %d: largest pause %v of a %v ceiling", n, maxSeen, ceiling)
		}
	}
	if d := (&instance{}).backoff(3); d != 0 {
		t.Errorf("base 0 paused %v", d)
	}
}
