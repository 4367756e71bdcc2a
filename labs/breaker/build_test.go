package breaker

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

// buildCase is a service written for breaker-build, the checks it must
// fail, and what each failure must say.
type buildCase struct {
	name, lang string
	// dir is testdata/build/<dir>, a kit of the exercise ("kit:go"), or
	// a flawed variant: the Python reference changed by
	// testdata/build/<dir>.diff ("flaw-…").
	dir  string
	says map[string]string
}

// buildCases are the references (full marks), the flawed variants (each
// the Python reference with one mistake) and the starter kits.
var buildCases = []buildCase{
	{name: "go reference", lang: labs.LangGo, dir: "go"},
	{name: "python reference", lang: labs.LangPython, dir: "python"},
	{name: "no breaker", lang: labs.LangPython, dir: "flaw-no-breaker", says: map[string]string{
		chkThreshold: "the breaker never opened",
		chkFailFast:  "Nothing failed fast",
		chkHalfOpen:  "It never reached half-open",
		chkProbe:     "There was no trial call to judge",
	}},
	{name: "never half-opens", lang: labs.LangPython, dir: "flaw-never-half-opens", says: map[string]string{
		chkHalfOpen: "none of 10 concurrent calls reached the dependency",
		chkProbe:    "no trial call",
	}},
	{name: "no timeout", lang: labs.LangPython, dir: "flaw-no-timeout", says: map[string]string{
		chkDeadline: "the attempt was not cut",
	}},
	{name: "retry storm", lang: labs.LangPython, dir: "flaw-retry-storm", says: map[string]string{
		chkBrownout: "the budget allows 10%",
	}},
	// The Go kit calls with no timeout and has no breaker; it makes no
	// retries, so it stays within the budget.
	{name: "go starter kit", lang: labs.LangGo, dir: "kit:go", says: map[string]string{
		chkThreshold: "the breaker never opened",
		chkFailFast:  "Nothing failed fast",
		chkHalfOpen:  "It never reached half-open",
		chkProbe:     "There was no trial call to judge",
		chkDeadline:  "the attempt was not cut",
	}},
	// The Python kit retries every failure 5 times at once and has no
	// breaker; it cuts attempts at the timeout and does not retry those.
	{name: "python starter kit", lang: labs.LangPython, dir: "kit:python", says: map[string]string{
		chkThreshold: "the breaker never opened",
		chkFailFast:  "Nothing failed fast",
		chkHalfOpen:  "It never reached half-open",
		chkProbe:     "There was no trial call to judge",
		chkBrownout:  "the budget allows 10%",
	}},
}

// Every scored check of breaker-build is proven both ways through the
// sandbox: both references pass it, and a flawed variant fails it, saying
// what it saw; each variant and kit fails exactly its checks. The images
// are built one after another (that is the machine's work), and each
// suite starts as soon as its image is built: the suites mostly wait on
// real time (the breaker's open period), so they run side by side,
// svcSuites at a time.
func TestBuildExercise(t *testing.T) {
	ex := exercise(t, "breaker-build")
	checkCasesCoverTheChecks(t, ex)
	type suite struct {
		rs          []labs.CheckResult
		err         error
		built, took time.Duration
	}
	suites := make([]suite, len(buildCases))
	sem := make(chan struct{}, svcSuites)
	var wg sync.WaitGroup
	defer wg.Wait() // when a build fails the test, the suites end before their jobs go
	for i, bc := range buildCases {
		start := time.Now()
		launcher := labtest.BuildService(t, ex, buildDir(t, ex, bc.dir), bc.lang)
		built := time.Since(start)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a backstop, never a verdict
			defer cancel()
			start := time.Now()
			rs, err := labs.RunOn(ctx, Lab, ex, nil, launcher, nil)
			suites[i] = suite{rs, err, built, time.Since(start)}
		})
	}
	wg.Wait()
	for i, bc := range buildCases {
		t.Run(bc.name, func(t *testing.T) {
			s := suites[i]
			if s.err != nil {
				t.Fatal(s.err)
			}
			t.Logf("image built in %v, suite ran %v", s.built.Round(time.Millisecond), s.took.Round(time.Millisecond))
			checkBuildVerdicts(t, ex, bc, s.rs)
		})
	}
}

// svcSuites is how many suites TestBuildExercise runs at once.
const svcSuites = 4

// checkCasesCoverTheChecks fails a scored check that no case fails.
func checkCasesCoverTheChecks(t *testing.T, ex labs.Exercise) {
	t.Helper()
	caught := map[string]bool{}
	for _, bc := range buildCases {
		for name := range bc.says {
			caught[name] = true
		}
	}
	for _, c := range ex.Checks {
		if c.Points > 0 && !caught[c.Name] {
			t.Errorf("no flawed service fails %q", c.Name)
		}
	}
}

// buildDir is the directory of a case's sources: its testdata, a flawed
// variant written out from its diff, or the exercise's starter kit written
// out as a learner unpacks it.
func buildDir(t *testing.T, ex labs.Exercise, dir string) string {
	t.Helper()
	if strings.HasPrefix(dir, "flaw-") {
		return labtest.Variant(t, filepath.Join("testdata", "build", "python"), filepath.Join("testdata", "build", dir+".diff"))
	}
	lang, ok := strings.CutPrefix(dir, "kit:")
	if !ok {
		return filepath.Join("testdata", "build", dir)
	}
	kit, err := fs.Sub(ex.Build.Starters, lang)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := os.CopyFS(out, kit); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkBuildVerdicts compares a case's results with what it must fail.
func checkBuildVerdicts(t *testing.T, ex labs.Exercise, bc buildCase, rs []labs.CheckResult) {
	t.Helper()
	var fails, want []string
	for _, c := range ex.Checks {
		if bc.says[c.Name] != "" {
			want = append(want, c.Name)
		}
	}
	for _, r := range rs {
		t.Logf("%-52s passed %-5v %6.0f ms  %s", r.Name, r.Passed, r.DurationMS, r.Message)
		if r.Skipped {
			t.Errorf("%s was skipped: %s", r.Name, r.Message)
		}
		if r.Passed {
			continue
		}
		fails = append(fails, r.Name)
		if w := bc.says[r.Name]; w != "" && !strings.Contains(r.Message, w) {
			t.Errorf("%s: message %q does not say %q", r.Name, r.Message, w)
		}
	}
	if len(rs) != len(ex.Checks) || !slices.Equal(fails, want) {
		t.Errorf("failed %q of %d checks, want %q of %d", fails, len(rs), want, len(ex.Checks))
	}
}

// The starter kits are served as a learner unpacks them: a Go module of
// its own beside its main package, and a Python app.
func TestBuildExerciseStarterKits(t *testing.T) {
	ex := exercise(t, "breaker-build")
	for name, says := range map[string]string{
		"go/go.mod":     "module example.org/breaker-service",
		"go/main.go":    "package main",
		"python/app.py": "ThreadingHTTPServer",
	} {
		b, err := fs.ReadFile(ex.Build.Starters, name)
		if err != nil || !strings.Contains(string(b), says) {
			t.Errorf("%s: %v, or it does not say %q", name, err, says)
		}
	}
	if _, err := fs.Stat(ex.Build.Starters, "go/"+labs.KitModFile); err == nil {
		t.Errorf("the Go kit's module file is served under its source name too")
	}
}
