package grader_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/grader"
	"github.com/sdworkbook/workbook/internal/redis"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
)

// The test binary doubles as a grader worker process when these are set.
const (
	childPG     = "GRADER_TEST_CHILD_POSTGRES"
	childSQLite = "GRADER_TEST_CHILD_SQLITE"
	childRedis  = "GRADER_TEST_CHILD_REDIS"
)

// childMain runs a worker until the process is killed, when the test
// binary was started as one.
func childMain() bool {
	pg, lite := os.Getenv(childPG), os.Getenv(childSQLite)
	if pg == "" && lite == "" {
		return false
	}
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{PostgresURL: pg, SQLitePath: lite})
	if err != nil {
		panic(err)
	}
	rc, err := redis.Open(ctx, os.Getenv(childRedis))
	if err != nil {
		panic(err)
	}
	g, err := grader.New(st, rc.Client, quiet(), grader.Options{Workers: 1, Environment: grader.EnvEmbedded,
		PollInterval: 100 * time.Millisecond}, labs.MustRegistry(testLab{}))
	if err != nil {
		panic(err)
	}
	if err := g.Start(ctx); err != nil {
		panic(err)
	}
	select {} // until killed
}

// A worker killed in the middle of a job (SIGKILL: no shutdown, no
// cleanup) stops renewing its lease on the run; once the lease runs out
// another worker's recovery queues the submission again, that worker
// grades it, and the submission ends with exactly one result. The queue's
// own rescue is set an hour away, so only the lease can do it.
func TestKilledWorkerStillGradesOnce(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			r := MustRig(t, b, grader.Options{Workers: 0}, testLab{})
			sub := r.submit(t, "probe", map[string]any{"quality": "good"})

			marker := filepath.Join(t.TempDir(), "running")
			child := exec.Command(os.Args[0], "-test.run=^$")
			child.Env = append(os.Environ(), blockEnv+"="+marker, childRedis+"="+b.RedisURL)
			if b.DatabaseURL != "" {
				child.Env = append(child.Env, childPG+"="+b.DatabaseURL)
			} else {
				child.Env = append(child.Env, childSQLite+"="+filepath.Join(b.DataDir, "wb.db"))
			}
			child.Stdout, child.Stderr = os.Stderr, os.Stderr
			if err := child.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })

			deadline := time.Now().Add(60 * time.Second)
			for {
				if _, err := os.Stat(marker); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the worker process never started the job")
				}
				time.Sleep(50 * time.Millisecond)
			}
			mid, err := r.st.SubmissionByID(context.Background(), sub.ID)
			if err != nil || mid.Status != store.StatusRunning || mid.Run != 1 {
				t.Fatalf("mid-job: %+v %v", mid, err)
			}
			if err := child.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = child.Wait()

			killed := time.Now()
			MustGrader(t, r.st, r.rc, grader.Options{Workers: 1, Environment: grader.EnvEmbedded,
				JobTimeout: 5 * time.Second, RescueAfter: time.Hour}, testLab{})
			res := r.wait(t, sub.ID, 120*time.Second)
			t.Logf("killed to graded: %.1f s", time.Since(killed).Seconds())
			if res.Status != store.StatusGraded || res.Score == nil || *res.Score != 15 || len(res.Checks) != 3 {
				t.Fatalf("after the kill: %s score %v, %d checks", res.Status, res.Score, len(res.Checks))
			}
			final, _ := r.st.SubmissionByID(context.Background(), sub.ID)
			if final.Run != 2 || final.Interruptions != 1 {
				t.Errorf("grading runs: %d, interruptions %d; want 2 (the killed one and its retry) and 1", final.Run, final.Interruptions)
			}
			if old, _ := r.st.Checks(context.Background(), sub.ID, 1); len(old) != 0 {
				t.Errorf("the killed run's %d check rows were kept beside the result", len(old))
			}
			// The dead worker's job is left to the queue's slow rescue, which
			// will find the submission graded; the new job completes just
			// after the result is recorded.
			var state string
			for range 100 {
				err := r.st.SQL().QueryRow("SELECT state FROM river_job WHERE id = " + strconv.FormatInt(*final.JobID, 10)).Scan(&state)
				if err != nil {
					t.Fatal(err)
				}
				if state == "completed" {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if state != "completed" || *final.JobID == *sub.JobID {
				t.Errorf("the recovery job (%d, first %d) is %s; want a new job, completed", *final.JobID, *sub.JobID, state)
			}
		})
	}
}

// A job the queue gave up on (interrupted on every try) leaves no
// submission waiting forever: the sweep ends it as not gradable.
func TestSubmissionOfAGivenUpJobEnds(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			r := MustRig(t, b, grader.Options{Workers: 0}, testLab{})
			sub := r.submit(t, "probe", map[string]any{})
			if sub.JobID == nil {
				t.Fatal("the submission does not know its job")
			}
			// What the queue does after a job's last try fails.
			if _, err := r.st.SQL().Exec("UPDATE river_job SET state = 'discarded', finalized_at = created_at WHERE id = " +
				strconv.FormatInt(*sub.JobID, 10)); err != nil {
				t.Fatal(err)
			}
			MustGrader(t, r.st, r.rc, grader.Options{Workers: 1, Environment: grader.EnvEmbedded, SweepEvery: 100 * time.Millisecond}, testLab{})
			res := r.wait(t, sub.ID, 30*time.Second)
			if res.Status != store.StatusNotGradable || res.Counts || !strings.Contains(res.Message, "interrupted") {
				t.Fatalf("given-up job: %s %q", res.Status, res.Message)
			}
		})
	}
}
