package store_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/migrations"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// MustOpen opens and migrates a store on backend b.
func MustOpen(tb testing.TB, b testenv.Backend) *store.Store {
	tb.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{PostgresURL: b.DatabaseURL, SQLitePath: filepath.Join(b.DataDir, "test.db")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return st
}

func TestMigrationsMatchModels(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			st := MustOpen(t, b)
			if err := st.CheckSchema(); err != nil {
				t.Fatal(err)
			}
			// Migrating again is a no-op.
			n, err := st.Migrate(context.Background())
			if err != nil || n != 0 {
				t.Fatalf("second migrate ran %d migrations, err %v", n, err)
			}
			v, err := migrations.Version(context.Background(), st.SQL(), st.Dialect())
			if err != nil || v < 1 {
				t.Fatalf("version %d, err %v", v, err)
			}
		})
	}
}

func TestAccountsAndSessions(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			st := MustOpen(t, b)

			first, err := st.CreateUser(ctx, "first@example.org", "hash1", "")
			if err != nil {
				t.Fatal(err)
			}
			if first.Role != store.RoleLearner {
				t.Errorf("first account role = %s, want learner: being first makes nobody an admin", first.Role)
			}
			second, err := st.CreateUser(ctx, "second@example.org", "hash2", "")
			if err != nil {
				t.Fatal(err)
			}
			if second.Role != store.RoleLearner {
				t.Errorf("second account role = %s, want learner", second.Role)
			}
			teacher, err := st.CreateUser(ctx, "teacher@example.org", "hash3", store.RoleInstructor)
			if err != nil || teacher.Role != store.RoleInstructor {
				t.Fatalf("explicit role: %v %v", teacher.Role, err)
			}

			_, err = st.CreateUser(ctx, "second@example.org", "other", "")
			if !apperr.Is(err, apperr.Conflict) {
				t.Errorf("duplicate email: got %v, want a conflict", err)
			}
			_, err = st.UserByEmail(ctx, "nobody@example.org")
			if !apperr.Is(err, apperr.NotFound) {
				t.Errorf("missing account: got %v, want not found", err)
			}
			if err := st.SetRole(ctx, 9999, store.RoleAdmin); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("SetRole on a missing account: %v", err)
			}
			if err := st.SetRole(ctx, second.ID, store.RoleInstructor); err != nil {
				t.Fatal(err)
			}

			checkSessions(t, st, first, second)
		})
	}
}

// checkSessions: a session reads back with its user and creation time;
// expired and deleted sessions are gone.
func checkSessions(t *testing.T, st *store.Store, first, second store.User) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	if err := st.CreateSession(ctx, store.Session{ID: "sess-a", UserID: second.ID, CreatedAt: now.Add(-2 * time.Hour)}, 0); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSession(ctx, store.Session{ID: "sess-a", UserID: second.ID, CreatedAt: now}, 0); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("duplicate session id: %v", err)
	}
	sess, u, err := st.SessionWithUser(ctx, "sess-a")
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "second@example.org" || u.Role != store.RoleInstructor || sess.UserID != second.ID {
		t.Errorf("session user = %+v", u)
	}
	if !sess.CreatedAt.Equal(now.Add(-2 * time.Hour)) {
		t.Errorf("created_at round trip: %v, want %v", sess.CreatedAt, now.Add(-2*time.Hour))
	}
	if err := st.TouchSession(ctx, "sess-a", now); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSession(ctx, store.Session{ID: "sess-old", UserID: first.ID, CreatedAt: now.Add(-48 * time.Hour)}, 0); err != nil {
		t.Fatal(err)
	}
	n, err := st.DeleteExpiredSessions(ctx, now.Add(-time.Hour), now.Add(-30*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("expired sessions removed = %d (%v), want 1", n, err)
	}
	if _, _, err := st.SessionWithUser(ctx, "sess-old"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("expired session still there: %v", err)
	}
	if err := st.DeleteSession(ctx, "sess-a"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.SessionWithUser(ctx, "sess-a"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("deleted session still there: %v", err)
	}
}

// Two replicas starting together both migrate; the advisory lock makes one
// wait, and both end on the same schema.
func TestConcurrentMigrationsOnPostgres(t *testing.T) {
	url := testenv.PostgresURL(t)
	ctx := context.Background()
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			st, err := store.Open(ctx, store.Options{PostgresURL: url})
			if err != nil {
				errs <- err
				return
			}
			defer st.Close()
			_, err = st.Migrate(ctx)
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	st := MustOpen(t, testenv.Backend{DatabaseURL: url})
	if err := st.CheckSchema(); err != nil {
		t.Fatal(err)
	}
}

// Many submissions at once on SQLite: each transaction reads the next
// number and then writes, which a deferred transaction cannot do while
// another connection writes (SQLITE_BUSY at once). Every one must land,
// numbered without gaps or repeats.
func TestConcurrentSubmissionsAreNumbered(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			st := MustOpen(t, b)
			ctx := context.Background()
			u, err := st.CreateUser(ctx, "many@example.com", "x", store.RoleLearner)
			if err != nil {
				t.Fatal(err)
			}
			const n = 40
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sub := store.Submission{ID: store.NewSubmissionID(), UserID: u.ID, Lab: "limiter", Exercise: "ex", Design: "{}",
						Status: store.StatusQueued, MaxScore: 10, CreatedAt: time.Now()}
					errs <- st.CreateSubmission(ctx, &sub, func(ctx context.Context, tx *sql.Tx) (int64, error) {
						var one int64
						return one, tx.QueryRowContext(ctx, "SELECT 1").Scan(&one)
					})
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			subs, err := st.Submissions(ctx, u.ID, "ex")
			if err != nil || len(subs) != n {
				t.Fatalf("%d submissions stored (%v)", len(subs), err)
			}
			seen := map[int]bool{}
			for _, s := range subs {
				if seen[s.Number] || s.Number < 1 || s.Number > n {
					t.Fatalf("number %d repeated or out of range", s.Number)
				}
				seen[s.Number] = true
			}
		})
	}
}

// One run at a time per submission: a live lease keeps a second worker
// out, however many try at once; once it runs out the run is handed back
// to the queue (or given up after enough interruptions), and the first
// worker can no longer renew or finish it.
func TestGradingLeases(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			w := &leaseRun{st: MustOpen(t, b), jobs: 100}
			w.arrange(t)
			w.startOnce(t)
			w.recoverAfterLease(t)
			w.releaseAndGiveUp(t)
		})
	}
}

// leaseRun is TestGradingLeases's world: one queued submission, a fake
// queue that counts jobs, and the clock of the runs.
type leaseRun struct {
	st   *store.Store
	sub  store.Submission
	jobs int64     // the last job id the fake queue gave
	t0   time.Time // when the runs start
	a    string    // the worker that won the first run
}

// startOnce: eight workers start the same submission at once: one wins,
// and only it renews the lease.
func (w *leaseRun) startOnce(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	// Eight workers start the same submission at once: one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners []string
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := "w" + string(rune('a'+i))
			_, ok, err := w.st.StartRun(ctx, w.sub.ID, owner, w.t0, lease)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				winners = append(winners, owner)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d workers started the run: %v", len(winners), winners)
	}
	w.a = winners[0]
	if ok, err := w.st.RenewLease(ctx, w.sub.ID, 1, w.a, w.t0.Add(lease)); err != nil || !ok {
		t.Fatalf("the owner could not renew: %v %v", ok, err)
	}
	if ok, _ := w.st.RenewLease(ctx, w.sub.ID, 1, "someone-else", w.t0.Add(lease)); ok {
		t.Fatal("a stranger renewed the lease")
	}
}

// recoverAfterLease: nothing is recovered while the lease lives; after it
// the run goes back to the queue with a new job, and the lost worker can
// neither renew nor finish.
func (w *leaseRun) recoverAfterLease(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	// Nothing is recovered while the lease lives.
	got, err := w.st.RecoverRuns(ctx, w.t0.Add(lease-time.Second), 3, "given up", w.requeue)
	if err != nil || len(got) != 0 {
		t.Fatalf("recovered a live run: %v %v", got, err)
	}
	// The owner dies; after the lease the run goes back to the queue with a new job.
	got, err = w.st.RecoverRuns(ctx, w.t0.Add(lease+time.Second), 3, "given up", w.requeue)
	if err != nil || len(got) != 1 || got[0].ID != w.sub.ID || got[0].GivenUp {
		t.Fatalf("recover: %+v %v", got, err)
	}
	back, _ := w.st.SubmissionByID(ctx, w.sub.ID)
	if back.Status != store.StatusQueued || back.Interruptions != 1 || back.LeaseOwner != "" || back.JobID == nil || *back.JobID != w.jobs {
		t.Fatalf("after recovery: %+v", back)
	}
	// Another worker takes it; the old owner can neither renew nor finish.
	if _, ok, err := w.st.StartRun(ctx, w.sub.ID, "wb2", w.t0.Add(lease+2*time.Second), lease); err != nil || !ok {
		t.Fatalf("the second worker could not start: %v %v", ok, err)
	}
	if ok, _ := w.st.RenewLease(ctx, w.sub.ID, 1, w.a, w.t0.Add(2*lease)); ok {
		t.Fatal("the lost worker renewed a run that is no longer its own")
	}
	score := 7
	if ok, _ := w.st.FinishRun(ctx, w.sub.ID, 1, store.Outcome{Status: store.StatusGraded, Score: &score, MaxScore: 10, At: time.Now()}); ok {
		t.Fatal("the lost worker recorded a result")
	}
}

// releaseAndGiveUp: a worker stopping gives the run back at once;
// interrupted again and again, the third time it is given up.
func (w *leaseRun) releaseAndGiveUp(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	// A worker stopping gives the run back at once.
	if err := w.st.ReleaseRun(ctx, w.sub.ID, 2, "wb2"); err != nil {
		t.Fatal(err)
	}
	if back, _ := w.st.SubmissionByID(ctx, w.sub.ID); back.Status != store.StatusQueued || back.LeaseUntil != nil {
		t.Fatalf("after release: %+v", back)
	}
	// Interrupted again and again: the third time it is given up.
	now := w.t0.Add(lease + 3*time.Second)
	for i := 2; i <= 3; i++ {
		if _, ok, err := w.st.StartRun(ctx, w.sub.ID, "wc", now, lease); err != nil || !ok {
			t.Fatalf("start %d: %v %v", i, ok, err)
		}
		now = now.Add(lease + time.Second)
		got, err := w.st.RecoverRuns(ctx, now, 3, "given up", w.requeue)
		if err != nil || len(got) != 1 || got[0].GivenUp != (i == 3) {
			t.Fatalf("interruption %d: %+v %v", i, got, err)
		}
	}
	final, _ := w.st.SubmissionByID(ctx, w.sub.ID)
	if final.Status != store.StatusNotGradable || final.Message != "given up" || final.Interruptions != 3 {
		t.Fatalf("given up: %+v", final)
	}
}

// A data directory whose path has "#", "?" or "%" in it holds the
// database file itself, not a file named after the path cut at the "#".
func TestSQLitePathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a#00?b%41")
	st := MustOpen(t, testenv.Backend{DataDir: dir})
	if err := st.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "test.db")); err != nil {
		t.Errorf("the database is not in its directory: %v", err)
	}
}

// lease is how long a run's worker is presumed alive.
const lease = 10 * time.Second

// arrange stores a queued submission through the fake queue.
func (w *leaseRun) arrange(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	u, err := w.st.CreateUser(ctx, "lease@example.com", "x", store.RoleLearner)
	if err != nil {
		t.Fatal(err)
	}
	w.sub = store.Submission{ID: store.NewSubmissionID(), UserID: u.ID, Lab: "limiter", Exercise: "ex", Design: "{}",
		Status: store.StatusQueued, MaxScore: 10, CreatedAt: time.Now()}
	if err := w.st.CreateSubmission(ctx, &w.sub, w.enqueue); err != nil {
		t.Fatal(err)
	}
	w.t0 = time.Now()
}

// enqueue is the fake queue: a new job id, in the transaction.
func (w *leaseRun) enqueue(ctx context.Context, tx *sql.Tx) (int64, error) {
	var one int64
	w.jobs++
	return w.jobs, tx.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// requeue puts a recovered run back on the fake queue.
func (w *leaseRun) requeue(ctx context.Context, tx *sql.Tx, _ string) (int64, error) {
	return w.enqueue(ctx, tx)
}
