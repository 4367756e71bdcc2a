package web

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// In-app notices: an instructor sees finished submissions to their
// classes' exercises until they open or review them; a learner hears of
// new feedback once, and reads it by opening the submission.
func TestNotices(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStartLabs(t, be, nil, limiter.Lab)
			MustAdmin(t, a, "admin@example.com")
			w := &noticeRun{a: a, teacher: MustRegister(t, a, "teacher@example.com"), rival: MustRegister(t, a, "rival@example.com"),
				ada: MustRegister(t, a, "ada@example.com")}
			w.arrange(t)
			w.firstLook(t)
			w.feedback(t)
			w.override(t)
		})
	}
}

// noticeRun is TestNotices's world: the people, the class, and ada's
// submissions.
type noticeRun struct {
	a                   *testApp
	teacher, rival, ada *browser
	ids                 map[string]int64
	cid                 string // the teacher's class, which sets the limiter exercise
	cl                  store.Class
	first, second       store.Submission // ada's
	review2             string           // the review page of second
	link                string           // the notice's link
}

// firstLook: a finished submission waits for its class's instructor only,
// until opened.
func (w *noticeRun) firstLook(t *testing.T) {
	t.Helper()
	w.first = w.submit(t, limiterExercise, store.StatusGraded, 60)
	w.submit(t, limiterExercise, store.StatusQueued, 0) // not finished
	w.submit(t, "some-other-exercise", store.StatusGraded, 100)

	if badge, n := w.waiting(t, w.teacher); badge != "1" || n != 1 {
		t.Fatalf("teacher: badge %q, %d waiting; want 1, 1", badge, n)
	}
	if badge, n := w.waiting(t, w.rival); badge != "" || n != 0 {
		t.Errorf("another instructor: badge %q, %d waiting", badge, n)
	}
	if testid(doc(t, w.ada.get("/")), "notice-count") != "" {
		t.Error("the learner has a notice before any feedback")
	}

	// Opening the submission is a look.
	review := "/classes/" + w.cid + "/submissions/" + w.first.ID
	wantStatus(t, w.teacher.get(review), http.StatusOK)
	if badge, n := w.waiting(t, w.teacher); badge != "" || n != 0 {
		t.Errorf("after a look: badge %q, %d waiting", badge, n)
	}
	wantReadOnly(t, w.a, w.teacher, review) // looked at already
}

// wantReadOnly checks that opening path again writes nothing.
func wantReadOnly(t *testing.T, a *testApp, b *browser, path string) {
	t.Helper()
	before := a.store.WriteVersion()
	wantStatus(t, b.get(path), http.StatusOK)
	if after := a.store.WriteVersion(); after != before {
		t.Errorf("GET %s wrote to the database (%d statements that may write)", path, after-before)
	}
}

// feedback: a new attempt waits until reviewed; the learner hears of
// feedback once, linked, and reads it by opening it.
func (w *noticeRun) feedback(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	// A new attempt waits until it is reviewed.
	w.a.advance(time.Minute)
	w.second = w.submit(t, limiterExercise, store.StatusGraded, 70)
	if _, n := w.waiting(t, w.teacher); n != 1 {
		t.Fatalf("%d waiting after a new attempt", n)
	}
	w.review2 = "/classes/" + w.cid + "/submissions/" + w.second.ID
	wantStatus(t, w.teacher.post(w.review2+"/review", url.Values{"feedback": {"Look at the window boundary."}}), http.StatusSeeOther)

	// The learner hears of the feedback once, linked to the
	// submission, and reads it by opening it.
	d := doc(t, w.ada.get("/notices"))
	if testid(d, "notice-count") != "1" || d.Find(`[data-testid="notice"].unread`).Length() != 1 {
		t.Fatalf("learner: badge %q, %d unread", testid(d, "notice-count"), d.Find(`[data-testid="notice"].unread`).Length())
	}
	w.link, _ = d.Find(`[data-testid="notice"] a`).Attr("href")
	if w.link != "/submissions/"+w.second.ID || !strings.Contains(testid(d, "notice"), "left feedback on submission #3") {
		t.Errorf("notice %q → %s", testid(d, "notice"), w.link)
	}
	// Saving the same review again tells nothing new.
	wantStatus(t, w.teacher.post(w.review2+"/review", url.Values{"feedback": {"Look at the window boundary."}}), http.StatusSeeOther)
	if n, _ := w.a.store.UnreadNotices(ctx, w.ids["ada@example.com"]); n != 1 {
		t.Errorf("%d unread notices after an unchanged review", n)
	}
	wantStatus(t, w.ada.get(w.link), http.StatusOK)
	if testid(doc(t, w.ada.get("/")), "notice-count") != "" {
		t.Error("the notice is still unread after opening the submission")
	}
	wantReadOnly(t, w.a, w.ada, w.link) // nothing left to mark read
}

// override: an override is news again; "mark all as read" clears it.
func (w *noticeRun) override(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	// An override is news again; "mark all as read" clears it.
	wantStatus(t, w.teacher.post(w.review2+"/review", url.Values{"score": {"90"}, "reason": {"The boundary test was flaky."},
		"feedback": {"Look at the window boundary."}}), http.StatusSeeOther)
	d := doc(t, w.ada.get("/notices"))
	if !strings.Contains(d.Find(`[data-testid="notice"].unread`).Text(), "scored submission #3") {
		t.Errorf("override notice: %q", d.Find(`[data-testid="notice"]`).Text())
	}
	wantStatus(t, w.ada.post("/notices/read", nil), http.StatusSeeOther)
	if n, _ := w.a.store.UnreadNotices(ctx, w.ids["ada@example.com"]); n != 0 {
		t.Errorf("%d unread after marking all read", n)
	}
	if d := doc(t, w.ada.get("/notices")); d.Find(`[data-testid="notice"]`).Length() != 2 {
		t.Errorf("%d notices kept, want 2", d.Find(`[data-testid="notice"]`).Length())
	}
}

// arrange makes the teacher and the rival instructors with a class each;
// ada is in the teacher's, which sets the limiter exercise.
func (w *noticeRun) arrange(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	w.ids = map[string]int64{}
	for _, e := range []string{"teacher@example.com", "rival@example.com", "ada@example.com"} {
		u, _ := w.a.store.UserByEmail(ctx, e)
		w.ids[e] = u.ID
	}
	for _, e := range []string{"teacher@example.com", "rival@example.com"} {
		if err := w.a.store.SetRole(ctx, w.ids[e], store.RoleInstructor); err != nil {
			t.Fatal(err)
		}
	}
	w.cid = classID(t, w.teacher.post("/classes", url.Values{"name": {"Spring"}}))
	classID(t, w.rival.post("/classes", url.Values{"name": {"Rival's"}}))
	w.cl, _ = w.a.store.ClassByID(ctx, mustInt(t, w.cid))
	if err := w.a.store.JoinClass(ctx, w.cl.ID, w.ids["ada@example.com"], time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := w.a.store.AddAssignment(ctx, &store.Assignment{ClassID: w.cl.ID, Kind: store.AssignExercise, Ref: limiterExercise, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// submit stores a submission of ada's to exercise, as the grader left it.
func (w *noticeRun) submit(t *testing.T, exercise, status string, score int) store.Submission {
	t.Helper()
	sub := store.Submission{ID: store.NewSubmissionID(), UserID: w.ids["ada@example.com"], Lab: "limiter", Exercise: exercise,
		Design: "{}", Status: status, MaxScore: 100, CreatedAt: w.a.clock()}
	if status == store.StatusGraded {
		sub.Score = &score
	}
	if err := w.a.store.CreateSubmission(context.Background(), &sub, func(context.Context, *sql.Tx) (int64, error) { return 0, nil }); err != nil {
		t.Fatal(err)
	}
	return sub
}

// waiting is b's notice badge and the submissions waiting on its notices
// page.
func (w *noticeRun) waiting(t *testing.T, b *browser) (badge string, items int) {
	t.Helper()
	d := doc(t, b.get("/notices"))
	return testid(d, "notice-count"), d.Find(`[data-testid="waiting-item"]`).Length()
}
