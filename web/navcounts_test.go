package web

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// queriesFor sends GET path as b through the application, in process, and
// returns its status and the SQL statements the store sent for it.
func queriesFor(t *testing.T, a *testApp, b *browser, path string) (int, int64) {
	t.Helper()
	ctx, n := store.CountQueries(context.Background())
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, a.URL+path, nil)
	req.Header.Set("Sec-Fetch-Site", "none")
	u, _ := url.Parse(a.URL)
	for _, ck := range b.c.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	a.app.ServeHTTP(rec, req)
	return rec.Code, n.Load()
}

// A signed-in page pays for its nav's badges (cards due, notices, and an
// instructor's submissions waiting for a look) with one query: a page
// whose handler reads nothing costs that query alone once the replica has
// the session in memory (the first request reads the session, then its
// user) and something was written since the counts were last read
// (nothing at all otherwise), for a learner and an instructor alike, and
// the badges say what the pages behind them list.
func TestNavCountsInOneQuery(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, nil)
			waitSubscribed(t, a) // sessions are cached from here on
			ctx := context.Background()
			learner := MustRegister(t, a, "ada@example.org")
			teacher := MustAccount(t, a, "teach@example.org", store.RoleInstructor)
			ada, _ := a.store.UserByEmail(ctx, "ada@example.org")
			t1, _ := a.store.UserByEmail(ctx, "teach@example.org")
			wantStatus(t, learner.get("/lessons/cap"), http.StatusOK) // its cards join ada's deck
			cl, _ := a.store.CreateClass(ctx, t1.ID, "Spring", a.clock())
			if err := a.store.JoinClass(ctx, cl.ID, ada.ID, a.clock()); err != nil {
				t.Fatal(err)
			}
			as := store.Assignment{ClassID: cl.ID, Kind: store.AssignExercise, Ref: limiterExercise, CreatedAt: a.clock()}
			if err := a.store.AddAssignment(ctx, &as); err != nil {
				t.Fatal(err)
			}
			score := 60
			sub := store.Submission{ID: store.NewSubmissionID(), UserID: ada.ID, Lab: "limiter", Exercise: limiterExercise,
				Design: "{}", Status: store.StatusGraded, Score: &score, MaxScore: 100, CreatedAt: a.clock()}
			if err := a.store.CreateSubmission(ctx, &sub, func(context.Context, *sql.Tx) (int64, error) { return 0, nil }); err != nil {
				t.Fatal(err)
			}

			for _, who := range []struct {
				name string
				b    *browser
			}{{"anonymous", newBrowser(t, a)}, {"learner", learner}, {"instructor", teacher}} {
				want := int64(1)
				if who.name == "anonymous" {
					want = 0
				}
				wantStatus(t, who.b.get("/search?q=cap"), http.StatusOK) // the session is read once
				// Any write through the store makes the cached counts stale.
				if err := a.store.OpenLesson(ctx, ada.ID, "cap", a.clock()); err != nil {
					t.Fatal(err)
				}
				if code, n := queriesFor(t, a, who.b, "/search?q=cap"); code != http.StatusOK || n != want {
					t.Errorf("%s: /search answers %d after %d queries, want 200 after %d", who.name, code, n, want)
				}
				// Nothing written since: the counts are reused.
				if code, n := queriesFor(t, a, who.b, "/search?q=cap"); code != http.StatusOK || n != 0 {
					t.Errorf("%s: /search again answers %d after %d queries, want 200 after 0", who.name, code, n)
				}
			}
			q, err := a.app.progress.ReviewQueue(ctx, ada.ID)
			if err != nil || q.Total() == 0 {
				t.Fatalf("ada's queue: %+v %v", q, err)
			}
			if got := testid(doc(t, learner.get("/search?q=cap")), "due-count"); got != strconv.Itoa(q.Total()) {
				t.Errorf("the learner's nav shows %q cards due, the review queue has %d", got, q.Total())
			}
			if got := testid(doc(t, teacher.get("/search?q=cap")), "notice-count"); got != "1" {
				t.Errorf("the instructor's nav shows %q notices, want the 1 submission waiting", got)
			}
		})
	}
}
