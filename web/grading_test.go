package web

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/limiter"
)

const limiterExercise = "limiter-api-quota"

// waitGraded polls the API until the submission is terminal.
func waitGraded(t *testing.T, b *browser, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp := b.api("GET", "/api/submissions/"+id, "")
		wantStatus(t, resp, http.StatusOK)
		m := decodeJSON(t, resp)
		resp.Body.Close()
		switch m["status"] {
		case "graded", "not_gradable", "timed_out":
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("submission %s still %v", id, m["status"])
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestSubmissionAPI(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStartGrading(t, be, limiter.Lab)
			anon := newBrowser(t, a)
			resp := anon.api("POST", "/api/labs/limiter/submissions", `{}`)
			wantStatus(t, resp, http.StatusUnauthorized)
			resp.Body.Close()

			b := MustRegister(t, a, "grade@example.com")
			checkRefusedSubmissions(t, a, b)

			// A weak design: limits each replica on its own.
			resp = b.api("POST", "/api/labs/limiter/submissions",
				`{"design": {"algorithm": "sliding_log", "limit": 20, "window_ms": 2000, "storage": "memory"}, "notes": "memory is fast"}`)
			wantStatus(t, resp, http.StatusAccepted)
			m := decodeJSON(t, resp)
			resp.Body.Close()
			id, _ := m["id"].(string)
			if id == "" || m["number"] != 1.0 || resp.Header.Get("Location") != "/api/submissions/"+id {
				t.Fatalf("202 body %v, Location %q", m, resp.Header.Get("Location"))
			}
			res := waitGraded(t, b, id)
			if res["status"] != "graded" || res["max_score"] != 100.0 || !strings.HasPrefix(res["environment"].(string), "Graded on the built-in Redis") {
				t.Fatalf("graded: %v", res)
			}
			checkWeakDesignChecks(t, res)
			checkGradedSubmissionSeen(t, a, b, id)
		})
	}
}

// checkRefusedSubmissions: each invalid submission is a 422 naming its
// field, an unknown lab a 404, and none is stored.
func checkRefusedSubmissions(t *testing.T, a *testApp, b *browser) {
	t.Helper()
	bad := []struct{ body, field string }{
		{`{"design": {"algorithm": "leaky"}}`, "algorithm"},
		{`{"design": {"limit": 0}}`, "limit"},
		{`{"design": {"burst": 5}}`, "burst"}, // a rule across fields
		{`{"exercise": "nope", "design": {}}`, "exercise"},
		{`{"design": {}, "extra": 1}`, "body"},
		{`{"design": {}, "notes": "` + strings.Repeat("n", 4001) + `"}`, "notes"},
	}
	for _, c := range bad {
		resp := b.api("POST", "/api/labs/limiter/submissions", c.body)
		wantStatus(t, resp, http.StatusUnprocessableEntity)
		m := decodeJSON(t, resp)
		resp.Body.Close()
		fields, _ := m["error"].(map[string]any)["fields"].(map[string]any)
		if fields[c.field] == nil {
			t.Errorf("%s: no message for %q: %v", c.body[:min(40, len(c.body))], c.field, m)
		}
	}
	resp := b.api("POST", "/api/labs/nolab/submissions", `{}`)
	wantStatus(t, resp, http.StatusNotFound)
	resp.Body.Close()
	if subs, _ := a.store.Submissions(context.Background(), 1, ""); len(subs) != 0 {
		t.Fatalf("invalid submissions were stored: %d", len(subs))
	}
}

// checkWeakDesignChecks: every check of the result has its fields, and
// per-replica memory fails the replicas check and the full score.
func checkWeakDesignChecks(t *testing.T, res map[string]any) {
	t.Helper()
	checks := res["checks"].([]any)
	if len(checks) != 8 {
		t.Fatalf("%d checks", len(checks))
	}
	var replicas map[string]any
	for _, c := range checks {
		c := c.(map[string]any)
		for _, k := range []string{"name", "requirement", "passed", "points", "max_points", "message", "duration_ms"} {
			if _, ok := c[k]; !ok {
				t.Errorf("check lacks %q: %v", k, c)
			}
		}
		if c["name"] == "holds across 3 replicas" {
			replicas = c
		}
	}
	if replicas == nil || replicas["passed"] != false || !strings.Contains(replicas["message"].(string), "memory") {
		t.Errorf("per-replica memory passed the replicas check: %v", replicas)
	}
	if score := res["score"].(float64); score >= 100 {
		t.Errorf("weak design scored %v", score)
	}
}

// checkGradedSubmissionSeen: the graded design counts on the progress
// checklist, its stream ends at once, its page shows it, and it is nobody
// else's.
func checkGradedSubmissionSeen(t *testing.T, a *testApp, b *browser, id string) {
	t.Helper()
	// A graded design is evidence on the progress checklist.
	pd := doc(t, b.get("/progress"))
	met := pd.Find(`ul.evidence li.met a[href="/labs/limiter"]`).Length()
	if met == 0 {
		t.Error("the progress checklist does not count the graded limiter design")
	}

	// The stream of a finished submission says so at once.
	resp := b.api("GET", "/api/submissions/"+id+"/events", "")
	wantStatus(t, resp, http.StatusOK)
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	resp.Body.Close()
	if strings.TrimSpace(line) != "event: done" {
		t.Errorf("events of a graded submission began %q", line)
	}

	// The page shows the same, and is nobody else's.
	d := doc(t, b.get("/submissions/"+id))
	if got := d.Find(`[data-testid="check"]`).Length(); got != 8 {
		t.Errorf("page shows %d checks", got)
	}
	if !strings.Contains(d.Find(`[data-testid="notes-h"], .notes`).Text(), "memory is fast") {
		t.Errorf("notes missing from the page")
	}
	other := MustRegister(t, a, "other@example.com")
	for _, p := range []string{"/api/submissions/" + id, "/api/submissions/" + id + "/events", "/submissions/" + id, "/submissions/" + id + "/results"} {
		resp := other.api("GET", p, "")
		wantStatus(t, resp, http.StatusNotFound)
		resp.Body.Close()
	}
}

func TestExerciseFormKeepsInputOnError(t *testing.T) {
	be := testenv.Backends(t)[0]
	a := MustStartLabs(t, be, nil, limiter.Lab) // takes submissions, grades none
	b := MustRegister(t, a, "form@example.com")

	d := doc(t, b.get("/labs/limiter"))
	if d.Find(`[data-testid="exercise-`+limiterExercise+`"] a`).Length() != 1 {
		t.Fatal("the lab page does not list its exercise")
	}
	d = doc(t, b.get("/labs/limiter/exercises/"+limiterExercise))
	if !strings.Contains(d.Find(`[data-testid="requirements"]`).Text(), "20") {
		t.Errorf("requirements card: %q", d.Find(`[data-testid="requirements"]`).Text())
	}

	form := url.Values{"algorithm": {"sliding_log"}, "limit": {"-3"}, "window_ms": {"2000"}, "notes": {"my reasons"}}
	resp := b.post("/labs/limiter/exercises/"+limiterExercise, form)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	d = doc(t, resp)
	if testid(d, "error-limit") == "" {
		t.Error("no message beside the limit")
	}
	if v, _ := d.Find(`#f-limit`).Attr("value"); v != "-3" {
		t.Errorf("limit not kept: %q", v)
	}
	if d.Find(`#f-notes`).Text() != "my reasons" {
		t.Errorf("notes not kept: %q", d.Find(`#f-notes`).Text())
	}
	if subs, _ := a.store.Submissions(context.Background(), 1, ""); len(subs) != 0 {
		t.Fatalf("an invalid form was stored")
	}

	form.Set("limit", "20")
	resp = b.post("/labs/limiter/exercises/"+limiterExercise, form)
	wantStatus(t, resp, http.StatusSeeOther)
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "/submissions/") {
		t.Fatalf("redirect to %q", loc)
	}
	d = doc(t, b.get(loc))
	if testid(d, "status") != "Queued" || d.Find(`#submission[data-events]`).Length() != 1 {
		t.Errorf("a queued submission's page: status %q", testid(d, "status"))
	}
	if d.Find(`.check.pending`).Length() != 8 {
		t.Errorf("pending checks shown: %d", d.Find(`.check.pending`).Length())
	}
	// Revising starts from the submitted design.
	d = doc(t, b.get("/labs/limiter/exercises/"+limiterExercise+"?from="+strings.TrimPrefix(loc, "/submissions/")))
	if v, _ := d.Find(`#f-limit`).Attr("value"); v != "20" {
		t.Errorf("revise form limit %q", v)
	}
	d = doc(t, b.get("/labs/limiter/exercises/"+limiterExercise))
	if testid(d, "attempts") == "" {
		t.Error("attempts table missing")
	}

	// Three waiting submissions are the limit.
	for range 2 {
		wantStatus(t, b.post("/labs/limiter/exercises/"+limiterExercise, form), http.StatusSeeOther)
	}
	resp = b.post("/labs/limiter/exercises/"+limiterExercise, form)
	wantStatus(t, resp, http.StatusTooManyRequests)
	if !strings.Contains(testid(doc(t, resp), "form-message"), "waiting") {
		t.Error("no message about the waiting submissions")
	}
}
