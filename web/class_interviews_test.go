package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// TestInstructorScoresAssignedInterview: an instructor assigns a mock
// interview to a class; a learner's session appears in the gradebook
// with the learner's own score, the instructor reads it and scores it
// with the rubric, and the gradebook, its CSV and the learner's session
// show that score and the feedback. Another instructor's class reaches
// the session nowhere.
func TestInstructorScoresAssignedInterview(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, nil)
			teacher := MustAccount(t, a, "teacher@example.com", store.RoleInstructor)
			other := MustAccount(t, a, "other@example.com", store.RoleInstructor)
			ada := MustRegister(t, a, "ada@example.com")
			ctx := context.Background()
			cl, err := a.store.CreateClass(ctx, mustUserID(t, a, "teacher@example.com"), "Spring", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := a.store.JoinClass(ctx, cl.ID, mustUserID(t, a, "ada@example.com"), time.Now()); err != nil {
				t.Fatal(err)
			}
			classURL := "/classes/" + strconv.FormatInt(cl.ID, 10)
			wantStatus(t, teacher.post(classURL+"/assignments", url.Values{"assignment": {"interview:chat"}}), http.StatusSeeOther)

			base := startSession(t, ada)
			sid := base[strings.LastIndex(base, "/")+1:]
			wantStatus(t, ada.post(base+"/stages/requirements", url.Values{"action": {"close"}, "answer": {"groups and order"}}), http.StatusSeeOther)
			wantStatus(t, ada.post(base+"/stages/requirements/ticks", url.Values{"checkpoint": {"0", "1"}}), http.StatusSeeOther)
			if got := gradebookCell(t, teacher, classURL); !strings.Contains(got, "50") {
				t.Errorf("gradebook cell before the review: %q, want the learner's own 50", got)
			}

			review := classURL + "/interviews/" + sid
			d := doc(t, teacher.get(review))
			if got := testid(d, "review-stage-requirements"); !strings.Contains(got, "groups and order") || !strings.Contains(got, "learner ticked") {
				t.Errorf("the review page's requirements: %q", got)
			}
			resp := teacher.post(review+"/review", url.Values{"checkpoint": {"estimation:9"}, "feedback": {"kept"}})
			wantStatus(t, resp, http.StatusUnprocessableEntity)
			if d := doc(t, resp); testid(d, "review-error") == "" || d.Find("#f-feedback").Text() != "kept" {
				t.Error("a bad tick: no message, or the feedback was lost")
			}
			// Every checkpoint of requirements (4) and api (4) out of 7 stages: (100+100)/7 = 28.
			ticks := url.Values{"feedback": {"Estimate before you design."}}
			for _, v := range []string{"requirements:0", "requirements:1", "requirements:2", "requirements:3", "api:0", "api:1", "api:2", "api:3"} {
				ticks.Add("checkpoint", v)
			}
			wantStatus(t, teacher.post(review+"/review", ticks), http.StatusSeeOther)
			if got := gradebookCell(t, teacher, classURL); !strings.Contains(got, "28") || !strings.Contains(got, "override") {
				t.Errorf("gradebook cell after the review: %q", got)
			}
			csv := readBody(t, teacher.get(classURL+"/gradebook.csv"))
			if !strings.Contains(csv, "Mock interview: Design a chat service") || !strings.Contains(csv, "28") {
				t.Errorf("the CSV lacks the interview column or its score:\n%s", csv)
			}
			d = doc(t, ada.get(base))
			if testid(d, "instructor-score") != "28%" || testid(d, "instructor-feedback") != "Estimate before you design." {
				t.Errorf("the learner sees score %q and feedback %q", testid(d, "instructor-score"), testid(d, "instructor-feedback"))
			}

			// Another instructor, through their own class with ada in it
			// but no such assignment, or through this class, gets the 404.
			ocl, _ := a.store.CreateClass(ctx, mustUserID(t, a, "other@example.com"), "Autumn", time.Now())
			_ = a.store.JoinClass(ctx, ocl.ID, mustUserID(t, a, "ada@example.com"), time.Now())
			wantStatus(t, other.get("/classes/"+strconv.FormatInt(ocl.ID, 10)+"/interviews/"+sid), http.StatusNotFound)
			wantStatus(t, other.get(review), http.StatusNotFound)
			wantStatus(t, ada.get(review), http.StatusNotFound)
		})
	}
}

// gradebookCell is the text of the first learner's first assignment cell.
func gradebookCell(t *testing.T, b *browser, classURL string) string {
	t.Helper()
	resp := b.get(classURL)
	wantStatus(t, resp, http.StatusOK)
	return strings.Join(strings.Fields(doc(t, resp).Find(`[data-testid="gb-cell"]`).First().Text()), " ")
}
