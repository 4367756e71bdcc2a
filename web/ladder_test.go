package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// ladderLab is the limiter with a three-step ladder whose one check
// passes a design with limit 20: grading takes no instance, so a test can
// climb it quickly.
type ladderLab struct{ labs.Lab }

func (ladderLab) Exercises() []labs.Exercise {
	check := labs.Check{Name: "limit is 20", Points: 10, Requirement: "The limit is 20.",
		Run: func(_ context.Context, t *labs.Trial) labs.Outcome {
			if n := t.Design.Int("limit"); n != 20 {
				return labs.Fail("The limit is %d, not 20.", n)
			}
			return labs.Pass("The limit is 20.")
		}}
	var out []labs.Exercise
	for i, name := range []string{"one", "two", "three"} {
		out = append(out, labs.Exercise{ID: "limiter-step-" + name, Lab: "limiter", Step: i + 1, Title: "Step " + name,
			Card: []string{"Limit 20."}, Checks: []labs.Check{check}})
	}
	return out
}

const (
	goodStep = `{"design": {"limit": 20}}`
	badStep  = `{"design": {"limit": 10}}`
)

// submitStep submits body to an exercise and, when accepted, waits for its
// grade.
func submitStep(t *testing.T, b *browser, exercise, body string) *http.Response {
	t.Helper()
	body = strings.Replace(body, `{"design"`, `{"exercise": "`+exercise+`", "design"`, 1)
	resp := b.api("POST", "/api/labs/limiter/submissions", body)
	if resp.StatusCode == http.StatusAccepted {
		m := decodeJSON(t, resp)
		waitGraded(t, b, m["id"].(string))
	}
	return resp
}

// A ladder's next step unlocks when the previous one is passed with a
// full score; a locked step is refused (422 naming exercise, the form
// re-rendered with the sentence) and the lab page says what unlocks it.
// An instructor can unlock every step for a class, and lock them again.
// The progress page and the gradebook show the step reached.
func TestLadderUnlocksStepByStep(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStartGrading(t, be, ladderLab{limiter.Lab})
			ada := MustRegister(t, a, "ada@example.com")

			page := doc(t, ada.get("/labs/limiter"))
			if page.Find(`[data-testid="exercise-limiter-step-one"] [data-testid="locked"]`).Length() != 0 ||
				!strings.Contains(page.Find(`[data-testid="exercise-limiter-step-two"] [data-testid="unlocks"]`).Text(), "pass step 1, “Step one”") {
				t.Fatalf("lab page ladder: %s", page.Find(".ladder").Text())
			}
			resp := submitStep(t, ada, "limiter-step-two", goodStep)
			wantStatus(t, resp, http.StatusUnprocessableEntity)
			wantFieldSays(t, "locked step", decodeJSON(t, resp), "exercise", "Step 2, “Step two”, is locked")
			form := ada.post("/labs/limiter/exercises/limiter-step-two", url.Values{"limit": {"20"}})
			wantStatus(t, form, http.StatusUnprocessableEntity)
			if !strings.Contains(doc(t, form).Text(), "is locked: it unlocks when you pass step 1") {
				t.Error("the form does not say why the step is refused")
			}

			wantStatus(t, submitStep(t, ada, "limiter-step-one", badStep), http.StatusAccepted) // 0 of 10: not passed
			wantStatus(t, submitStep(t, ada, "limiter-step-two", goodStep), http.StatusUnprocessableEntity)
			wantStatus(t, submitStep(t, ada, "limiter-step-one", goodStep), http.StatusAccepted)
			wantStatus(t, submitStep(t, ada, "limiter-step-two", goodStep), http.StatusAccepted)
			page = doc(t, ada.get("/labs/limiter"))
			if page.Find(`[data-testid="exercise-limiter-step-two"] [data-testid="passed"]`).Length() != 1 ||
				page.Find(`[data-testid="exercise-limiter-step-three"] [data-testid="locked"]`).Length() != 0 ||
				!strings.Contains(page.Find(`[data-testid="exercise-limiter-step-one"] [data-testid="best"]`).Text(), "best 10 / 10, 2 attempts") {
				t.Errorf("after passing step 2: %s", page.Find(".ladder").Text())
			}
			if got := testid(doc(t, ada.get("/progress")), "step-reached"); got != "step 2 of 3 passed" {
				t.Errorf("progress: %q", got)
			}
			checkClassUnlock(t, a, ada)
		})
	}
}

// checkClassUnlock: bob, in a class whose ladders are unlocked, submits
// step 3 at once; locked again, he cannot. The gradebook shows ada's step.
func checkClassUnlock(t *testing.T, a *testApp, ada *browser) {
	t.Helper()
	teacher := MustAccount(t, a, "teacher@example.com", store.RoleInstructor)
	bob := MustRegister(t, a, "bob@example.com")
	id := classID(t, teacher.post("/classes", url.Values{"name": {"Spring"}}))
	code := testid(doc(t, teacher.get("/classes/"+id)), "join-code")
	for _, b := range []*browser{ada, bob} {
		wantStatus(t, b.post("/join/"+code, nil), http.StatusSeeOther)
	}
	wantStatus(t, submitStep(t, bob, "limiter-step-three", goodStep), http.StatusUnprocessableEntity)
	wantStatus(t, bob.post("/classes/"+id+"/ladders", url.Values{"unlocked": {"on"}}), http.StatusNotFound) // not his class
	wantStatus(t, teacher.post("/classes/"+id+"/ladders", url.Values{"unlocked": {"on"}}), http.StatusSeeOther)
	if _, ok := doc(t, teacher.get("/classes/"+id)).Find(`#f-ladders`).Attr("checked"); !ok {
		t.Error("the class page does not show its ladders unlocked")
	}
	if doc(t, bob.get("/labs/limiter")).Find(`[data-testid="locked"]`).Length() != 0 {
		t.Error("an unlocked class's learner still sees locked steps")
	}
	wantStatus(t, submitStep(t, bob, "limiter-step-three", goodStep), http.StatusAccepted)
	wantStatus(t, teacher.post("/classes/"+id+"/ladders", nil), http.StatusSeeOther)
	wantStatus(t, submitStep(t, bob, "limiter-step-two", goodStep), http.StatusUnprocessableEntity)

	book := doc(t, teacher.get("/classes/"+id))
	steps := map[string]string{}
	book.Find(`[data-testid="gb-row"]`).Each(func(_ int, r *goquery.Selection) {
		steps[r.AttrOr("data-email", "")] = strings.TrimSpace(r.Find(`[data-testid="gb-step"][data-lab="limiter"]`).Text())
	})
	if steps["ada@example.com"] != "2" || steps["bob@example.com"] != "3" {
		t.Errorf("gradebook steps reached %v", steps)
	}
	csv := readBody(t, teacher.get("/classes/"+id+"/gradebook.csv"))
	if !strings.Contains(csv, "Rate limiter step reached") {
		t.Errorf("CSV lacks the ladder column:\n%s", csv)
	}
}
