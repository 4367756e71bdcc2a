package web

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// classID reads the class id from a redirect to /classes/{id}.
func classID(t *testing.T, resp *http.Response) string {
	t.Helper()
	wantStatus(t, resp, http.StatusSeeOther)
	loc := resp.Header.Get("Location")
	id := strings.TrimPrefix(loc, "/classes/")
	if _, err := strconv.Atoi(id); err != nil {
		t.Fatalf("redirect to %q", loc)
	}
	return id
}

// An instructor runs a class: learners join by code and link, an exercise
// and a quiz are assigned, submissions show in the gradebook with late
// marks, the instructor overrides a score with a reason and feedback the
// learner sees, regrades, and exports the gradebook.
func TestInstructorRunsAClass(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStartGrading(t, be, limiter.Lab)
			w := &classRun{a: a, admin: MustAdmin(t, a, "admin@example.com"), teacher: MustRegister(t, a, "teacher@example.com"),
				ada: MustRegister(t, a, "ada@example.com"), bob: MustRegister(t, a, "bob@example.com"), rival: MustRegister(t, a, "rival@example.com")}
			w.setRoles(t)
			w.createClasses(t)
			w.join(t)
			w.checkPrivacy(t)
			w.assign(t)
			w.submit(t)
			w.checkSortAndFilter(t)
			w.checkStaffDetail(t)
			w.saveReview(t)
			w.checkExports(t)
			w.regrade(t)
			w.deleteClass(t)
		})
	}
}

// classRun is TestInstructorRunsAClass's world: the app, its people, and
// what they made.
type classRun struct {
	a                               *testApp
	admin, teacher, ada, bob, rival *browser
	ids                             map[string]int64
	id, other, code                 string // the classes and Spring's join code
	as                              []store.Assignment
	sub                             string // ada's submission
	auto                            int    // the grader's score of it
	review                          string // its review page
}

// setRoles: the admin makes instructors; only instructors create classes,
// and no admin demotes themself.
func (w *classRun) setRoles(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	// Only instructors create classes; the admin makes them.
	resp := w.teacher.post("/classes", url.Values{"name": {"Spring"}})
	wantStatus(t, resp, http.StatusForbidden)
	wantStatus(t, w.ada.get("/admin/users"), http.StatusForbidden)
	users, _ := w.a.store.Users(ctx)
	w.ids = map[string]int64{}
	for _, u := range users {
		w.ids[u.Email] = u.ID
	}
	for _, who := range []string{"teacher@example.com", "rival@example.com"} {
		wantStatus(t, w.admin.post("/admin/users/"+strconv.FormatInt(w.ids[who], 10)+"/role", url.Values{"role": {"instructor"}}), http.StatusSeeOther)
	}
	wantStatus(t, w.admin.post("/admin/users/"+strconv.FormatInt(w.ids["admin@example.com"], 10)+"/role", url.Values{"role": {"learner"}}), http.StatusSeeOther)
	if u, _ := w.a.store.UserByID(ctx, w.ids["admin@example.com"]); u.Role != store.RoleAdmin {
		t.Error("the admin demoted themself")
	}
}

// createClasses: the teacher creates Spring cohort and Evening, each with
// a join code.
func (w *classRun) createClasses(t *testing.T) {
	t.Helper()
	resp := w.teacher.post("/classes", url.Values{"name": {"  "}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if testid(doc(t, resp), "error-name") == "" {
		t.Error("no message for an empty class name")
	}
	w.id = classID(t, w.teacher.post("/classes", url.Values{"name": {"Spring cohort"}}))
	w.other = classID(t, w.teacher.post("/classes", url.Values{"name": {"Evening"}}))
	page := doc(t, w.teacher.get("/classes/"+w.id))
	w.code = testid(page, "join-code")
	if len(w.code) != 8 || !strings.HasSuffix(testid(page, "join-url"), "/join/"+w.code) {
		t.Fatalf("join code %q, link %q", w.code, testid(page, "join-url"))
	}
}

// join: learners join by the link and by the code, ada into both classes.
func (w *classRun) join(t *testing.T) {
	t.Helper()
	// Learners join: by the link, and by typing the code (any case).
	if !strings.Contains(doc(t, w.ada.get("/join/"+w.code)).Text(), "Spring cohort") {
		t.Error("the join link does not name the class")
	}
	wantStatus(t, w.ada.post("/join/"+w.code, nil), http.StatusSeeOther)
	resp := w.bob.post("/classes/join", url.Values{"code": {"NOPE1234"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if testid(doc(t, resp), "error-code") == "" {
		t.Error("no message for a wrong code")
	}
	wantStatus(t, w.bob.post("/classes/join", url.Values{"code": {strings.ToLower(w.code)}}), http.StatusSeeOther)
	// The instructor cannot join their own class as a learner, by the
	// link or the API: they would be a row of its gradebook.
	resp = w.teacher.post("/join/"+w.code, nil)
	wantStatus(t, resp, http.StatusSeeOther)
	if !strings.Contains(doc(t, w.teacher.get(resp.Header.Get("Location"))).Text(), "You teach this class") {
		t.Error("no sentence for an instructor joining their own class")
	}
	fieldError(t, w.teacher.api(http.MethodPost, "/api/classes/join", `{"join_code": "`+w.code+`"}`), "join_code")
	if strings.Contains(doc(t, w.teacher.get("/classes/"+w.id)).Find(`[data-testid="gradebook"]`).Text(), "teacher@example.com") {
		t.Error("the instructor is a learner in their own class's gradebook")
	}
	otherCode := testid(doc(t, w.teacher.get("/classes/"+w.other)), "join-code")
	wantStatus(t, w.ada.post("/join/"+otherCode, nil), http.StatusSeeOther) // in two classes
	if n := doc(t, w.ada.get("/classes")).Find(`[data-testid="classes-joined"] li`).Length(); n != 2 {
		t.Errorf("ada is in %d classes, want 2", n)
	}
}

// checkPrivacy: nobody but the class's staff sees its gradebook.
func (w *classRun) checkPrivacy(t *testing.T) {
	t.Helper()
	// Nobody else sees the class's gradebook.
	wantStatus(t, w.rival.get("/classes/"+w.id), http.StatusNotFound)
	wantStatus(t, w.rival.get("/classes/"+w.id+"/gradebook.csv"), http.StatusNotFound)
	if doc(t, w.ada.get("/classes/"+w.id)).Find(`[data-testid="gradebook"]`).Length() != 0 {
		t.Error("a learner sees the gradebook")
	}
	wantStatus(t, w.admin.get("/classes/"+w.id), http.StatusOK) // an admin sees every class
}

// assign: the classes set the exercise (Spring an hour ago, Evening
// tomorrow) and a quiz.
func (w *classRun) assign(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	// Assignments: the exercise was due an hour ago, the quiz has no date.
	due := time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")
	wantStatus(t, w.teacher.post("/classes/"+w.id+"/assignments", url.Values{"assignment": {"exercise:" + limiterExercise}, "due": {due}}), http.StatusSeeOther)
	wantStatus(t, w.teacher.post("/classes/"+w.id+"/assignments", url.Values{"assignment": {"quiz:cap"}}), http.StatusSeeOther)
	wantStatus(t, w.teacher.post("/classes/"+w.id+"/assignments", url.Values{"assignment": {"exercise:nope"}}), http.StatusSeeOther)
	wantStatus(t, w.rival.post("/classes/"+w.id+"/assignments", url.Values{"assignment": {"quiz:cap"}}), http.StatusNotFound)
	w.as, _ = w.a.store.Assignments(ctx, mustInt(t, w.id))
	if len(w.as) != 2 {
		t.Fatalf("%d assignments, want 2", len(w.as))
	}

	// The evening class wants the same exercise tomorrow.
	tomorrow := time.Now().UTC().Add(24 * time.Hour).Format("2006-01-02T15:04")
	wantStatus(t, w.teacher.post("/classes/"+w.other+"/assignments", url.Values{"assignment": {"exercise:" + limiterExercise}, "due": {tomorrow}}), http.StatusSeeOther)
}

// submit: ada submits late and bob takes the quiz; the gradebook shows
// both.
func (w *classRun) submit(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	// Ada submits (late); Bob takes the quiz.
	resp := w.ada.api("POST", "/api/labs/limiter/submissions",
		`{"design": {"algorithm": "fixed_window", "limit": 20, "window_ms": 2000}, "notes": "simple"}`)
	wantStatus(t, resp, http.StatusAccepted)
	w.sub = decodeJSON(t, resp)["id"].(string)
	graded := waitGraded(t, w.ada, w.sub)
	w.auto = int(graded["score"].(float64))
	if err := w.a.store.AddQuizAttempt(ctx, &store.QuizAttempt{UserID: w.ids["bob@example.com"], LessonSlug: "cap", Score: 7,
		MaxScore: 10, Passed: true, Answers: "{}", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	page := doc(t, w.teacher.get("/classes/"+w.id))
	adaRow := page.Find(`[data-testid="gb-row"][data-email="ada@example.com"]`)
	if cell := strings.Join(strings.Fields(adaRow.Find(`[data-testid="gb-cell"]`).First().Text()), " "); cell != strconv.Itoa(w.auto)+" late 1×" {
		t.Errorf("ada's exercise cell %q, want %d late 1×", cell, w.auto)
	}
	if cell := strings.Fields(page.Find(`[data-testid="gb-row"][data-email="bob@example.com"] [data-testid="gb-cell"]`).Eq(1).Text()); len(cell) == 0 || cell[0] != "70" {
		t.Errorf("bob's quiz cell %q, want 70", cell)
	}
}

// checkSortAndFilter: the gradebook sorts by an assignment and filters
// late work.
func (w *classRun) checkSortAndFilter(t *testing.T) {
	t.Helper()
	// Sorted by the exercise, highest first; filtered to late ones.
	sorted := doc(t, w.teacher.get("/classes/"+w.id+"?sort=a"+strconv.FormatInt(w.as[0].ID, 10)+"&dir=desc"))
	if first, _ := sorted.Find(`[data-testid="gb-row"]`).First().Attr("data-email"); first != "ada@example.com" {
		t.Errorf("sorted by the exercise, first row is %s", first)
	}
	late := doc(t, w.teacher.get("/classes/"+w.id+"?only=late"))
	if n := late.Find(`[data-testid="gb-row"]`).Length(); n != 1 {
		t.Errorf("late filter shows %d rows, want 1", n)
	}
	// The distributions describe the whole class whatever the filter: two
	// learners, one score on each assignment (ada's exercise, bob's quiz
	// at 7 of 10, in the 70% bar).
	dists := late.Find(`[data-testid="distribution"]`)
	if dists.Length() != len(w.as) {
		t.Fatalf("%d score distributions, want one per assignment (%d)", dists.Length(), len(w.as))
	}
	for i := range dists.Length() {
		if got := dists.Eq(i).Find(`[data-testid="distribution-summary"]`).Text(); !strings.HasPrefix(got, "Scored: 1 of 2 learners, median ") {
			t.Errorf("distribution %d says %q", i, got)
		}
	}
	if bars := dists.Eq(1).Find("rect.dist-bar"); bars.Length() != 1 || !strings.HasPrefix(bars.Find("title").Text(), "70–79%: 1 learner") {
		t.Errorf("the quiz's distribution has %d bars (%q), want one at 70–79%%", bars.Length(), bars.Find("title").Text())
	}
}

// checkStaffDetail: the submission's technical detail is for staff, and
// the due marks are right for each class.
func (w *classRun) checkStaffDetail(t *testing.T) {
	t.Helper()
	// The instructor reviews: an override needs a reason.
	w.review = "/classes/" + w.id + "/submissions/" + w.sub
	wantStatus(t, w.rival.get(w.review), http.StatusNotFound)
	// The technical side of a result is for staff: the instructor
	// sees it, the learner's page and API do not.
	q := "UPDATE submissions SET staff_detail = ? WHERE id = ?"
	if w.a.store.Dialect() == "postgres" {
		q = "UPDATE submissions SET staff_detail = $1 WHERE id = $2"
	}
	if _, err := w.a.store.SQL().Exec(q, "redis container: connection reset by peer", w.sub); err != nil {
		t.Fatal(err)
	}
	if sp := doc(t, w.ada.get("/submissions/"+w.sub)); sp.Find(`[data-testid="staff-detail"]`).Length() != 0 ||
		strings.Contains(sp.Text(), "connection reset") {
		t.Error("the learner's page shows the staff-only detail")
	}
	if body := readBody(t, w.ada.api("GET", "/api/submissions/"+w.sub, "")); strings.Contains(body, "connection reset") {
		t.Error("the learner's API shows the staff-only detail")
	}
	rp := doc(t, w.teacher.get(w.review))
	if !strings.Contains(testid(rp, "staff-detail"), "connection reset by peer") {
		t.Errorf("the instructor does not see the technical detail: %q", testid(rp, "staff-detail"))
	}
	if testid(rp, "learner-notes") != "simple" {
		t.Error("the review page lacks the learner's reasoning")
	}
	if rp.Find(`[data-testid="late"]`).Length() != 1 || rp.Find(`[data-testid="on-time"]`).Length() != 0 ||
		!strings.Contains(rp.Find(".due-marks").Text(), "Spring cohort") {
		t.Errorf("the review page does not mark the submission late: %q", rp.Find(".due-marks").Text())
	}
	if sp := doc(t, w.ada.get("/submissions/"+w.sub)); sp.Find(`[data-testid="late"]`).Length() != 1 ||
		sp.Find(`[data-testid="on-time"]`).Length() != 1 || !strings.Contains(sp.Find(".due-marks").Text(), "Evening") {
		t.Errorf("the learner's submission page should be late for Spring and on time for Evening: %q", sp.Find(".due-marks").Text())
	}
}

// saveReview: the instructor overrides with a reason and feedback, which
// the learner reads.
func (w *classRun) saveReview(t *testing.T) {
	t.Helper()
	resp := w.teacher.post(w.review+"/review", url.Values{"score": {"95"}, "feedback": {"Close."}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if testid(doc(t, resp), "error-reason") == "" {
		t.Error("an override without a reason was accepted")
	}
	resp = w.teacher.post(w.review+"/review", url.Values{"score": {"101"}, "reason": {"x"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	wantStatus(t, w.teacher.post(w.review+"/review", url.Values{"score": {"95"}, "reason": {"The span check is too strict for this class."},
		"feedback": {"Good reasoning; try a sliding log next."}}), http.StatusSeeOther)
	rp := doc(t, w.teacher.get(w.review))
	if testid(rp, "override-score") != "95" || testid(rp, "auto-score") != strconv.Itoa(w.auto)+" / 100" {
		t.Errorf("review page: override %q, grader %q", testid(rp, "override-score"), testid(rp, "auto-score"))
	}
	lp := doc(t, w.ada.get("/submissions/"+w.sub))
	if !strings.Contains(testid(lp, "override-score"), "95 / 100") || testid(lp, "feedback") != "Good reasoning; try a sliding log next." {
		t.Errorf("the learner does not see the review: %q %q", testid(lp, "override-score"), testid(lp, "feedback"))
	}
	if got := apiReviewsText(t, w.ada, w.sub); got != "Spring cohort: 95" {
		t.Errorf("API reviews: %q", got)
	}
}

// checkExports: the CSV and JSON exports carry the override and the late
// flag.
func (w *classRun) checkExports(t *testing.T) {
	t.Helper()
	// Exports.
	resp := w.teacher.get("/classes/" + w.id + "/gradebook.csv")
	wantStatus(t, resp, http.StatusOK)
	rows, err := csv.NewReader(resp.Body).ReadAll()
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 || rows[0][0] != "Email" || rows[1][0] != "Points possible" || rows[1][1] != "100" {
		t.Fatalf("CSV head: %v", rows[:min(2, len(rows))])
	}
	if rows[2][0] != "ada@example.com" || rows[2][1] != "95" || rows[3][0] != "bob@example.com" || rows[3][2] != "70" {
		t.Errorf("CSV rows: %v", rows[2:])
	}
	resp = w.teacher.get("/classes/" + w.id + "/results.json")
	wantStatus(t, resp, http.StatusOK)
	var res struct {
		Submissions []struct {
			Learner       string
			OverrideScore *int `json:"override_score"`
			Late          bool
		}
		Learners []struct {
			Email       string
			Assignments []struct {
				Score      *int
				Late       bool
				Overridden bool
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(res.Submissions) != 1 || res.Submissions[0].Learner != "ada@example.com" || !res.Submissions[0].Late ||
		res.Submissions[0].OverrideScore == nil || *res.Submissions[0].OverrideScore != 95 {
		t.Errorf("JSON submissions: %+v", res.Submissions)
	}
	if len(res.Learners) != 2 || !res.Learners[0].Assignments[0].Late || !res.Learners[0].Assignments[0].Overridden {
		t.Errorf("JSON results: %+v", res)
	}
}

// regrade: one submission, then every submission of the exercise, is
// graded again.
func (w *classRun) regrade(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	// Regrade: the submission is graded again, to the same score.
	wantStatus(t, w.teacher.post(w.review+"/regrade", nil), http.StatusSeeOther)
	again := waitGraded(t, w.ada, w.sub)
	if int(again["score"].(float64)) != w.auto {
		t.Errorf("regraded to %v, was %d", again["score"], w.auto)
	}
	if s, _ := w.a.store.SubmissionByID(ctx, w.sub); s.Run != 2 {
		t.Errorf("runs after a regrade: %d", s.Run)
	}
	// Every submission of the exercise, after its suite changed.
	resp := w.teacher.post("/classes/"+w.id+"/assignments/"+strconv.FormatInt(w.as[0].ID, 10)+"/regrade", nil)
	wantStatus(t, resp, http.StatusSeeOther)
	waitGraded(t, w.ada, w.sub)
	if s, _ := w.a.store.SubmissionByID(ctx, w.sub); s.Run != 3 {
		t.Errorf("runs after regrading the exercise: %d", s.Run)
	}
	wantStatus(t, w.rival.post("/classes/"+w.id+"/assignments/"+strconv.FormatInt(w.as[0].ID, 10)+"/regrade", nil), http.StatusNotFound)
}

// deleteClass: deleting needs the class's name; the learners keep their
// work.
func (w *classRun) deleteClass(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	// Deleting needs the class's name; the learners keep their work.
	wantStatus(t, w.rival.post("/classes/"+w.other+"/delete", url.Values{"confirm": {"Evening"}}), http.StatusNotFound)
	wantStatus(t, w.teacher.post("/classes/"+w.other+"/delete", url.Values{"confirm": {"evening"}}), http.StatusSeeOther)
	wantStatus(t, w.teacher.get("/classes/"+w.other), http.StatusOK)
	wantStatus(t, w.teacher.post("/classes/"+w.other+"/delete", url.Values{"confirm": {"Evening"}}), http.StatusSeeOther)
	wantStatus(t, w.teacher.get("/classes/"+w.other), http.StatusNotFound)
	if subs, _ := w.a.store.Submissions(ctx, w.ids["ada@example.com"], ""); len(subs) != 1 {
		t.Errorf("ada has %d submissions after a class was deleted", len(subs))
	}
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
