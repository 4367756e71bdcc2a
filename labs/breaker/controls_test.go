package breaker

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

func TestBackoffKinds(t *testing.T) {
	base := 100 * time.Millisecond
	for range 200 {
		if d := Backoff(BackoffNone, base, 2); d != 0 {
			t.Fatalf("none paused %v", d)
		}
		if d := Backoff(BackoffExponential, base, 2); d != 400*time.Millisecond {
			t.Fatalf("exponential paused %v before retry 2, want 400ms", d)
		}
		if d := Backoff(BackoffFullJitter, base, 2); d < 0 || d > 400*time.Millisecond {
			t.Fatalf("full jitter paused %v, outside [0, 400ms]", d)
		}
		if d := Backoff(BackoffEqualJitter, base, 2); d < 200*time.Millisecond || d > 400*time.Millisecond {
			t.Fatalf("equal jitter paused %v, outside [200ms, 400ms]", d)
		}
		if d := Backoff(BackoffExponential, base, 9); d != BackoffCap {
			t.Fatalf("exponential paused %v before retry 9, want the cap", d)
		}
	}
}

func TestControlsValidation(t *testing.T) {
	for body, field := range map[string]string{
		`{"backoff": "linear"}`:     "backoff",
		`{"breaker": "off"}`:        "breaker",
		`{"retry_budget": 10.5}`:    "retry_budget",
		`{"breaker": true}`:         "breaker",
		`{"backoff": 1}`:            "backoff",
		`{"retry_budget": "lots"}`:  "retry_budget",
		`{"breaker": "holds-lock"}`: "breaker",
	} {
		if _, errs := labs.ParseDesign(Lab, []byte(body)); errs[field] == "" {
			t.Errorf("design %s: errors %v do not name %s", body, errs, field)
		}
	}
	for _, body := range []string{`{"breaker": "none", "retry_budget": 10, "backoff": "none"}`, `{"breaker": "holds_lock", "backoff": "equal_jitter"}`} {
		if _, errs := labs.ParseDesign(Lab, []byte(body)); len(errs) > 0 {
			t.Errorf("design %s: %v", body, errs)
		}
	}
	for _, e := range labtest.Envs(t, "brctlval") {
		t.Run(e.Name, func(t *testing.T) {
			inst := launch(t, e.Env, `{}`)
			for body, field := range map[string]string{
				`{"capacity": -1}`:        "capacity",
				`{"capacity": 1001}`:      "capacity",
				`{"capacity": 2.5}`:       "capacity",
				`{"queue": "many"}`:       "queue",
				`{"queue": 100001}`:       "queue",
				`{"capacity": null}`:      "capacity",
				`{"queue": -3, "x": 1}`:   "queue",
				`{"capacity": 1e300}`:     "capacity",
				`{"capacity": 4, "q": 1}`: "q",
			} {
				rec := serve(t, inst, http.MethodPut, "downstream", body)
				var e struct {
					Error struct{ Fields map[string]string } `json:"error"`
				}
				_ = json.Unmarshal(rec.Body.Bytes(), &e)
				if rec.Code != http.StatusUnprocessableEntity || e.Error.Fields[field] == "" {
					t.Errorf("PUT downstream %s: %d %s, want 422 naming %s", body, rec.Code, rec.Body, field)
				}
			}
			if s := getState(t, inst); s.Downstream["capacity"] != 0.0 || s.Downstream["queue"] != float64(DefaultQueue) {
				t.Fatalf("a refused update changed the downstream: %v", s.Downstream)
			}
		})
	}
}

// With no breaker and an unlimited budget, every call makes all its
// retries against a dead downstream, and nothing ever opens.
func TestNoBreakerUnlimitedBudget(t *testing.T) {
	for _, e := range labtest.Envs(t, "brnone") {
		t.Run(e.Name, func(t *testing.T) {
			inst := launch(t, e.Env, `{"breaker": "none", "retries": 3, "retry_budget": 10, "backoff": "none"}`)
			setDownstream(t, inst, `{"outage": true, "latency_ms": 0}`)
			for range 20 {
				if code, res := post(t, inst); code != http.StatusBadGateway || res.Attempts != 4 || res.State != Closed {
					t.Fatalf("call against an outage: %d %+v", code, res)
				}
			}
			s := getState(t, inst)
			if s.DownstreamCalls != 80 || s.Retries != 60 || s.RetriesDeniedByBudget != 0 || len(s.Transitions) != 0 || s.State != "closed" {
				t.Fatalf("state %+v", s)
			}
			checkAccounting(t, s)
		})
	}
}

// startCall runs one POST call in the background.
func startCall(t *testing.T, inst *instance) <-chan CallResult {
	t.Helper()
	out := make(chan CallResult, 1)
	go func() { out <- inst.call(context.Background()) }()
	return out
}

// A downstream with a capacity serves one call at a time here: the second
// waits its turn in the queue, the third finds the queue full and is
// refused at once. Times are on a manual clock.
func TestDownstreamCapacity(t *testing.T) {
	for _, e := range labtest.Envs(t, "brcap") {
		t.Run(e.Name, func(t *testing.T) {
			clk := labs.NewManualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
			e.Env.Clock, e.Env.Now = clk, nil
			inst := launch(t, e.Env, `{"call_timeout_ms": 1000}`)
			setDownstream(t, inst, `{"capacity": 1, "queue": 1, "latency_ms": 100}`)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a backstop, never a verdict
			defer cancel()
			a := startCall(t, inst)
			if err := clk.BlockUntil(ctx, 2); err != nil { // a's downstream wait and its timeout
				t.Fatal(err)
			}
			b := startCall(t, inst)
			if err := clk.BlockUntil(ctx, 4); err != nil {
				t.Fatal(err)
			}
			if code, res := post(t, inst); code != http.StatusBadGateway || res.Attempts != 1 {
				t.Fatalf("a call beyond the queue: %d %+v", code, res)
			}
			s := getState(t, inst)
			if l := s.DownstreamLoad; l.Busy != 1 || l.Queued != 1 || l.Shed != 1 {
				t.Fatalf("load %+v, want 1 busy, 1 queued, 1 shed", l)
			}
			clk.Advance(100 * time.Millisecond)
			if res := <-a; res.Result != "ok" || res.LatencyMS != 100 {
				t.Fatalf("first call %+v", res)
			}
			clk.Advance(100 * time.Millisecond)
			if res := <-b; res.Result != "ok" || res.LatencyMS != 200 {
				t.Fatalf("queued call %+v, want ok after 200 ms", res)
			}
			if l := getState(t, inst).DownstreamLoad; l.Busy != 0 || l.Queued != 0 {
				t.Fatalf("load after the calls %+v", l)
			}
		})
	}
}

// The module's breaker holds its lock across the call: a second caller
// waits for the first call to end before its own starts, so it takes
// twice as long; the lab's breaker lets both run at once.
func TestHoldsLockSerialisesCalls(t *testing.T) {
	for _, e := range labtest.Envs(t, "brlock") {
		t.Run(e.Name, func(t *testing.T) {
			for impl, want := range map[string]float64{ImplStandard: 300, ImplHoldsLock: 600} {
				clk := labs.NewManualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
				env := e.Env
				env.Clock, env.Now = clk, nil
				inst := launch(t, env, `{"call_timeout_ms": 1000, "breaker": "`+impl+`"}`)
				setDownstream(t, inst, `{"latency_ms": 300}`)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				a := startCall(t, inst)
				if err := clk.BlockUntil(ctx, 2); err != nil {
					t.Fatal(err)
				}
				b := startCall(t, inst)
				waitFor(ctx, t, func() bool {
					if impl == ImplHoldsLock {
						return getState(t, inst).LockWaits == 1
					}
					return clk.Waiters() == 4
				})
				clk.Advance(300 * time.Millisecond)
				<-a
				if impl == ImplHoldsLock {
					if err := clk.BlockUntil(ctx, 2); err != nil {
						t.Fatal(err)
					}
					clk.Advance(300 * time.Millisecond)
				}
				if res := <-b; res.Result != "ok" || res.LatencyMS != want {
					t.Errorf("%s: second call %+v, want ok after %.0f ms", impl, res, want)
				}
				cancel()
			}
		})
	}
}

// waitFor polls cond until it holds; ctx is a backstop, never a verdict.
func waitFor(ctx context.Context, t *testing.T, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("the condition never held")
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// error_burst spreads error_rate's failures into evenly spaced runs.
func TestErrorBursts(t *testing.T) {
	for _, tc := range []struct {
		rate         float64
		burst        int
		fails, run   int
		first, calls int64
	}{
		{0.05, 5, 50, 5, 95, 1000},
		{0.08, 1, 76, 1, 12, 1000},
		{0, 5, 0, 0, -1, 1000},
	} {
		s := Settings{ErrorRate: tc.rate, ErrorBurst: tc.burst}
		fails, run, longest, first := 0, 0, 0, int64(-1)
		for k := range tc.calls {
			if !s.fails(k) {
				run = 0
				continue
			}
			if first < 0 {
				first = k
			}
			fails, run = fails+1, run+1
			longest = max(longest, run)
		}
		if fails != tc.fails || longest != tc.run || first != tc.first {
			t.Errorf("rate %g in runs of %d: %d failures, longest run %d, first at %d; want %d, %d, %d",
				tc.rate, tc.burst, fails, longest, first, tc.fails, tc.run, tc.first)
		}
	}
}
