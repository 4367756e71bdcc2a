package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/interviews"
)

// TestInterviewProblemsArePublic: /interviews links every problem, and a
// problem's page reads without signing in.
func TestInterviewProblemsArePublic(t *testing.T) {
	be := testenv.Backends(t)[0]
	a := MustStart(t, be, nil)
	anon := newBrowser(t, a)
	resp := anon.get("/interviews")
	wantStatus(t, resp, http.StatusOK)
	d := doc(t, resp)
	set, err := interviews.Load(interviews.Embedded(), a.app.lessonExists)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range set.Problems {
		if d.Find(`a[href="/interviews/`+p.Slug+`"]`).Length() != 1 {
			t.Errorf("/interviews does not link %s", p.Slug)
		}
		if p.Slug == "chat" {
			page := anon.get("/interviews/" + p.Slug)
			wantStatus(t, page, http.StatusOK)
			body := readBody(t, page)
			if !strings.Contains(body, p.Steps[0].Prompt) || strings.Contains(body, p.Steps[0].Checkpoints[0]) {
				t.Error("the problem page should show the prompts and keep the checkpoints for the session")
			}
		}
	}
	wantStatus(t, anon.get("/interviews/no-such-problem"), http.StatusNotFound)
}

// startSession starts a session on chat through the page and returns its
// URL.
func startSession(t *testing.T, b *browser) string {
	t.Helper()
	resp := b.post("/interviews/chat/sessions", nil)
	wantStatus(t, resp, http.StatusSeeOther)
	return resp.Header.Get("Location")
}

// TestMockInterviewSession runs a session: the timer pauses and resumes
// on the server's clock, answers are saved, a closed stage reveals its
// checkpoints and takes ticks, and the rubric scores the share ticked.
func TestMockInterviewSession(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, nil)
			ada := MustRegister(t, a, "ada@example.com")
			base := startSession(t, ada)
			d := doc(t, ada.get(base))
			if got := testid(d, "interview-clock"); got != "45:00 left" {
				t.Errorf("clock at start: %q", got)
			}
			checkTimer(t, a, ada, base)

			// A stage cannot be closed empty, nor take an answer too long;
			// the text sent is shown again with the message.
			resp := ada.post(base+"/stages/requirements", url.Values{"action": {"close"}, "answer": {"  "}})
			wantStatus(t, resp, http.StatusUnprocessableEntity)
			if testid(doc(t, resp), "error-requirements") == "" {
				t.Error("closing an empty stage: no message beside the answer")
			}
			long := strings.Repeat("é", interviews.MaxAnswerChars+1)
			resp = ada.post(base+"/stages/requirements", url.Values{"action": {"save"}, "answer": {long}})
			wantStatus(t, resp, http.StatusUnprocessableEntity)
			if d := doc(t, resp); testid(d, "error-requirements") == "" || d.Find("#answer-requirements").Text() != long {
				t.Error("a long answer: no message, or the text was lost")
			}

			wantStatus(t, ada.post(base+"/stages/requirements", url.Values{"action": {"save"}, "answer": {"draft"}}), http.StatusSeeOther)
			d = doc(t, ada.get(base))
			if d.Find("#answer-requirements").Text() != "draft" || d.Find(`[data-testid="ticks-requirements"]`).Length() != 0 {
				t.Error("a saved answer should stay editable with the checkpoints hidden")
			}
			// Ticks wait for the stage to close.
			wantStatus(t, ada.post(base+"/stages/requirements/ticks", url.Values{"checkpoint": {"0"}}), http.StatusConflict)

			answer := "- 1:1 and groups up to 500\n- in order, never lost"
			wantStatus(t, ada.post(base+"/stages/requirements", url.Values{"action": {"close"}, "answer": {answer}}), http.StatusSeeOther)
			d = doc(t, ada.get(base))
			if got := d.Find(`[data-testid="ticks-requirements"] input[type=checkbox]`).Length(); got != 4 {
				t.Errorf("closed stage reveals %d checkpoints, want the 4 of chat's requirements", got)
			}
			// The answer shows as Markdown.
			if items := d.Find(`[data-testid="answer-requirements"] li`); items.Length() != 2 || items.First().Text() != "1:1 and groups up to 500" {
				t.Errorf("closed stage shows %q", testid(d, "answer-requirements"))
			}
			// A closed stage keeps its answer.
			wantStatus(t, ada.post(base+"/stages/requirements", url.Values{"action": {"save"}, "answer": {"changed"}}), http.StatusConflict)
			wantStatus(t, ada.post(base+"/stages/requirements/ticks", url.Values{"checkpoint": {"9"}}), http.StatusUnprocessableEntity)
			wantStatus(t, ada.post(base+"/stages/requirements/ticks", url.Values{"checkpoint": {"0", "2", "2"}}), http.StatusSeeOther)

			d = doc(t, ada.get(base))
			if got := d.Find(`[data-testid="score-requirements"]`).Text(); !strings.Contains(got, "2 of 4") || !strings.Contains(got, "50%") {
				t.Errorf("requirements score row: %q", got)
			}
			if got := testid(d, "interview-percent"); got != "50%" {
				t.Errorf("overall: %q", got)
			}
			if got := d.Find(`[data-testid="score-estimation"]`).Text(); !strings.Contains(got, "not closed") {
				t.Errorf("estimation score row: %q", got)
			}
			// The problem page lists the session with its scores.
			if got := testid(doc(t, ada.get("/interviews/chat")), "interview-sessions"); !strings.Contains(got, "Requirements and scope: 2/4") {
				t.Errorf("the problem page's sessions: %q", got)
			}
			checkOthersSession404(t, a, base)
		})
	}
}

// checkTimer pauses, advances the clock, resumes and finishes: only the
// running time counts.
func checkTimer(t *testing.T, a *testApp, ada *browser, base string) {
	t.Helper()
	a.advance(5 * time.Minute)
	wantStatus(t, ada.post(base+"/timer", url.Values{"action": {"pause"}}), http.StatusSeeOther)
	a.advance(time.Hour) // paused: does not count
	d := doc(t, ada.get(base))
	if got := testid(d, "interview-clock"); got != "40:00 left" || testid(d, "paused") == "" {
		t.Errorf("paused after 5 minutes: %q (paused mark %q)", got, testid(d, "paused"))
	}
	wantStatus(t, ada.post(base+"/timer", url.Values{"action": {"resume"}}), http.StatusSeeOther)
	a.advance(50 * time.Minute)
	if got := testid(doc(t, ada.get(base)), "interview-clock"); got != "10:00 over time" {
		t.Errorf("55 minutes in: %q", got)
	}
	wantStatus(t, ada.post(base+"/timer", url.Values{"action": {"nap"}}), http.StatusUnprocessableEntity)
}

// checkOthersSession404: another learner gets the 404 of a missing
// session on every route, and changes nothing.
func checkOthersSession404(t *testing.T, a *testApp, base string) {
	t.Helper()
	bob := MustRegister(t, a, "bob@example.com")
	wantStatus(t, bob.get(base), http.StatusNotFound)
	wantStatus(t, bob.post(base+"/stages/estimation", url.Values{"answer": {"mine"}}), http.StatusNotFound)
	wantStatus(t, bob.post(base+"/stages/requirements/ticks", url.Values{"checkpoint": {"1"}}), http.StatusNotFound)
	wantStatus(t, bob.post(base+"/timer", url.Values{"action": {"finish"}}), http.StatusNotFound)
	wantStatus(t, bob.post(base+"/stages/high-level/diagram", url.Values{"op": {"add-node"}, "kind": {"cache"}, "label": {"x"}}), http.StatusNotFound)
	// The same session under another problem's address is not found either.
	wantStatus(t, bob.get(strings.Replace(base, "/chat/", "/typeahead/", 1)), http.StatusNotFound)
}

// TestInterviewDiagram edits a design stage's diagram with the list
// editor and as JSON: bad input is refused naming the field and loses
// nothing.
func TestInterviewDiagram(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, nil)
			ada := MustRegister(t, a, "ada@example.com")
			base := startSession(t, ada)
			diagram := base + "/stages/high-level/diagram"
			for _, n := range [][2]string{{"client", "Phone"}, {"load-balancer", "LB"}, {"service", "Chat API"}} {
				wantStatus(t, ada.post(diagram, url.Values{"op": {"add-node"}, "kind": {n[0]}, "label": {n[1]}}), http.StatusSeeOther)
			}
			wantStatus(t, ada.post(diagram, url.Values{"op": {"add-edge"}, "from": {"n1"}, "to": {"n2"}, "edge_label": {"WebSocket"}}), http.StatusSeeOther)
			wantStatus(t, ada.post(diagram, url.Values{"op": {"add-edge"}, "from": {"n2"}, "to": {"n3"}}), http.StatusSeeOther)

			// Bad input from the list editor: 422 with the message beside the field.
			resp := ada.post(diagram, url.Values{"op": {"add-node"}, "kind": {"rocket"}, "label": {strings.Repeat("x", 41)}})
			wantStatus(t, resp, http.StatusUnprocessableEntity)
			d := doc(t, resp)
			if testid(d, "diagram-error-kind") == "" || testid(d, "diagram-error-label") == "" {
				t.Error("a bad box: no messages beside kind and label")
			}
			wantStatus(t, ada.post(diagram, url.Values{"op": {"add-edge"}, "from": {"n1"}, "to": {"n1"}}), http.StatusUnprocessableEntity)

			// Bad JSON from the board's script: 422 JSON naming the field.
			for raw, field := range map[string]string{
				`{"nodes":[`: "diagram",
				`{"nodes":[{"id":"a","kind":"cache","label":"","x":1,"y":1}],"edges":[]}`: "nodes[0].label",
				`{"nodes":[],"edges":[{"from":"a","to":"b","label":""}]}`:                 "edges[0].from",
			} {
				resp := jsonPost(t, ada, diagram, url.Values{"op": {"replace"}, "diagram": {raw}})
				wantStatus(t, resp, http.StatusUnprocessableEntity)
				e, _ := decodeJSON(t, resp)["error"].(map[string]any)
				if fields, _ := e["fields"].(map[string]any); fields[field] == nil {
					t.Errorf("%s: error %v does not name %s", raw, e, field)
				}
			}
			d = doc(t, ada.get(base))
			if n, e := d.Find(`[data-testid="diagram-svg-high-level"] [data-testid="diagram-node"]`).Length(),
				d.Find(`[data-testid="diagram-svg-high-level"] [data-testid="diagram-edge"]`).Length(); n != 3 || e != 2 {
				t.Errorf("after refused edits the board shows %d boxes and %d arrows, want 3 and 2", n, e)
			}
			if got := d.Find(`[data-testid="diagram-list-high-level"] [data-testid="diagram-list-edge"]`).First().Text(); !strings.Contains(got, "Phone → LB") {
				t.Errorf("the list editor's first arrow: %q", got)
			}

			// A good replace from the script, then removals from the list.
			good := `{"nodes":[{"id":"a","kind":"cdn","label":"Edge","x":100,"y":100},{"id":"b","kind":"object-store","label":"Media","x":500,"y":100}],` +
				`"edges":[{"from":"a","to":"b","label":"pull"}]}`
			wantStatus(t, jsonPost(t, ada, diagram, url.Values{"op": {"replace"}, "diagram": {good}}), http.StatusOK)
			wantStatus(t, ada.post(diagram, url.Values{"op": {"remove-edge"}, "index": {"0"}}), http.StatusSeeOther)
			wantStatus(t, ada.post(diagram, url.Values{"op": {"remove-node"}, "id": {"a"}}), http.StatusSeeOther)
			sess := onlySession(t, a, "ada@example.com")
			if st, _ := sess.Stage("high-level"); st.Diagram != `{"nodes":[{"id":"b","kind":"object-store","label":"Media","x":500,"y":100}],"edges":[]}` {
				t.Errorf("stored diagram: %s", st.Diagram)
			}
			// Stages without a diagram have no board.
			wantStatus(t, ada.post(base+"/stages/api/diagram", url.Values{"op": {"add-node"}, "kind": {"cache"}, "label": {"c"}}), http.StatusNotFound)
		})
	}
}

func jsonPost(t *testing.T, b *browser, path string, form url.Values) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

func onlySession(t *testing.T, a *testApp, email string) store.InterviewSession {
	t.Helper()
	ctx := context.Background()
	u, _ := a.store.UserByEmail(ctx, email)
	rows, err := a.store.InterviewsOf(ctx, u.ID)
	if err != nil || len(rows) != 1 {
		t.Fatalf("%s has %d sessions: %v", email, len(rows), err)
	}
	return rows[0]
}

// TestInterviewSessionLimit: an account keeps at most MaxSessions
// sessions; one more is refused with a sentence, and nothing is created.
func TestInterviewSessionLimit(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, nil)
			ada := MustRegister(t, a, "ada@example.com")
			ctx := context.Background()
			u, _ := a.store.UserByEmail(ctx, "ada@example.com")
			for range interviews.MaxSessions {
				if _, err := a.store.StartInterview(ctx, store.InterviewSession{UserID: u.ID, ProblemSlug: "chat", LimitSeconds: 60,
					StartedAt: time.Now()}, []string{"requirements"}, interviews.MaxSessions); err != nil {
					t.Fatal(err)
				}
			}
			resp := ada.post("/interviews/chat/sessions", nil)
			wantStatus(t, resp, http.StatusTooManyRequests)
			if !strings.Contains(readBody(t, resp), "most one account keeps") {
				t.Error("the refusal does not say why")
			}
			rows, _ := a.store.InterviewsOf(ctx, u.ID)
			if len(rows) != interviews.MaxSessions {
				t.Fatalf("%d sessions, want %d", len(rows), interviews.MaxSessions)
			}
			// Deleting one makes room; another learner cannot delete it.
			one := sessionURL(rows[0])
			bob := MustRegister(t, a, "bob@example.com")
			wantStatus(t, bob.post(one+"/delete", nil), http.StatusNotFound)
			wantStatus(t, ada.post(one+"/delete", nil), http.StatusSeeOther)
			wantStatus(t, ada.get(one), http.StatusNotFound)
			startSession(t, ada)
		})
	}
}
