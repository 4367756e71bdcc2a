package breaker

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// launch builds an instance of the design on env, closed at the test's end.
func launch(t *testing.T, env labs.Env, design string) *instance {
	t.Helper()
	d, errs := labs.ParseDesign(Lab, []byte(design))
	if len(errs) > 0 {
		t.Fatalf("design %s: %v", design, errs)
	}
	inst, err := Lab.New(context.Background(), env, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Close(context.Background()) })
	return inst.(*instance)
}

// serve sends a request to the instance's route for method and path.
func serve(t *testing.T, inst labs.Instance, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	labs.HandlerOf(inst).ServeHTTP(rec, httptest.NewRequest(method, "/"+path, strings.NewReader(body)))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	return rec
}

func setDownstream(t *testing.T, inst labs.Instance, body string) {
	t.Helper()
	if rec := serve(t, inst, http.MethodPut, "downstream", body); rec.Code != http.StatusOK {
		t.Fatalf("PUT downstream %s: %d %s", body, rec.Code, rec.Body)
	}
}

func post(t *testing.T, inst labs.Instance) (int, CallResult) {
	t.Helper()
	rec := serve(t, inst, http.MethodPost, "call", "")
	var res CallResult
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		t.Fatalf("POST call: %v in %s", err, rec.Body)
	}
	if res.Status != rec.Code {
		t.Fatalf("POST call answered %d with status %d in the body", rec.Code, res.Status)
	}
	return rec.Code, res
}

// stateJSON is GET state as a client sees it.
type stateJSON struct {
	State                  string           `json:"state"`
	DownstreamCalls        int64            `json:"downstream_calls"`
	ClientCalls            int64            `json:"client_calls"`
	Successes              int64            `json:"successes"`
	Failures               int64            `json:"failures"`
	Rejected               int64            `json:"rejected"`
	Timeouts               int64            `json:"timeouts"`
	Cancelled              int64            `json:"cancelled"`
	Retries                int64            `json:"retries"`
	RetriesDeniedByBudget  int64            `json:"retries_denied_by_budget"`
	RetriesDeniedByBreaker int64            `json:"retries_denied_by_breaker"`
	Transitions            []map[string]any `json:"transitions"`
	Design                 map[string]any   `json:"design"`
	Downstream             map[string]any   `json:"downstream"`
}

func getState(t *testing.T, inst labs.Instance) stateJSON {
	t.Helper()
	rec := serve(t, inst, http.MethodGet, "state", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET state: %d", rec.Code)
	}
	var s stateJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// checkAccounting asserts what must hold once no call is in flight: every
// downstream call (counted by the downstream) is one attempt with one
// outcome, and every attempt is a first attempt the breaker let through or
// a retry.
func checkAccounting(t *testing.T, s stateJSON) {
	t.Helper()
	if got := s.Successes + s.Failures + s.Timeouts + s.Cancelled; got != s.DownstreamCalls {
		t.Errorf("outcomes %d (ok %d, failed %d, timed out %d, cancelled %d) != downstream_calls %d",
			got, s.Successes, s.Failures, s.Timeouts, s.Cancelled, s.DownstreamCalls)
	}
	if got := s.ClientCalls - s.Rejected + s.Retries; got != s.DownstreamCalls {
		t.Errorf("client_calls %d - rejected %d + retries %d != downstream_calls %d",
			s.ClientCalls, s.Rejected, s.Retries, s.DownstreamCalls)
	}
}

func transitionsOf(s stateJSON) []string {
	var out []string
	for _, tr := range s.Transitions {
		out = append(out, tr["from"].(string)+">"+tr["to"].(string))
	}
	return out
}

func TestCallStatusesAndState(t *testing.T) {
	for _, e := range labtest.Envs(t, "brstatus") {
		t.Run(e.Name, func(t *testing.T) {
			clk := newFakeClock()
			e.Env.Now = clk.Now
			inst := launch(t, e.Env, `{"failure_threshold": 3, "open_timeout_ms": 2000}`)
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
			// The raw JSON names every public field.
			raw := map[string]any{}
			_ = json.Unmarshal(serve(t, inst, http.MethodGet, "state", "").Body.Bytes(), &raw)
			for _, k := range []string{"state", "downstream_calls", "client_calls", "successes", "failures", "rejected", "timeouts",
				"retries", "retries_denied_by_budget", "transitions", "design", "downstream"} {
				if _, ok := raw[k]; !ok {
					t.Errorf("GET state has no %q", k)
				}
			}
			tr := raw["transitions"].([]any)[0].(map[string]any)
			for _, k := range []string{"at", "from", "to", "reason"} {
				if tr[k] == nil || tr[k] == "" {
					t.Errorf("transition has no %q: %v", k, tr)
				}
			}
			// Hit is the same call.
			if code, err := inst.Hit(context.Background(), "k0"); code != http.StatusServiceUnavailable || err != nil {
				t.Fatalf("Hit: %d %v", code, err)
			}
		})
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

func TestPutDownstream(t *testing.T) {
	for _, e := range labtest.Envs(t, "brput") {
		t.Run(e.Name, func(t *testing.T) {
			inst := launch(t, e.Env, `{}`)
			rec := serve(t, inst, http.MethodPut, "downstream", `{"error_rate": 0.25, "latency_ms": 30, "latency": "long_tail"}`)
			var got Settings
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusOK {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			want := Settings{ErrorRate: 0.25, LatencyMS: 30, Latency: LatencyLongTail}
			if got != want {
				t.Fatalf("settings %+v, want %+v", got, want)
			}
			// Partial: only outage changes.
			rec = serve(t, inst, http.MethodPut, "downstream", `{"outage": true}`)
			_ = json.Unmarshal(rec.Body.Bytes(), &got)
			if want.Outage = true; got != want {
				t.Fatalf("partial update: %+v", got)
			}
			for body, field := range map[string]string{
				`{"error_rate": 1.5}`:                      "error_rate",
				`{"error_rate": -0.1}`:                     "error_rate",
				`{"error_rate": "half"}`:                   "error_rate",
				`{"latency_ms": -1}`:                       "latency_ms",
				`{"latency_ms": 10001}`:                    "latency_ms",
				`{"latency_ms": 2.5}`:                      "latency_ms",
				`{"latency_ms": 1e999}`:                    "latency_ms",
				`{"latency": "slow"}`:                      "latency",
				`{"latency": 3}`:                           "latency",
				`{"outage": "yes"}`:                        "outage",
				`{"outage": null}`:                         "outage",
				`{"error_rate": 0.5, "latncy_ms": 3}`:      "latncy_ms",
				`{"error_rate": 0.9, "latency": "normal"}`: "latency",
			} {
				rec := serve(t, inst, http.MethodPut, "downstream", body)
				var resp struct {
					Error struct {
						Message string            `json:"message"`
						Fields  map[string]string `json:"fields"`
					} `json:"error"`
				}
				_ = json.Unmarshal(rec.Body.Bytes(), &resp)
				if rec.Code != http.StatusUnprocessableEntity || resp.Error.Fields[field] == "" {
					t.Errorf("%s: %d %s, want 422 naming %s", body, rec.Code, rec.Body, field)
				}
			}
			rec = serve(t, inst, http.MethodPut, "downstream", `{"error_rate": 2, "latency": 3, "latency_ms": 5}`)
			if body := rec.Body.String(); rec.Code != http.StatusUnprocessableEntity ||
				!strings.Contains(body, `"error_rate"`) || !strings.Contains(body, `"latency"`) || strings.Contains(body, `"latency_ms"`) {
				t.Errorf("two bad fields: %d %s, want both named and only them", rec.Code, body)
			}
			for _, body := range []string{``, `not json`, `[1, 2]`, `null`, `{"outage": true} junk`, `"x"`} {
				if rec := serve(t, inst, http.MethodPut, "downstream", body); rec.Code != http.StatusBadRequest {
					t.Errorf("%q: %d %s, want 400", body, rec.Code, rec.Body)
				}
			}
			if rec := serve(t, inst, http.MethodPut, "downstream", `{"latency": "`+strings.Repeat("x", 20<<10)+`"}`); rec.Code != http.StatusRequestEntityTooLarge {
				t.Errorf("oversized body: %d", rec.Code)
			}
			// Rejected updates change nothing, not even their valid fields.
			if s := getState(t, inst); s.Downstream["error_rate"] != 0.25 || s.Downstream["latency"] != "long_tail" || s.Downstream["outage"] != true {
				t.Fatalf("settings after rejected updates: %v", s.Downstream)
			}
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
		"half_open_probes": 1, "call_timeout_ms": 1000, "retries": 0, "backoff_base_ms": 50, "retry_budget": 0.1}
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
		`{"retry_budget": 2}`:                  "retry_budget",
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
