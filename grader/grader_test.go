package grader_test

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/grader"
	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/containers"
	"github.com/sdworkbook/workbook/internal/redis"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
)

func TestMain(m *testing.M) {
	if childMain() || spinChild() {
		return
	}
	testenv.Main(m)
}

// rig is a grader over one backend's database and Redis, with a learner.
type rig struct {
	st   *store.Store
	rc   *redis.Conn
	g    *grader.Grader
	user int64
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// MustRig opens b, migrates it, creates a learner and starts a grader with
// opts over the labs given.
func MustRig(tb testing.TB, b testenv.Backend, opts grader.Options, all ...labs.Lab) *rig {
	tb.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{PostgresURL: b.DatabaseURL, SQLitePath: filepath.Join(b.DataDir, "wb.db")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	rc, err := redis.Open(ctx, b.RedisURL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rc.Close() })
	u, err := st.CreateUser(ctx, "learner@example.com", "x", store.RoleLearner)
	if err != nil {
		tb.Fatal(err)
	}
	r := &rig{st: st, rc: rc, user: u.ID}
	r.g = MustGrader(tb, st, rc, opts, all...)
	return r
}

// MustGrader starts a grader and stops it when the test ends.
func MustGrader(tb testing.TB, st *store.Store, rc *redis.Conn, opts grader.Options, all ...labs.Lab) *grader.Grader {
	tb.Helper()
	if opts.PollInterval == 0 {
		opts.PollInterval = 100 * time.Millisecond
	}
	if opts.Environment != grader.EnvEmbedded {
		// The images the test run names, as the configuration would.
		opts.PostgresImage = cmp.Or(opts.PostgresImage, testenv.Image("WORKBOOK_POSTGRES_IMAGE", containers.DefaultPostgresImage))
		opts.RedisImage = cmp.Or(opts.RedisImage, testenv.Image("WORKBOOK_REDIS_IMAGE", containers.DefaultRedisImage))
	}
	g, err := grader.New(st, rc.Client, quiet(), opts, labs.MustRegistry(all...))
	if err != nil {
		tb.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = g.Stop(ctx)
	})
	return g
}

func (r *rig) submit(tb testing.TB, labID string, design map[string]any) store.Submission {
	tb.Helper()
	raw, _ := json.Marshal(design)
	sub, err := r.g.Submit(context.Background(), r.user, labID, grader.Request{Design: raw, Notes: "because"})
	if err != nil {
		tb.Fatal(err)
	}
	return sub
}

// wait polls until the submission is terminal.
func (r *rig) wait(tb testing.TB, id string, within time.Duration) grader.Result {
	tb.Helper()
	deadline := time.Now().Add(within)
	for {
		res, err := r.g.Submission(context.Background(), id, r.user)
		if err != nil {
			tb.Fatal(err)
		}
		if res.Terminal() {
			return res
		}
		if time.Now().After(deadline) {
			tb.Fatalf("submission %s still %s after %s", id, res.Status, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSubmitGradeAndResults(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			r := MustRig(t, b, grader.Options{Workers: 2, Environment: grader.EnvEmbedded}, testLab{needsDB: true})
			ctx := context.Background()

			checkBadDesignGraded(t, r)

			good := r.submit(t, "probe", map[string]any{"quality": "good"})
			if good.Number != 2 {
				t.Errorf("second submission numbered %d", good.Number)
			}
			res := r.wait(t, good.ID, 30*time.Second)
			if res.Score == nil || *res.Score != 15 || res.Checks[1].Chart == nil || res.Checks[1].Chart.Limit == nil {
				t.Fatalf("good design: %+v", res)
			}
			best, err := r.g.BestScores(ctx, r.user)
			if err != nil || len(best) != 1 || best[0].Score != 15 || best[0].Attempts != 2 || best[0].Graded != 2 {
				t.Fatalf("best scores: %+v %v", best, err)
			}
			ev, err := r.g.LabEvidence(ctx, r.user)
			if err != nil || !ev["probe"] {
				t.Errorf("lab evidence %v %v", ev, err)
			}

			// Someone else's submission does not exist for them.
			other, err := r.st.CreateUser(ctx, "other@example.com", "x", store.RoleLearner)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.g.Submission(ctx, good.ID, other.ID); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("another learner read a submission: %v", err)
			}
		})
	}
}

// checkBadDesignGraded: the first submission is queued with its number and
// maximum, then graded in the configured environment with each check's
// result, its design and notes kept.
func checkBadDesignGraded(t *testing.T, r *rig) {
	t.Helper()
	// A change is heard as it happens.
	bad := r.submit(t, "probe", map[string]any{"quality": "bad"})
	if bad.Number != 1 || bad.Status != store.StatusQueued || bad.MaxScore != 15 {
		t.Fatalf("first submission: %+v", bad)
	}
	res := r.wait(t, bad.ID, 30*time.Second)
	if res.Status != store.StatusGraded || res.Score == nil || *res.Score != 5 || res.MaxScore != 15 {
		t.Fatalf("bad design: status %s score %v/%d", res.Status, res.Score, res.MaxScore)
	}
	if res.Environment != "Graded on the built-in Redis and SQLite: this server is set to grade without containers." {
		t.Errorf("environment %q", res.Environment)
	}
	if len(res.Checks) != 3 || res.Checks[1].Passed || !strings.Contains(res.Checks[1].Message, "quality is bad") ||
		res.Checks[1].MaxPoints != 10 || res.Checks[2].Points != 0 || !res.Checks[2].Passed {
		t.Fatalf("checks: %+v", res.Checks)
	}
	if res.Design["quality"] != "bad" || res.Notes != "because" {
		t.Errorf("design/notes not kept: %v %q", res.Design, res.Notes)
	}
}

func TestInvalidSubmissionsStoreNothing(t *testing.T) {
	b := testenv.Backends(t)[0]
	r := MustRig(t, b, grader.Options{Workers: 0}, testLab{})
	ctx := context.Background()
	cases := []struct {
		name, lab string
		req       grader.Request
		field     string
		code      apperr.Code
	}{
		{"unknown field", "probe", grader.Request{Design: json.RawMessage(`{"qualty":"good"}`)}, "qualty", apperr.Invalid},
		{"bad enum", "probe", grader.Request{Design: json.RawMessage(`{"quality":"great"}`)}, "quality", apperr.Invalid},
		{"not an object", "probe", grader.Request{Design: json.RawMessage(`[1]`)}, "design", apperr.Invalid},
		{"long notes", "probe", grader.Request{Notes: strings.Repeat("x", grader.MaxNotes+1)}, "notes", apperr.Invalid},
		{"unknown exercise", "probe", grader.Request{Exercise: "nope"}, "exercise", apperr.Invalid},
		{"unknown lab", "nolab", grader.Request{}, "", apperr.NotFound},
	}
	for _, c := range cases {
		_, err := r.g.Submit(ctx, r.user, c.lab, c.req)
		if apperr.CodeOf(err) != c.code {
			t.Errorf("%s: got %v, want code %s", c.name, err, c.code)
			continue
		}
		if c.field != "" {
			e, _ := apperr.As(err)
			if e.Fields[c.field] == "" {
				t.Errorf("%s: no message for field %q: %v", c.name, c.field, e.Fields)
			}
		}
	}
	subs, err := r.st.Submissions(ctx, r.user, "")
	if err != nil || len(subs) != 0 {
		t.Fatalf("invalid submissions stored: %d %v", len(subs), err)
	}
	// Nobody grades here (no workers), so they pile up to the limit.
	for i := range grader.MaxPending + 1 {
		_, err := r.g.Submit(ctx, r.user, "probe", grader.Request{})
		if i < grader.MaxPending && err != nil {
			t.Fatal(err)
		}
		if i == grader.MaxPending && !apperr.Is(err, apperr.TooMany) {
			t.Fatalf("submission beyond the pending limit: %v", err)
		}
	}
}

func TestTimeoutIsTerminalAndCounts(t *testing.T) {
	b := testenv.Backends(t)[0]
	r := MustRig(t, b, grader.Options{Workers: 1, Environment: grader.EnvEmbedded, JobTimeout: 1500 * time.Millisecond}, testLab{})
	sub := r.submit(t, "probe", map[string]any{"sleep_ms": 20000})
	res := r.wait(t, sub.ID, 30*time.Second)
	if res.Status != store.StatusTimedOut || !res.Counts || !strings.Contains(res.Message, "1 of 3 checks") {
		t.Fatalf("slow design: %s %q counts=%v", res.Status, res.Message, res.Counts)
	}
	if len(res.Checks) != 1 {
		t.Errorf("checks done before the limit: %d", len(res.Checks))
	}
}

func TestPanicAndBrokenEnvironmentAreNotGradable(t *testing.T) {
	b := testenv.Backends(t)[0]
	r := MustRig(t, b, grader.Options{Workers: 1, Environment: grader.EnvEmbedded}, testLab{})
	sub := r.submit(t, "probe", map[string]any{"panic": true})
	res := r.wait(t, sub.ID, 60*time.Second)
	if res.Status != store.StatusNotGradable || res.Counts || !strings.Contains(res.Message, "does not count") {
		t.Fatalf("panicking check: %s %q", res.Status, res.Message)
	}
	best, _ := r.g.BestScores(context.Background(), r.user)
	if len(best) != 0 {
		t.Errorf("a not-gradable submission counted: %+v", best)
	}

	// Containers from an image that does not exist: every try fails to
	// start, and the last one gives up with the reason.
	r2 := MustRig(t, testenv.Backends(t)[0], grader.Options{Workers: 1, Environment: grader.EnvContainers,
		RedisImage: "workbook-local/no-such-image:0"}, testLab{})
	sub = r2.submit(t, "probe", map[string]any{})
	res = r2.wait(t, sub.ID, 90*time.Second)
	if res.Status != store.StatusNotGradable || !strings.Contains(res.Message, "environment failed") {
		t.Fatalf("missing image: %s %q", res.Status, res.Message)
	}
}

// A regraded submission is graded again, once more, and keeps its number.
func TestRegrade(t *testing.T) {
	b := testenv.Backends(t)[0]
	r := MustRig(t, b, grader.Options{Workers: 1, Environment: grader.EnvEmbedded}, testLab{})
	sub := r.submit(t, "probe", map[string]any{"quality": "bad"})
	first := r.wait(t, sub.ID, 30*time.Second)
	if ok, err := r.g.Regrade(context.Background(), sub.ID); !ok || err != nil {
		t.Fatalf("regrade: %v %v", ok, err)
	}
	again := r.wait(t, sub.ID, 30*time.Second)
	stored, _ := r.st.SubmissionByID(context.Background(), sub.ID)
	if again.Status != store.StatusGraded || *again.Score != *first.Score || again.Number != 1 || stored.Run != 2 || len(again.Checks) != 3 {
		t.Fatalf("regraded: %s %v #%d run %d, %d checks", again.Status, again.Score, again.Number, stored.Run, len(again.Checks))
	}
	// Not while it is on its way.
	slow := r.submit(t, "probe", map[string]any{"sleep_ms": 3000})
	if ok, _ := r.g.Regrade(context.Background(), slow.ID); ok {
		t.Error("a queued submission was requeued")
	}
}
