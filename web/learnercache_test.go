package web

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/sdworkbook/workbook/grader"
	"github.com/sdworkbook/workbook/internal/app"
	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// TestLearnerChangesReachEveryReplica runs two replicas on one database
// and one Redis: a lesson marked completed through the first shows as
// completed on the second, which had the learner's record cached, and a
// quiz attempt made there shows on the first.
func TestLearnerChangesReachEveryReplica(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			if b.RedisURL == "" {
				b.RedisURL = "redis://" + miniredis.RunT(t).Addr() + "/0"
			}
			one, two := MustStart(t, b, nil), MustStart(t, b, nil)
			waitSubscribed(t, one)
			waitSubscribed(t, two)
			alice := MustRegister(t, one, "alice@example.org")
			aliceTwo := onReplica(t, alice, two)
			u, err := one.store.UserByEmail(context.Background(), "alice@example.org")
			if err != nil {
				t.Fatal(err)
			}

			// The second replica reads the record once and keeps it.
			wantLessonCompleted(t, aliceTwo, false)
			if !two.store.LearnerCached(u.ID) {
				t.Fatal("the second replica did not keep the learner's record it read")
			}
			wantLessonCompleted(t, aliceTwo, false)

			// Completed through the first replica: the first forgets at
			// once, the second when the message arrives.
			wantStatus(t, alice.post("/lessons/cap/complete", url.Values{"done": {"true"}}), http.StatusSeeOther)
			if one.store.LearnerCached(u.ID) {
				t.Fatal("the replica that wrote still serves the old record")
			}
			waitFor(t, "the second replica to drop the learner's record", func() bool { return !two.store.LearnerCached(u.ID) })
			wantLessonCompleted(t, aliceTwo, true)
			wantLessonCompleted(t, alice, true)
		})
	}
}

// TestLearnerCacheServesReadsWithoutQueries: a learner's second visit to
// a lesson page reads nothing from the database for their progress.
func TestLearnerCacheServesReadsWithoutQueries(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil)
	waitSubscribed(t, a)
	bob := MustRegister(t, a, "bob@example.org")
	wantLessonCompleted(t, bob, false) // opens it: one write, the record read again after
	wantLessonCompleted(t, bob, false)
	if code, n := queriesFor(t, a, bob, "/lessons/cap"); code != http.StatusOK || n != 0 {
		t.Fatalf("a reload of a lesson page answered %d after %d queries; want 200 after none (session, nav and record cached)", code, n)
	}
	// Each page that reads the whole record, the learner's best scores
	// included: once to fill, then no query.
	for _, path := range []string{"/lessons", "/progress", "/review"} {
		queriesFor(t, a, bob, path)
		if code, n := queriesFor(t, a, bob, path); code != http.StatusOK || n != 0 {
			t.Errorf("%s again answered %d after %d queries; want 200 after none", path, code, n)
		}
	}
}

func wantLessonCompleted(t *testing.T, b *browser, done bool) {
	t.Helper()
	resp := b.get("/lessons/cap")
	wantStatus(t, resp, http.StatusOK)
	body := readBody(t, resp)
	if got := strings.Contains(body, `data-testid="lesson-complete-state"`); got != done {
		t.Fatalf("lesson page shows completed=%v; want %v", got, done)
	}
}

// TestScoresReachEveryReplica: a learner's best scores are kept with
// their record; a submission added and graded through another replica,
// or through a grader process of its own (which serves no pages and only
// announces), reaches a replica that had the scores cached.
func TestScoresReachEveryReplica(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			if b.RedisURL == "" {
				b.RedisURL = "redis://" + miniredis.RunT(t).Addr() + "/0"
			}
			one, two := MustStart(t, b, nil), MustStart(t, b, nil)
			waitSubscribed(t, one)
			waitSubscribed(t, two)
			MustRegister(t, one, "carol@example.org")
			ctx := context.Background()
			u, err := one.store.UserByEmail(ctx, "carol@example.org")
			if err != nil {
				t.Fatal(err)
			}
			gr := mustGraderProcess(t, b)

			for i, writer := range []*store.Store{one.store, gr} {
				wantBest(t, two.store, u.ID, i, i)
				if !two.store.LearnerCached(u.ID) {
					t.Fatal("the replica did not keep the learner's scores it read")
				}
				sub := &store.Submission{ID: store.NewSubmissionID(), UserID: u.ID, Lab: "limiter", Exercise: "ex",
					Status: store.StatusQueued, MaxScore: 10, CreatedAt: time.Now()}
				if err := writer.CreateSubmission(ctx, sub, func(context.Context, *sql.Tx) (int64, error) { return 0, nil }); err != nil {
					t.Fatal(err)
				}
				waitFor(t, "the replica to drop the scores after a submission", func() bool { return !two.store.LearnerCached(u.ID) })
				wantBest(t, two.store, u.ID, i+1, i) // the new attempt counts at once
				run, ok, err := writer.StartRun(ctx, sub.ID, "test", time.Now(), time.Minute)
				if err != nil || !ok {
					t.Fatalf("start run: %v %v", ok, err)
				}
				score := i + 1
				if ok, err := writer.FinishRun(ctx, sub.ID, run.Run, store.Outcome{Status: store.StatusGraded, Score: &score,
					MaxScore: 10, At: time.Now()}); err != nil || !ok {
					t.Fatalf("finish run: %v %v", ok, err)
				}
				waitFor(t, "the replica to drop the scores after a grade", func() bool { return !two.store.LearnerCached(u.ID) })
				wantBest(t, two.store, u.ID, i+1, i+1)
			}
		})
	}
}

// wantBest checks the learner's attempts and best score on exercise "ex".
func wantBest(t *testing.T, st *store.Store, userID int64, attempts, score int) {
	t.Helper()
	rows, err := st.BestScores(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	got := store.BestScore{}
	for _, r := range rows {
		if r.Exercise == "ex" {
			got = r
		}
	}
	if got.Attempts != attempts || got.Score != score {
		t.Fatalf("best scores %+v; want %d attempts, best %d", rows, attempts, score)
	}
}

// mustGraderProcess opens what `server grader` opens (no site, no
// workers here), on backend b, and returns its store.
func mustGraderProcess(t *testing.T, b testenv.Backend) *store.Store {
	t.Helper()
	env := map[string]string{"WORKBOOK_DATA_DIR": b.DataDir, "DATABASE_URL": b.DatabaseURL, "REDIS_URL": b.RedisURL}
	cfg, err := config.Load(config.MapEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	g, err := app.Open(context.Background(), cfg, app.Options{Logger: slog.New(slog.DiscardHandler),
		Grader: func(o *grader.Options) { *o = grader.Options{} }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g.Store
}
