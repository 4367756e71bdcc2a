package breaker

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/labs"
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
func serve(t *testing.T, inst *instance, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	inst.Handler().ServeHTTP(rec, httptest.NewRequest(method, "/"+path, strings.NewReader(body)))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	return rec
}

func setDownstream(t *testing.T, inst *instance, body string) {
	t.Helper()
	if rec := serve(t, inst, http.MethodPut, "downstream", body); rec.Code != http.StatusOK {
		t.Fatalf("PUT downstream %s: %d %s", body, rec.Code, rec.Body)
	}
}

func post(t *testing.T, inst *instance) (int, CallResult) {
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
	LockWaits              int64            `json:"lock_waits"`
	DownstreamLoad         LoadView         `json:"downstream_load"`
	Transitions            []map[string]any `json:"transitions"`
	Design                 map[string]any   `json:"design"`
	Downstream             map[string]any   `json:"downstream"`
}

func getState(t *testing.T, inst *instance) stateJSON {
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
