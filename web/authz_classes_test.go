package web

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// An instructor reaches a learner's submission only through a class they
// teach that has the learner and assigns the exercise, and a review belongs
// to the class it was made in: a learner in two classes holds two
// overrides of one submission, each shown only in its own class's
// gradebook, exports and API, and the learner reads both, each named.
func TestInstructorsAreConfinedToTheirClass(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			w := arrangeTwoClasses(t, be)
			checkOutOfReach(t, w)

			// Evening sets the exercise too: each instructor reviews
			// through their own class, and each review stays there.
			w.assign(w.rival, w.evening)
			wantStatus(t, w.rival.get(w.eveningSub), http.StatusOK)
			wantStatus(t, w.rival.post(w.eveningSub+"/review", url.Values{"score": {"0"}, "reason": {"Evening's rule"},
				"feedback": {"from evening"}}), http.StatusSeeOther)
			wantStatus(t, w.teacher.post(w.springSub+"/review", url.Values{"score": {"95"}, "reason": {"Spring's rule"},
				"feedback": {"from spring"}}), http.StatusSeeOther)
			w.notFoundPage(w.rival.get(w.springSub))

			checkClassSees(t, w, "teacher", w.teacher, w.spring, w.springSub, 95, "from spring")
			checkClassSees(t, w, "rival", w.rival, w.evening, w.eveningSub, 0, "from evening")
			checkLearnerReadsBoth(t, w)
		})
	}
}

// twoClasses is a learner, Ada, in the teacher's Spring and the rival's
// Evening, with a graded submission to an exercise Spring assigns.
type twoClasses struct {
	t                     *testing.T
	a                     *testApp
	admin, teacher, rival *browser
	ada                   *browser
	spring, evening       string // class ids
	sub                   store.Submission
	springSub, eveningSub string // the submission through each class
}

func arrangeTwoClasses(t *testing.T, be testenv.Backend) *twoClasses {
	t.Helper()
	a := MustStartLabs(t, be, nil, limiter.Lab)
	ctx := context.Background()
	w := &twoClasses{t: t, a: a, admin: MustAdmin(t, a, "admin@example.com"), teacher: MustRegister(t, a, "teacher@example.com"),
		rival: MustRegister(t, a, "rival@example.com"), ada: MustRegister(t, a, "ada@example.com")}
	for _, who := range []string{"teacher", "rival"} {
		u, _ := a.store.UserByEmail(ctx, who+"@example.com")
		if err := a.store.SetRole(ctx, u.ID, store.RoleInstructor); err != nil {
			t.Fatal(err)
		}
	}
	w.spring = classID(t, w.teacher.post("/classes", url.Values{"name": {"Spring"}}))
	w.evening = classID(t, w.rival.post("/classes", url.Values{"name": {"Evening"}}))
	for _, id := range []string{w.spring, w.evening} {
		code := testid(doc(t, w.admin.get("/classes/"+id)), "join-code")
		wantStatus(t, w.ada.post("/join/"+code, nil), http.StatusSeeOther)
	}
	w.assign(w.teacher, w.spring)
	ada, _ := a.store.UserByEmail(ctx, "ada@example.com")
	score := 100
	w.sub = store.Submission{ID: store.NewSubmissionID(), UserID: ada.ID, Lab: "limiter", Exercise: limiterExercise,
		Design: "{}", Status: store.StatusGraded, Score: &score, MaxScore: 100, CreatedAt: time.Now()}
	if err := a.store.CreateSubmission(ctx, &w.sub, func(context.Context, *sql.Tx) (int64, error) { return 0, nil }); err != nil {
		t.Fatal(err)
	}
	w.springSub = "/classes/" + w.spring + "/submissions/" + w.sub.ID
	w.eveningSub = "/classes/" + w.evening + "/submissions/" + w.sub.ID
	return w
}

func (w *twoClasses) assign(b *browser, id string) {
	w.t.Helper()
	wantStatus(w.t, b.post("/classes/"+id+"/assignments", url.Values{"assignment": {"exercise:" + limiterExercise}}), http.StatusSeeOther)
}

// notFoundPage checks a 404 and returns what its page says, without the
// request id.
func (w *twoClasses) notFoundPage(resp *http.Response) string {
	w.t.Helper()
	wantStatus(w.t, resp, http.StatusNotFound)
	d := doc(w.t, resp)
	return d.Find(".error-page h1").Text() + " | " + d.Find(".error-page p").Eq(1).Text()
}

// checkOutOfReach: the exercise is Spring's only, so through Evening the
// submission is the same 404 as a missing one, for its instructor and an
// admin alike, and nothing they send changes it.
func checkOutOfReach(t *testing.T, w *twoClasses) {
	t.Helper()
	ctx := context.Background()
	missing := w.notFoundPage(w.rival.get("/classes/" + w.evening + "/submissions/nope"))
	for name, b := range map[string]*browser{"rival": w.rival, "admin": w.admin} {
		if got := w.notFoundPage(b.get(w.eveningSub)); got != missing {
			t.Errorf("%s: %q, want the page of a missing submission %q", name, got, missing)
		}
		w.notFoundPage(b.post(w.eveningSub+"/review", url.Values{"score": {"0"}, "reason": {"mine now"}, "feedback": {"from evening"}}))
		w.notFoundPage(b.post(w.eveningSub+"/regrade", nil))
	}
	w.notFoundPage(w.rival.get(w.springSub))
	w.notFoundPage(w.rival.post(w.springSub+"/review", url.Values{"score": {"0"}, "reason": {"mine now"}}))
	if rvs, _ := w.a.store.ReviewsOf(ctx, w.sub.ID); len(rvs) != 0 {
		t.Fatalf("a refused review was saved: %+v", rvs)
	}
	if s, _ := w.a.store.SubmissionByID(ctx, w.sub.ID); s.Status != store.StatusGraded || s.Run != 0 {
		t.Errorf("a refused regrade ran: %s, run %d", s.Status, s.Run)
	}
	// Evening's gradebook has Ada but no column for the exercise.
	if n := doc(t, w.rival.get("/classes/"+w.evening)).Find(`[data-testid="gb-row"] a[href*="/submissions/"]`).Length(); n != 0 {
		t.Errorf("Evening's gradebook links %d submissions", n)
	}
	wantStatus(t, w.admin.get(w.springSub), http.StatusOK) // an admin acts for any class, within it
}

// checkClassSees: one class's review page, gradebook, CSV, results.json
// and API gradebook show its own override and feedback, not the other's.
func checkClassSees(t *testing.T, w *twoClasses, who string, b *browser, id, path string, score int, feedback string) {
	t.Helper()
	want := strconv.Itoa(score)
	rp := doc(t, b.get(path))
	if got := testid(rp, "override-score"); got != want {
		t.Errorf("%s's review page: override %q, want %s", who, got, want)
	}
	if got, _ := rp.Find("#f-feedback").Html(); got != feedback {
		t.Errorf("%s's review page: feedback %q, want %q", who, got, feedback)
	}
	cell := strings.Fields(doc(t, b.get("/classes/"+id)).Find(`[data-testid="gb-row"][data-email="ada@example.com"] [data-testid="gb-cell"]`).First().Text())
	if len(cell) < 2 || cell[0] != want || cell[1] != "override" {
		t.Errorf("%s's gradebook cell %q, want %s override", who, cell, want)
	}
	resp := b.get("/classes/" + id + "/gradebook.csv")
	wantStatus(t, resp, http.StatusOK)
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || len(rows) != 3 || rows[2][0] != "ada@example.com" || rows[2][1] != want {
		t.Errorf("%s's CSV: %v %v, want ada at %s", who, rows, err, want)
	}
	if got := resultsText(t, b, id); got != want+" "+feedback+" "+want {
		t.Errorf("%s's results.json: %q, want override, feedback and best score %s %s %s", who, got, want, feedback, want)
	}
	if got := apiGradebookText(t, b, id); got != want+" overridden" {
		t.Errorf("%s's API gradebook: %q, want %s overridden", who, got, want)
	}
}

// resultsText is a class's results.json read as "override feedback best"
// for its one learner and submission.
func resultsText(t *testing.T, b *browser, id string) string {
	t.Helper()
	resp := b.get("/classes/" + id + "/results.json")
	wantStatus(t, resp, http.StatusOK)
	var res struct {
		Submissions []struct {
			OverrideScore *int   `json:"override_score"`
			Feedback      string `json:"feedback"`
		}
		Learners []struct {
			Assignments []struct{ Score *int }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		t.Fatal(err)
	}
	if len(res.Submissions) != 1 || res.Submissions[0].OverrideScore == nil || len(res.Learners) != 1 ||
		len(res.Learners[0].Assignments) != 1 || res.Learners[0].Assignments[0].Score == nil {
		return fmt.Sprintf("%+v", res)
	}
	return fmt.Sprintf("%d %s %d", *res.Submissions[0].OverrideScore, res.Submissions[0].Feedback, *res.Learners[0].Assignments[0].Score)
}

// apiGradebookText is a class's API gradebook read as "score overridden"
// for its one learner and assignment.
func apiGradebookText(t *testing.T, b *browser, id string) string {
	t.Helper()
	var api struct {
		Learners []struct {
			Assignments []struct {
				Score      *int
				Overridden bool
			}
		}
	}
	resp := b.api(http.MethodGet, "/api/classes/"+id+"/gradebook", "")
	wantStatus(t, resp, http.StatusOK)
	if err := json.NewDecoder(resp.Body).Decode(&api); err != nil {
		t.Fatal(err)
	}
	if len(api.Learners) != 1 || len(api.Learners[0].Assignments) != 1 || api.Learners[0].Assignments[0].Score == nil {
		return fmt.Sprintf("%+v", api)
	}
	c := api.Learners[0].Assignments[0]
	if c.Overridden {
		return strconv.Itoa(*c.Score) + " overridden"
	}
	return strconv.Itoa(*c.Score)
}

// checkLearnerReadsBoth: the learner hears of each class's review, and
// reads both, each named by its class, on the page and in the API.
func checkLearnerReadsBoth(t *testing.T, w *twoClasses) {
	t.Helper()
	nd := doc(t, w.ada.get("/notices"))
	unread := nd.Find(`[data-testid="notice"].unread`)
	if text := unread.Text(); unread.Length() != 2 || !strings.Contains(text, "in Spring scored") || !strings.Contains(text, "in Evening scored") {
		t.Errorf("the learner's notices: %q", text)
	}
	var got []string
	doc(t, w.ada.get("/submissions/"+w.sub.ID)).Find(`[data-testid="instructor-review"]`).Each(func(_ int, s *goquery.Selection) {
		got = append(got, strings.TrimSpace(s.Find(`[data-testid="review-class"]`).Text())+": "+
			strings.TrimSpace(s.Find(`[data-testid="override-score"]`).Text())+", "+strings.TrimSpace(s.Find(`[data-testid="feedback"]`).Text()))
	})
	sort.Strings(got)
	if want := "Evening: 0 / 100, from evening|Spring: 95 / 100, from spring"; strings.Join(got, "|") != want {
		t.Errorf("the learner's page shows %q, want %q", strings.Join(got, "|"), want)
	}
	if got, want := apiReviewsText(t, w.ada, w.sub.ID), "Evening: 0|Spring: 95"; got != want {
		t.Errorf("the learner's API reviews: %q, want %q", got, want)
	}
}

// apiReviewsText is a submission's reviews in the learner's API, as
// "class: override" joined by "|".
func apiReviewsText(t *testing.T, b *browser, id string) string {
	t.Helper()
	resp := b.api(http.MethodGet, "/api/submissions/"+id, "")
	wantStatus(t, resp, http.StatusOK)
	var mine struct {
		Reviews []struct {
			ClassName     string `json:"class_name"`
			OverrideScore *int   `json:"override_score"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&mine); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range mine.Reviews {
		s := r.ClassName + ": none"
		if r.OverrideScore != nil {
			s = r.ClassName + ": " + strconv.Itoa(*r.OverrideScore)
		}
		out = append(out, s)
	}
	return strings.Join(out, "|")
}
