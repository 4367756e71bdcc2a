package breaker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labhttp"
	"github.com/sdworkbook/workbook/labs/labtest"
)

func TestPutDownstream(t *testing.T) {
	for _, e := range labtest.Envs(t, "brput") {
		t.Run(e.Name, func(t *testing.T) {
			inst := launch(t, e.Env, `{}`)
			rec := serve(t, inst, http.MethodPut, "downstream", `{"error_rate": 0.25, "latency_ms": 30, "latency": "long_tail"}`)
			var got Settings
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != http.StatusOK {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
			want := Settings{ErrorRate: 0.25, LatencyMS: 30, Latency: LatencyLongTail, Queue: DefaultQueue}
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

// errorOf decodes an error answer, failing the test unless it is in the
// API's one shape with a code and a message.
func errorOf(t *testing.T, rec *httptest.ResponseRecorder) labhttp.Detail {
	t.Helper()
	var b labhttp.Body
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("%d %s: not an error answer (%v)", rec.Code, rec.Body, err)
	}
	return b.Error
}

// The router lists the contract's routes and answers what is not one of
// them in the API's error shape.
func TestRoutes(t *testing.T) {
	for _, e := range labtest.Envs(t, "brroutes") {
		t.Run(e.Name, func(t *testing.T) {
			inst := launch(t, e.Env, `{}`)
			var got []string
			for _, r := range inst.router.Routes() {
				got = append(got, r.String())
			}
			want := []string{"POST /call", "GET /state", "PUT /downstream", "GET /waits"}
			if !slices.Equal(got, want) {
				t.Errorf("routes %q, want %q", got, want)
			}
			rec := serve(t, inst, http.MethodGet, "nowhere", "")
			if d := errorOf(t, rec); rec.Code != http.StatusNotFound || d.Code != labhttp.CodeNotFound {
				t.Errorf("unknown path: %d %+v", rec.Code, d)
			}
			rec = serve(t, inst, http.MethodGet, "call", "")
			if d := errorOf(t, rec); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" || d.Code != labhttp.CodeInvalid {
				t.Errorf("GET call: %d Allow %q %+v", rec.Code, rec.Header().Get("Allow"), d)
			}
			rec = serve(t, inst, http.MethodPut, "downstream", `{"error_rate": 2}`)
			if d := errorOf(t, rec); rec.Code != http.StatusUnprocessableEntity || d.Code != labhttp.CodeInvalid || d.Fields["error_rate"] == "" {
				t.Errorf("bad error_rate: %d %+v", rec.Code, d)
			}
			rec = serve(t, inst, http.MethodPut, "downstream", `[1]`)
			if d := errorOf(t, rec); rec.Code != http.StatusBadRequest || d.Fields["body"] == "" || !strings.Contains(d.Message, settingsExample) {
				t.Errorf("not an object: %d %+v", rec.Code, d)
			}
			if rec := serve(t, inst, http.MethodGet, "state", ""); rec.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("GET state may be cached: %q", rec.Header().Get("Cache-Control"))
			}
		})
	}
}

// getWaits reads GET /waits with query q.
func getWaits(t *testing.T, inst *instance, q string) WaitsView {
	t.Helper()
	rec := serve(t, inst, http.MethodGet, "waits"+q, "")
	var w WaitsView
	if err := json.Unmarshal(rec.Body.Bytes(), &w); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("GET waits%s: %d %s", q, rec.Code, rec.Body)
	}
	return w
}

// GET /waits tells a suite that moves the clock what the calls wait on:
// nothing on the real clock; on a manual one each waiting call and when
// the first wakes, and with since it answers once that has changed.
func TestWaitsRoute(t *testing.T) {
	for _, e := range labtest.Envs(t, "brwaits") {
		t.Run(e.Name, func(t *testing.T) {
			if w := getWaits(t, launch(t, e.Env, `{}`), "?since=0"); w.Clock != "real" || w.Waiting != 0 || w.NextWake != nil {
				t.Errorf("on the real clock: %+v", w)
			}
			clk := labs.NewManualClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
			e.Env.Clock, e.Env.Now = clk, clk.Now
			inst := launch(t, e.Env, `{"call_timeout_ms": 50}`)
			setDownstream(t, inst, `{"latency_ms": 10000}`)
			idle := getWaits(t, inst, "")
			if idle.Clock != "manual" || idle.Waiting != 0 || !idle.Now.Equal(clk.Now()) {
				t.Fatalf("idle: %+v", idle)
			}
			if w := getWaits(t, inst, fmt.Sprintf("?since=%d&wait_ms=0", idle.Version)); w.Version != idle.Version {
				t.Errorf("wait_ms=0 waited for a change: %+v", w)
			}
			done := make(chan int, 1)
			go func() { code, _ := post(t, inst); done <- code }()
			// Held until the call starts waiting (a backstop bounds it; it
			// is never a verdict).
			w := getWaits(t, inst, fmt.Sprintf("?since=%d&wait_ms=30000", idle.Version))
			if w.Waiting != 1 || w.NextWake == nil || !w.NextWake.Equal(clk.Now().Add(50*time.Millisecond)) {
				t.Fatalf("one call cut at 50 ms: %+v", w)
			}
			clk.Set(*w.NextWake)
			if code := <-done; code != http.StatusGatewayTimeout {
				t.Fatalf("the call answered %d, want 504", code)
			}
			if after := getWaits(t, inst, fmt.Sprintf("?since=%d&wait_ms=30000", w.Version)); after.Waiting != 0 || after.Version == w.Version {
				t.Errorf("after the call: %+v", after)
			}
			for q, field := range map[string]string{"?since=x": "since", "?since=-1": "since", "?wait_ms=30001": "wait_ms", "?since=%zz": "query"} {
				rec := serve(t, inst, http.MethodGet, "waits"+q, "")
				if d := errorOf(t, rec); rec.Code/100 != 4 || d.Fields[field] == "" {
					t.Errorf("GET waits%s: %d %+v, want an error naming %s", q, rec.Code, d, field)
				}
			}
		})
	}
}

// FuzzPutDownstream: whatever the body, PUT downstream answers 200 with
// valid settings, or an error naming a field, and never panics.
func FuzzPutDownstream(f *testing.F) {
	for _, s := range []string{settingsExample, `{"outage": true}`, `{"latency_ms": 1e999}`, `{"error_rate": null}`, `[]`, `null`, `{"a":1}{}`, ``} {
		f.Add(s)
	}
	env := labtest.Env(f, testenv.Backend{Name: "embedded", DataDir: f.TempDir()}, "brfuzz")
	d, _ := labs.ParseDesign(Lab, []byte(`{}`))
	li, err := Lab.New(context.Background(), env, d)
	if err != nil {
		f.Fatal(err)
	}
	inst := li.(*instance)
	f.Cleanup(func() { _ = inst.Close(context.Background()) })
	f.Fuzz(func(t *testing.T, body string) {
		rec := serve(t, inst, http.MethodPut, "downstream", body)
		switch rec.Code {
		case http.StatusOK:
			var s Settings
			if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil {
				t.Fatalf("%q: %s", body, rec.Body)
			}
			n, l := s.LatencyMS, s.Latency
			if errs := (SettingsUpdate{ErrorRate: &s.ErrorRate, LatencyMS: &n, Latency: &l}).Validate(); len(errs) > 0 {
				t.Fatalf("%q set invalid settings %+v: %v", body, s, errs)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
			if d := errorOf(t, rec); len(d.Fields) == 0 {
				t.Fatalf("%q: %d names no field: %s", body, rec.Code, rec.Body)
			}
		default:
			t.Fatalf("%q: %d %s", body, rec.Code, rec.Body)
		}
	})
}
