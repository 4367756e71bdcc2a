package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// wantFieldError checks a 422 JSON answer that names field.
func wantFieldError(t *testing.T, resp *http.Response, field string) {
	t.Helper()
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	e, _ := decodeJSON(t, resp)["error"].(map[string]any)
	fields, _ := e["fields"].(map[string]any)
	if msg, _ := fields[field].(string); msg == "" || e["code"] != "invalid" {
		t.Errorf("%s %s: error %v does not name %s", resp.Request.Method, resp.Request.URL.Path, e, field)
	}
}

// TestNumbersMustBeNumbers: "10abc" is never 10. The JSON API takes
// numbers only as JSON numbers (422 naming the field); a form's number is
// its whole value, and a bad one re-renders the form with the message and
// what was typed.
func TestNumbersMustBeNumbers(t *testing.T) {
	a := MustStartLabs(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, counterLab{}, limiter.Lab)
	b := MustRegister(t, a, "numbers@example.org")

	for _, body := range []string{`{"step": "10abc"}`, `{"step": "2"}`, `{"step": "2 "}`, `{"step": true}`} {
		wantFieldError(t, b.api("POST", "/api/labs/counter/instances", body), "step")
	}
	resp := b.api("POST", "/api/labs/counter/instances", `{"step": 2}`)
	wantStatus(t, resp, http.StatusCreated)
	inst := "/api/labs/counter/instances/" + decodeJSON(t, resp)["id"].(string)
	wantFieldError(t, b.api("PATCH", inst, `{"step": "3abc"}`), "step")
	wantFieldError(t, b.api("POST", inst+"/load", `{"requests": "10abc"}`), "requests")
	wantFieldError(t, b.api("POST", inst+"/load", `{"requests": 10, "keys": "1"}`), "keys")
	wantFieldError(t, b.api("POST", inst+"/load", `{"requests": 10, "distribution": 1}`), "distribution")
	wantFieldError(t, b.api("POST", "/api/labs/limiter/submissions", `{"design": {"limit": "10abc"}}`), "limit")
	wantFieldError(t, b.api("POST", "/api/labs/limiter/submissions", `{"design": {"limit": "10"}}`), "limit")

	// Forms: the lab's launch form and an exercise's submission form.
	for _, tc := range []struct{ path, field, value string }{
		{"/labs/counter", "step", "2abc"},
		{"/labs/counter", "step", "0x2"},
		{"/labs/limiter/exercises/" + limiterExercise, "limit", "10abc"},
		{"/labs/limiter/exercises/" + limiterExercise, "window_ms", "1000 ms"},
	} {
		resp := b.post(tc.path, url.Values{tc.field: {tc.value}})
		wantStatus(t, resp, http.StatusUnprocessableEntity)
		d := doc(t, resp)
		if msg := testid(d, "error-"+tc.field); !strings.Contains(msg, "number") {
			t.Errorf("%s %s=%q: message %q", tc.path, tc.field, tc.value, msg)
		}
		if v, _ := d.Find("#f-" + tc.field).Attr("value"); v != tc.value {
			t.Errorf("%s: the form kept %q, want %q", tc.path, v, tc.value)
		}
	}
	if subs, err := a.store.Submissions(context.Background(), 1, ""); err != nil || len(subs) != 0 {
		t.Errorf("refused designs were stored: %d %v", len(subs), err)
	}
	// A whole number with spaces around it is still that number.
	resp = b.post("/labs/counter", url.Values{"step": {" 3 "}})
	wantStatus(t, resp, http.StatusSeeOther)
}
