package web

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// homeWorld is a class with a late exercise and a quiz due tomorrow, a
// learner in it who opened a lesson and runs a lab instance, and its
// instructor.
type homeWorld struct {
	a              *testApp
	ada, teacher   *browser
	adaID, classID int64
	instance       string
}

func newHomeWorld(t *testing.T, be testenv.Backend) homeWorld {
	t.Helper()
	a := MustStartGrading(t, be, limiter.Lab)
	waitSubscribed(t, a)
	ctx := context.Background()
	w := homeWorld{a: a, ada: MustRegister(t, a, "ada@example.org"),
		teacher: MustAccount(t, a, "teach@example.org", store.RoleInstructor)}
	ada, _ := a.store.UserByEmail(ctx, "ada@example.org")
	t1, _ := a.store.UserByEmail(ctx, "teach@example.org")
	w.adaID = ada.ID
	wantStatus(t, w.ada.get("/lessons/cap"), http.StatusOK)
	cl, err := a.store.CreateClass(ctx, t1.ID, "Spring cohort", a.clock())
	if err != nil {
		t.Fatal(err)
	}
	w.classID = cl.ID
	if err := a.store.JoinClass(ctx, cl.ID, ada.ID, a.clock()); err != nil {
		t.Fatal(err)
	}
	past, future := a.clock().Add(-24*time.Hour).UTC(), a.clock().Add(24*time.Hour).UTC()
	for _, as := range []store.Assignment{
		{ClassID: cl.ID, Kind: store.AssignExercise, Ref: limiterExercise, DueAt: &past, CreatedAt: a.clock()},
		{ClassID: cl.ID, Kind: store.AssignQuiz, Ref: "cap", DueAt: &future, CreatedAt: a.clock()},
	} {
		if err := a.store.AddAssignment(ctx, &as); err != nil {
			t.Fatal(err)
		}
	}
	resp := w.ada.api("POST", "/api/labs/limiter/instances", `{}`)
	wantStatus(t, resp, http.StatusCreated)
	w.instance = decodeJSON(t, resp)["id"].(string)
	return w
}

// A signed-in learner's home lists their cards due (the number the nav
// shows and the review queue holds), the lesson to continue, their
// classes' assignments with due dates (the missed one marked late), their
// running lab instance with its link, and their best exercise score; an
// instructor's lists their class, the submissions waiting and the due
// dates ahead. A visitor keeps the marketing page. Each home costs the
// nav's query and at most three more.
func TestSignedInHome(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			w := newHomeWorld(t, be)
			anon := doc(t, newBrowser(t, w.a).get("/"))
			if anon.Find(`a[href="/register"]`).Length() == 0 || testid(anon, "home-review") != "" {
				t.Error("a visitor does not see the marketing page")
			}
			d := doc(t, w.ada.get("/"))
			q, err := w.a.app.progress.ReviewQueue(context.Background(), w.adaID)
			if err != nil || q.Total() == 0 {
				t.Fatalf("ada's queue: %+v %v", q, err)
			}
			if got, nav := testid(d, "home-due"), testid(d, "due-count"); got != strconv.Itoa(q.Total()) || nav != got {
				t.Errorf("home says %q cards due, the nav %q, the queue has %d", got, nav, q.Total())
			}
			if href, _ := d.Find(`[data-testid="continue"]`).Attr("href"); href != "/lessons/cap" {
				t.Errorf("continue links %q, want the lesson opened", href)
			}
			wantHomeAssignments(t, d, map[string]string{"Rate limiter lab": "late", "Quiz:": ""})
			inst := d.Find(`[data-testid="running-instance"] a`)
			if href, _ := inst.Attr("href"); href != "/labs/limiter#instance-"+w.instance {
				t.Errorf("running instance links %q", href)
			}
			if testid(d, "home-scores") == "" || d.Find(`[data-testid="home-score"]`).Length() != 0 {
				t.Error("the scores panel should say there is no graded exercise yet")
			}

			// A graded attempt: the exercise is done, not late, and its score shows.
			score := 70
			sub := store.Submission{ID: store.NewSubmissionID(), UserID: w.adaID, Lab: "limiter", Exercise: limiterExercise,
				Design: "{}", Status: store.StatusGraded, Score: &score, MaxScore: 100, CreatedAt: w.a.clock()}
			if err := w.a.store.CreateSubmission(context.Background(), &sub, func(context.Context, *sql.Tx) (int64, error) { return 0, nil }); err != nil {
				t.Fatal(err)
			}
			d = doc(t, w.ada.get("/"))
			wantHomeAssignments(t, d, map[string]string{"Rate limiter lab": "done", "Quiz:": ""})
			if got := strings.Join(strings.Fields(testid(d, "home-score")), " "); !strings.Contains(got, "70 / 100") {
				t.Errorf("best score shows %q", got)
			}

			td := doc(t, w.teacher.get("/"))
			if got := strings.Join(strings.Fields(testid(td, "home-class")), " "); !strings.Contains(got, "Spring cohort 1 learner") {
				t.Errorf("instructor's classes: %q", got)
			}
			if got := testid(td, "home-waiting-count"); got != "1" {
				t.Errorf("instructor's waiting count %q, want 1", got)
			}
			if got := testid(td, "home-due-date"); !strings.Contains(got, "Quiz:") || strings.Contains(got, "Rate limiter") {
				t.Errorf("upcoming due dates: %q, want only the quiz due tomorrow", got)
			}
			for who, b := range map[string]*browser{"learner": w.ada, "instructor": w.teacher} {
				if err := w.a.store.OpenLesson(context.Background(), w.adaID, "cap", w.a.clock()); err != nil {
					t.Fatal(err)
				}
				code, n := queriesFor(t, w.a, b, "/")
				if code != http.StatusOK || n > 4 {
					t.Errorf("%s's home answers %d after %d queries, want 200 after at most 4", who, code, n)
				}
			}
		})
	}
}

// wantHomeAssignments checks each assignment whose text has a key shows
// the mark named ("late", "done" or none).
func wantHomeAssignments(t *testing.T, d *goquery.Document, want map[string]string) {
	t.Helper()
	rows := d.Find(`[data-testid="home-assignment"]`)
	if rows.Length() != len(want) {
		t.Errorf("%d assignments on the home, want %d", rows.Length(), len(want))
	}
	rows.Each(func(_ int, li *goquery.Selection) {
		text := li.Text()
		for key, mark := range want {
			if !strings.Contains(text, key) {
				continue
			}
			late, done := li.Find(`[data-testid="late"]`).Length() == 1, strings.Contains(text, "done")
			if late != (mark == "late") || done != (mark == "done") || !strings.Contains(text, "Spring cohort") || !strings.Contains(text, "due ") {
				t.Errorf("assignment %q: want mark %q, class and due date", strings.Join(strings.Fields(text), " "), mark)
			}
		}
	})
}

// A fourth instance refused from the form lists the three running ones,
// of any lab, each with its link and a Stop button that comes back to
// the lab page.
func TestFourthInstanceListsRunning(t *testing.T) {
	w := newHomeWorld(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()})
	for range 2 {
		wantStatus(t, w.ada.api("POST", "/api/labs/limiter/instances", `{}`), http.StatusCreated)
	}
	resp := w.ada.post("/labs/limiter", url.Values{})
	wantStatus(t, resp, http.StatusTooManyRequests)
	d := doc(t, resp)
	items := d.Find(`[data-testid="form-message"] [data-testid="running-instance"]`)
	if items.Length() != 3 {
		t.Fatalf("the refusal lists %d instances, want 3: %q", items.Length(), testid(d, "form-message"))
	}
	first := items.FilterFunction(func(_ int, li *goquery.Selection) bool {
		href, _ := li.Find("a").Attr("href")
		return href == "/labs/limiter#instance-"+w.instance
	})
	if first.Length() != 1 {
		t.Fatalf("no entry links the first instance: %q", testid(d, "form-message"))
	}
	action, _ := first.Find("form").Attr("action")
	next, _ := first.Find(`input[name="next"]`).Attr("value")
	if first.Find("button").Text() != "Stop" || next != "/labs/limiter" {
		t.Errorf("stop form: %q next %q", first.Find("button").Text(), next)
	}
	resp = w.ada.post(action, url.Values{"next": {next}})
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/labs/limiter" {
		t.Errorf("stop goes to %q", loc)
	}
	if owned, err := w.a.app.labs.Owned(context.Background(), "", w.adaID); err != nil || len(owned) != 2 {
		t.Errorf("%d instances run after the stop (%v), want 2", len(owned), err)
	}
	// A stop's next stays on this site.
	resp = w.ada.post("/labs/limiter/instances/"+idOf(t, w)+"/stop", url.Values{"next": {"//evil.example/"}})
	if loc := resp.Header.Get("Location"); loc != "/" {
		t.Errorf("stop with a foreign next goes to %q", loc)
	}
}

func idOf(t *testing.T, w homeWorld) string {
	t.Helper()
	rs, _ := w.a.app.labs.Owned(context.Background(), "", w.adaID)
	if len(rs) == 0 {
		t.Fatal("nothing runs")
	}
	return rs[0].ID
}
