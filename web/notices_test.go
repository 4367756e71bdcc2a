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
			ctx := context.Background()
			MustAdmin(t, a, "admin@example.com")
			teacher := MustRegister(t, a, "teacher@example.com")
			rival := MustRegister(t, a, "rival@example.com")
			ada := MustRegister(t, a, "ada@example.com")
			ids := map[string]int64{}
			for _, e := range []string{"teacher@example.com", "rival@example.com", "ada@example.com"} {
				u, _ := a.store.UserByEmail(ctx, e)
				ids[e] = u.ID
			}
			for _, e := range []string{"teacher@example.com", "rival@example.com"} {
				if err := a.store.SetRole(ctx, ids[e], store.RoleInstructor); err != nil {
					t.Fatal(err)
				}
			}
			cid := classID(t, teacher.post("/classes", url.Values{"name": {"Spring"}}))
			classID(t, rival.post("/classes", url.Values{"name": {"Rival's"}}))
			cl, _ := a.store.ClassByID(ctx, mustInt(t, cid))
			if err := a.store.JoinClass(ctx, cl.ID, ids["ada@example.com"], time.Now()); err != nil {
				t.Fatal(err)
			}
			if err := a.store.AddAssignment(ctx, &store.Assignment{ClassID: cl.ID, Kind: store.AssignExercise, Ref: limiterExercise, CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			submit := func(exercise, status string, score int) store.Submission {
				t.Helper()
				sub := store.Submission{ID: store.NewSubmissionID(), UserID: ids["ada@example.com"], Lab: "limiter", Exercise: exercise,
					Design: "{}", Status: status, MaxScore: 100, CreatedAt: a.clock()}
				if status == store.StatusGraded {
					sub.Score = &score
				}
				if err := a.store.CreateSubmission(ctx, &sub, func(context.Context, *sql.Tx) (int64, error) { return 0, nil }); err != nil {
					t.Fatal(err)
				}
				return sub
			}
			waiting := func(b *browser) (badge string, items int) {
				t.Helper()
				d := doc(t, b.get("/notices"))
				return testid(d, "notice-count"), d.Find(`[data-testid="waiting-item"]`).Length()
			}

			first := submit(limiterExercise, store.StatusGraded, 60)
			submit(limiterExercise, store.StatusQueued, 0) // not finished
			submit("some-other-exercise", store.StatusGraded, 100)

			if badge, n := waiting(teacher); badge != "1" || n != 1 {
				t.Fatalf("teacher: badge %q, %d waiting; want 1, 1", badge, n)
			}
			if badge, n := waiting(rival); badge != "" || n != 0 {
				t.Errorf("another instructor: badge %q, %d waiting", badge, n)
			}
			if testid(doc(t, ada.get("/")), "notice-count") != "" {
				t.Error("the learner has a notice before any feedback")
			}

			// Opening the submission is a look.
			review := "/classes/" + cid + "/submissions/" + first.ID
			wantStatus(t, teacher.get(review), http.StatusOK)
			if badge, n := waiting(teacher); badge != "" || n != 0 {
				t.Errorf("after a look: badge %q, %d waiting", badge, n)
			}

			// A new attempt waits until it is reviewed.
			a.advance(time.Minute)
			second := submit(limiterExercise, store.StatusGraded, 70)
			if _, n := waiting(teacher); n != 1 {
				t.Fatalf("%d waiting after a new attempt", n)
			}
			review2 := "/classes/" + cid + "/submissions/" + second.ID
			wantStatus(t, teacher.post(review2+"/review", url.Values{"feedback": {"Look at the window boundary."}}), http.StatusSeeOther)

			// The learner hears of the feedback once, linked to the
			// submission, and reads it by opening it.
			d := doc(t, ada.get("/notices"))
			if testid(d, "notice-count") != "1" || d.Find(`[data-testid="notice"].unread`).Length() != 1 {
				t.Fatalf("learner: badge %q, %d unread", testid(d, "notice-count"), d.Find(`[data-testid="notice"].unread`).Length())
			}
			link, _ := d.Find(`[data-testid="notice"] a`).Attr("href")
			if link != "/submissions/"+second.ID || !strings.Contains(testid(d, "notice"), "left feedback on submission #3") {
				t.Errorf("notice %q → %s", testid(d, "notice"), link)
			}
			// Saving the same review again tells nothing new.
			wantStatus(t, teacher.post(review2+"/review", url.Values{"feedback": {"Look at the window boundary."}}), http.StatusSeeOther)
			if n, _ := a.store.UnreadNotices(ctx, ids["ada@example.com"]); n != 1 {
				t.Errorf("%d unread notices after an unchanged review", n)
			}
			wantStatus(t, ada.get(link), http.StatusOK)
			if testid(doc(t, ada.get("/")), "notice-count") != "" {
				t.Error("the notice is still unread after opening the submission")
			}

			// An override is news again; "mark all as read" clears it.
			wantStatus(t, teacher.post(review2+"/review", url.Values{"score": {"90"}, "reason": {"The boundary test was flaky."},
				"feedback": {"Look at the window boundary."}}), http.StatusSeeOther)
			d = doc(t, ada.get("/notices"))
			if !strings.Contains(d.Find(`[data-testid="notice"].unread`).Text(), "scored submission #3") {
				t.Errorf("override notice: %q", d.Find(`[data-testid="notice"]`).Text())
			}
			wantStatus(t, ada.post("/notices/read", nil), http.StatusSeeOther)
			if n, _ := a.store.UnreadNotices(ctx, ids["ada@example.com"]); n != 0 {
				t.Errorf("%d unread after marking all read", n)
			}
			if d := doc(t, ada.get("/notices")); d.Find(`[data-testid="notice"]`).Length() != 2 {
				t.Errorf("%d notices kept, want 2", d.Find(`[data-testid="notice"]`).Length())
			}
		})
	}
}
