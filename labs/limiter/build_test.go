package limiter

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// buildCase is a service of the build exercise: its sources (a flawed
// variant is the reference in dir changed by the diff in patch), and every
// check it must fail (it passes the others).
type buildCase struct {
	name, dir, lang string
	fails           []string
	patch           string
	// mayFail are checks a race in the service fails only when its
	// requests happen to interleave: the machine's scheduling decides, so
	// either verdict is right.
	mayFail []string
}

// buildCases are the references (full marks), the starter kits as a
// learner downloads them ("kit:" + language), and the flawed variants of
// the Python reference, each failing exactly its named checks.
func buildCases() []buildCase {
	flaw := func(name string, fails ...string) buildCase {
		return buildCase{name: "flaw " + name, dir: "testdata/build/python", lang: labs.LangPython, fails: fails, patch: "testdata/build/flaw-" + name + ".diff"}
	}
	return []buildCase{
		{name: "go reference", dir: "testdata/build/go", lang: labs.LangGo},
		{name: "python reference", dir: "testdata/build/python", lang: labs.LangPython},
		{name: "go starter", dir: "kit:go", lang: labs.LangGo, fails: []string{checkSpan, checkPaused}},
		{name: "python starter", dir: "kit:python", lang: labs.LangPython, fails: []string{checkReplicated, checkSpan}},
		flaw("fixed-window", checkSpan),
		flaw("per-process", checkReplicated),
		flaw("no-expiry", checkRecovers, checkRetry),
		flaw("no-timeout", checkPaused),
		flaw("retry-after-1", checkRetry),
		// Reading the count, deciding and writing it back in separate
		// steps loses updates only when requests interleave: 200 at once
		// always do, but the span check's 30 at once are sometimes served
		// one after another on a busy machine, and then none is lost.
		{name: "flaw read-then-write", dir: "testdata/build/python", lang: labs.LangPython, fails: []string{checkConcurrency},
			patch: "testdata/build/flaw-read-then-write.diff", mayFail: []string{checkSpan}},
		flaw("off-by-one", checkLimit, checkConcurrency, checkReplicated, checkSpan),
		flaw("one-key", checkKeys),
	}
}

// Every scored check of the build exercise is proven both ways through
// the sandbox: the Go and Python references pass every one, each flawed
// variant fails exactly the checks it is named for, and the starter kits,
// as a learner downloads them, build, start and fail what their comments
// say. Each service is its own sandbox job; its wall time from the start
// of its build to the end of its suite is logged.
func TestBuildExercise(t *testing.T) {
	ex := buildEx(t)
	failedBy := map[string]bool{}
	for _, c := range buildCases() {
		for _, f := range c.fails {
			failedBy[f] = true
		}
	}
	for _, c := range ex.Checks {
		if c.Points > 0 && !failedBy[c.Name] {
			t.Errorf("no service of the test fails %q", c.Name)
		}
	}
	// The checks mostly wait on real time, so a few services are graded
	// at once, whatever -parallel says.
	slots := make(chan struct{}, buildsAtOnce)
	var wg sync.WaitGroup
	for _, bc := range buildCases() {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			t.Run(bc.name, func(t *testing.T) { gradeBuild(t, ex, bc) })
		}()
	}
	wg.Wait()
}

// buildsAtOnce is how many services TestBuildExercise grades at once.
const buildsAtOnce = 4

// loadedChecks are the build exercise's checks whose verdicts a busy
// machine could change if they judged time carelessly: they count
// requests of runs that a slow grader spreads over several windows, or
// bound how long an answer takes. The sliding span and the recovery are
// judged from send and answer times alone, and graded in
// TestBuildExercise.
var loadedChecks = []string{checkLimit, checkKeys, checkConcurrency, checkReplicated, checkRetry, checkPaused}

// A busy machine changes no verdict: with two busy processes per core
// for the test's duration, every service of TestBuildExercise is graded
// on loadedChecks and fails exactly the ones it is named for among them
// (the fixed window and the Go starter, whose windows restart, none of
// the count checks). It runs on its own, not beside other tests that
// grade on real time (scripts/test.sh runs it after them).
func TestBuildExerciseUnderLoad(t *testing.T) {
	ex := buildEx(t)
	ex.Checks = slices.DeleteFunc(slices.Clone(ex.Checks), func(c labs.Check) bool { return !slices.Contains(loadedChecks, c.Name) })
	var cases []buildCase
	for _, bc := range buildCases() {
		bc.fails = slices.DeleteFunc(slices.Clone(bc.fails), func(f string) bool { return !slices.Contains(loadedChecks, f) })
		cases = append(cases, bc)
	}
	labtest.LoadMachine(t, 2)
	slots := make(chan struct{}, buildsAtOnce)
	var wg sync.WaitGroup
	for _, bc := range cases {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			t.Run(bc.name, func(t *testing.T) { gradeBuild(t, ex, bc) })
		}()
	}
	wg.Wait()
}

// gradeBuild builds and grades one service, and checks it failed exactly
// what it should.
func gradeBuild(t *testing.T, ex labs.Exercise, bc buildCase) {
	dir := bc.dir
	if lang, ok := strings.CutPrefix(dir, "kit:"); ok {
		dir = starterDir(t, ex, lang)
	}
	if bc.patch != "" {
		dir = labtest.Variant(t, dir, bc.patch)
	}
	start := time.Now()
	l := labtest.BuildService(t, ex, dir, bc.lang)
	built := time.Since(start)
	rs, err := labs.RunOn(context.Background(), Lab, ex, nil, l, nil)
	if err != nil {
		t.Fatalf("grading: %v", err)
	}
	var failed []string
	for _, r := range rs {
		t.Logf("%-45s passed %-5v %5.0f ms  %s", r.Name, r.Passed, r.DurationMS, r.Message)
		if r.Skipped || r.MaxPoints == 0 {
			t.Errorf("%s was skipped or scored nothing: %+v", r.Name, r)
		}
		if !r.Passed && !slices.Contains(bc.mayFail, r.Name) {
			failed = append(failed, r.Name)
		}
	}
	score, max := labs.Score(rs)
	t.Logf("%s: %d of %d points; built in %v, graded in %v", bc.name, score, max, built.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	want := slices.Clone(bc.fails)
	slices.Sort(want)
	slices.Sort(failed)
	if !slices.Equal(failed, want) {
		t.Errorf("failed %q, want exactly %q", failed, want)
	}
}

// starterDir writes the starter kit in lang, as the exercise serves it,
// into a directory of its own.
func starterDir(t *testing.T, ex labs.Exercise, lang string) string {
	t.Helper()
	kit, err := fs.Sub(ex.Build.Starters, lang)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	err = fs.WalkDir(kit, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(kit, name)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		return os.WriteFile(p, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
