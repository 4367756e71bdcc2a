//go:build !race

// The stability test runs without the race detector, as a step of its own
// in scripts/test.sh: it measures verdicts under load, and the detector
// would only multiply the load it already makes.

package grader_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/redis"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/all"
)

// gradedLabs are the labs whose exercises the stability test grades: all
// of the build's that have exercises.
var gradedLabs = all.Registry().Graded()

// loadMachine keeps every core busy with a busy process per core (other
// work on the grading machine, outside the Go scheduler) until the
// returned stop is called.
func loadMachine(tb testing.TB) (stop func()) {
	tb.Helper()
	var procs []*exec.Cmd
	for range runtime.NumCPU() {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), spinEnv+"="+strconv.Itoa(os.Getpid()))
		if err := cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		procs = append(procs, cmd)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			for _, p := range procs {
				_ = p.Process.Kill()
				_ = p.Wait()
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}

// verdict is what one grading of a reference design gave.
type verdict struct {
	score, max int
	failed     []string
	err        string
}

func (v verdict) String() string {
	if v.err != "" {
		return "error: " + v.err
	}
	f := "none"
	if len(v.failed) > 0 {
		f = strings.Join(v.failed, ", ")
	}
	return fmt.Sprintf("%d/%d failed: %s", v.score, v.max, f)
}

// referenceDesign is the lab's defaults with the reference's changes, in
// the design's own types, as a submission would be stored.
func referenceDesign(tb testing.TB, l labs.Lab, r labs.Reference) labs.Design {
	tb.Helper()
	raw := map[string]any{}
	for _, f := range l.Fields() {
		raw[f.Name] = f.Default
	}
	for k, v := range r.Design {
		raw[k] = v
	}
	d, ferrs := labs.Validate(l, raw)
	if len(ferrs) > 0 {
		tb.Fatalf("%s reference %q is not a valid design: %v", l.Info().ID, r.Name, ferrs)
	}
	return d
}

// The same design gets the same score on a busy machine. Every exercise's
// reference designs (the good one and the classic mistakes) are graded
// several times, two gradings at a time, on real Redis and PostgreSQL,
// while a busy process runs on every core; each must
// get the same score and fail the same checks every time, exactly the
// checks its reference says. WORKBOOK_STABILITY_REPEATS sets how often
// (default 2); scripts/grading-stability.sh runs a longer version and
// prints the table.
func TestGradingStability(t *testing.T) {
	repeats := 2
	if v, err := strconv.Atoi(os.Getenv("WORKBOOK_STABILITY_REPEATS")); err == nil && v > 0 {
		repeats = v
	}
	ctx := context.Background()
	rc, err := redis.Open(ctx, testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	st, err := store.Open(ctx, store.Options{PostgresURL: testenv.PostgresURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	base := labs.Env{Redis: rc.Client, DB: st.SQL(), Dialect: string(st.Dialect()),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
	jobs := stabilityJobs(t, repeats)

	stop := loadMachine(t)
	start := time.Now()
	seen, took := gradeUnderLoad(t, base, jobs)
	stop()
	t.Logf("graded %d designs %d times each under load in %s", len(jobs)/repeats, repeats, time.Since(start).Round(time.Second))
	t.Logf("stability under load, %d gradings per design:\n%s", repeats, checkStable(t, seen, took))
}

// stabilityJob is one grading of a reference design.
type stabilityJob struct {
	lab labs.Lab
	ex  labs.Exercise
	ref labs.Reference
	d   labs.Design
}

// stabilityJobs are every reference design of every graded lab, repeats
// times.
func stabilityJobs(t *testing.T, repeats int) []stabilityJob {
	t.Helper()
	// Per lab, its references; the jobs take one of each lab in turn, so
	// the two gradings running at once are mostly of different labs.
	var perLab [][]stabilityJob
	for _, l := range gradedLabs {
		var js []stabilityJob
		for _, ex := range labs.ExercisesOf(l) {
			if ex.Build != nil {
				continue // its references are services, graded by the lab's TestBuildExercise
			}
			if len(ex.References) == 0 {
				t.Errorf("exercise %s has no reference designs", ex.ID)
			}
			for _, r := range ex.References {
				js = append(js, stabilityJob{l, ex, r, referenceDesign(t, l, r)})
			}
		}
		perLab = append(perLab, js)
	}
	var jobs []stabilityJob
	for range repeats {
		for i := 0; ; i++ {
			added := false
			for _, js := range perLab {
				if i < len(js) {
					jobs, added = append(jobs, js[i]), true
				}
			}
			if !added {
				break
			}
		}
	}

	return jobs
}

// gradeUnderLoad grades the jobs two at a time; it returns the verdicts
// and the time spent, by "exercise × design".
func gradeUnderLoad(t *testing.T, base labs.Env, jobs []stabilityJob) (map[string][]verdict, map[string]time.Duration) {
	t.Helper()
	ctx := context.Background()
	var (
		mu   sync.Mutex
		seen = map[string][]verdict{}
		took = map[string]time.Duration{}
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 2)
	)
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			jctx, cancel := context.WithTimeout(ctx, 5*time.Minute) // a backstop for a hang, not a verdict
			defer cancel()
			t0 := time.Now()
			rs, err := labs.Run(jctx, j.lab, j.ex, j.d, base, nil)
			var v verdict
			if err != nil {
				v.err = err.Error()
			}
			v.score, v.max = labs.Score(rs)
			for _, r := range rs {
				if !r.Passed {
					v.failed = append(v.failed, r.Name)
				}
			}
			sort.Strings(v.failed)
			key := j.ex.ID + " × " + j.ref.Name
			t.Logf("%s: %s (%.1f s)", key, v, time.Since(t0).Seconds())
			mu.Lock()
			seen[key] = append(seen[key], v)
			took[key] += time.Since(t0)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return seen, took
}

// checkStable fails a design whose gradings failed, or failed other checks
// than its reference says, or scored differently; it returns the table of
// what was seen.
func checkStable(t *testing.T, seen map[string][]verdict, took map[string]time.Duration) string {
	t.Helper()
	var table strings.Builder
	fmt.Fprintf(&table, "| exercise × design | scores seen | failed checks seen | mean time |\n| --- | --- | --- | --- |\n")
	for _, l := range gradedLabs {
		for _, ex := range labs.ExercisesOf(l) {
			for _, r := range ex.References {
				key := ex.ID + " × " + r.Name
				vs := seen[key]
				scores, fails := map[string]bool{}, map[string]bool{}
				for _, v := range vs {
					scores[fmt.Sprintf("%d/%d", v.score, v.max)] = true
					if v.err != "" {
						fails["error: "+v.err] = true
						continue
					}
					fails["{"+strings.Join(v.failed, ", ")+"}"] = true
				}
				fmt.Fprintf(&table, "| %s | %s | %s | %.1f s |\n", key, joinKeys(scores), joinKeys(fails),
					took[key].Seconds()/float64(max(len(vs), 1)))

				want := slices.Clone(r.Fails)
				sort.Strings(want)
				for i, v := range vs {
					if v.err != "" {
						t.Errorf("%s: grading %d failed: %s", key, i+1, v.err)
						continue
					}
					if !slices.Equal(v.failed, want) {
						t.Errorf("%s: grading %d failed %v, want %v (%s)", key, i+1, v.failed, want, v)
					}
					if v.score != vs[0].score {
						t.Errorf("%s: scores differ between gradings: %v", key, vs)
					}
				}
			}
		}
	}
	return table.String()
}

func joinKeys(m map[string]bool) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, "; ")
}
