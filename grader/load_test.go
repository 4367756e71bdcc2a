package grader_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/grader"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/breaker"
	"github.com/sdworkbook/workbook/labs/cache"
	"github.com/sdworkbook/workbook/labs/limiter"
	"github.com/sdworkbook/workbook/labs/shop"
	"github.com/sdworkbook/workbook/labs/shortener"
)

// measuring reports whether the slow measurements were asked for
// (scripts/measure-grader.sh sets it); they print numbers, and still fail
// on a wrong result.
func measuring() bool { return os.Getenv("WORKBOOK_MEASURE_GRADER") != "" }

// goodDesigns meet each lab's first exercise.
var goodDesigns = []struct {
	lab    labs.Lab
	design map[string]any
}{
	{limiter.Lab, map[string]any{"algorithm": "sliding_log", "limit": 20, "window_ms": 2000, "storage": "redis"}},
	{breaker.Lab, map[string]any{"failure_threshold": 5, "open_timeout_ms": 1000, "half_open_probes": 1, "call_timeout_ms": 200,
		"retries": 1, "backoff_base_ms": 50, "retry_budget": 0.1}},
	{cache.Lab, map[string]any{"strategy": "cache_aside", "invalidation": "delete_on_write", "fill_guard": "version", "stampede": "lock"}},
	{shortener.Lab, map[string]any{"codegen": "sequence_base62", "cache": "redis_and_local"}},
	{shop.Lab, map[string]any{"saga": "orchestration", "reservation": "conditional_update", "idempotency_keys": true, "outbox": true}},
}

// Twenty submissions from seven learners enqueued at once all end graded,
// each exactly once. Measuring, they are real limiter designs graded in the
// environment WORKBOOK_MEASURE_ENV names, and the time is printed.
func TestTwentySubmissionsAtOnce(t *testing.T) {
	b := testenv.Backend{Name: "embedded", DataDir: t.TempDir()}
	opts := grader.Options{Workers: 2, Environment: grader.EnvEmbedded}
	var lab labs.Lab = testLab{}
	design := map[string]any{"quality": "good"}
	if measuring() {
		lab, design = goodDesigns[0].lab, goodDesigns[0].design
		if e := os.Getenv("WORKBOOK_MEASURE_ENV"); e != "" {
			opts.Environment = e
		}
		opts.JobTimeout = 10 * time.Minute // queueing is what is measured
	}
	r := MustRig(t, b, opts, lab)
	ctx := context.Background()
	var ids []string
	start := time.Now()
	for i := range 20 {
		user := r.user
		if i >= 3 { // the pending limit is per learner
			u, err := r.st.CreateUser(ctx, fmt.Sprintf("l%d@example.com", i), "x", store.RoleLearner)
			if err != nil {
				t.Fatal(err)
			}
			user = u.ID
		}
		sub := submitAs(t, r, user, lab.Info().ID, design)
		ids = append(ids, sub.ID)
	}
	enqueued := time.Since(start)
	for _, id := range ids {
		sub := waitAny(t, r, id, 30*time.Minute)
		if sub.Status != store.StatusGraded || sub.Score == nil || *sub.Score != sub.MaxScore || sub.Run != 1 {
			t.Errorf("submission %s: %s, score %v/%d, %d runs", id, sub.Status, sub.Score, sub.MaxScore, sub.Run)
		}
		if checks, _ := r.st.Checks(ctx, id, sub.Run); len(checks) == 0 {
			t.Errorf("submission %s has no checks", id)
		}
	}
	took := time.Since(start)
	// Each job is marked completed just after its result is recorded.
	var n int
	for range 200 {
		if err := r.st.SQL().QueryRow("SELECT COUNT(*) FROM river_job WHERE state = 'completed'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 20 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n != 20 {
		t.Errorf("completed jobs: %d, want 20", n)
	}
	t.Logf("20 submissions (%s, %s, %d workers): enqueued in %s, all terminal after %s",
		lab.Info().ID, opts.Environment, opts.Workers, enqueued.Round(time.Millisecond), took.Round(time.Millisecond))
}

// TestMeasureSuites times one grading of a good design of each lab's first
// exercise in each environment. Only when measuring.
func TestMeasureSuites(t *testing.T) {
	if !measuring() {
		t.Skip("set WORKBOOK_MEASURE_GRADER=1 (scripts/measure-grader.sh)")
	}
	for _, env := range []string{grader.EnvEmbedded, grader.EnvContainers} {
		var all []labs.Lab
		for _, g := range goodDesigns {
			all = append(all, g.lab)
		}
		r := MustRig(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, grader.Options{Workers: 1, Environment: env}, all...)
		for _, g := range goodDesigns {
			start := time.Now()
			sub := r.submit(t, g.lab.Info().ID, g.design)
			res := r.wait(t, sub.ID, 5*time.Minute)
			var checks float64
			for _, c := range res.Checks {
				checks += c.DurationMS
			}
			t.Logf("%-8s %-11s %s score %v/%d: %s until graded, checks %.1f s, %s", g.lab.Info().ID, env, res.Status, *res.Score, res.MaxScore,
				time.Since(start).Round(100*time.Millisecond), checks/1000, res.Environment)
			if res.Status != store.StatusGraded || *res.Score != res.MaxScore {
				for _, c := range res.Checks {
					if !c.Passed {
						t.Errorf("%s in %s: %s failed: %s", g.lab.Info().ID, env, c.Name, c.Message)
					}
				}
			}
		}
	}
}

func submitAs(t *testing.T, r *rig, user int64, lab string, design map[string]any) store.Submission {
	t.Helper()
	saved := r.user
	r.user = user
	defer func() { r.user = saved }()
	return r.submit(t, lab, design)
}

// waitAny polls the store until a submission is terminal, whoever owns it.
func waitAny(t *testing.T, r *rig, id string, within time.Duration) store.Submission {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		sub, err := r.st.SubmissionByID(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if sub.Terminal() {
			return sub
		}
		if time.Now().After(deadline) {
			t.Fatalf("submission %s still %s", id, sub.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
