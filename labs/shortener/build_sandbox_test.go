package shortener

import (
	"context"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// buildCase is a service the build exercise is proven on: its sources, its
// language, the scored checks it fails (it passes every other one), and
// what each failure must say.
type buildCase struct {
	name, dir, lang string
	// kit: dir is a language of the starter kits, built as a learner
	// downloads it.
	kit bool
	// patch, when set, is a diff that makes a flawed variant of the
	// reference in dir.
	patch string
	// skip lists checks not run, to keep the test short: the
	// measured-only hot redirect runs on the references alone, and the
	// 10,000 links are left out for the variants whose edit does not touch
	// how links are created and stored (they run on the references, the
	// kits and the variants whose edit does).
	skip  []string
	fails map[string][]string
}

var (
	skipHot  = []string{checkNameHot}
	skipLean = []string{checkNameHot, checkNameDistinct}
)

var buildCases = []buildCase{
	{name: "go reference", dir: "testdata/build/go", lang: labs.LangGo},
	{name: "python reference", dir: "testdata/build/python", lang: labs.LangPython},
	{name: "go starter", dir: "go", lang: labs.LangGo, kit: true, skip: skipHot, fails: map[string][]string{
		checkNameDistinct:       {"creations failed", "no free code"},
		checkNameReplicaRestart: {"after the restart failed"},
		checkNameRedisDown:      {"went wrong while it was stopped"},
	}},
	{name: "python starter", dir: "python", lang: labs.LangPython, kit: true, skip: skipHot, fails: map[string][]string{
		checkNameExpiry:  {"did not answer 410", "still redirected"},
		checkNameInvalid: {"invalid creations were accepted", "javascript: URL"},
	}},
	{name: "per-process counter", dir: "testdata/build/python", patch: "testdata/build/flaw-distinct-restart.diff", lang: labs.LangPython, skip: skipHot, fails: map[string][]string{
		checkNameDistinct:       {"creations failed", "no free code"},
		checkNameReplicaRestart: {"after the restart failed"},
	}},
	{name: "links only in Redis", dir: "testdata/build/python", patch: "testdata/build/flaw-redis-down.diff", lang: labs.LangPython, skip: skipHot, fails: map[string][]string{
		checkNameRedisDown: {"went wrong while it was stopped", "answered 500"},
	}},
	{name: "no URL validation", dir: "testdata/build/python", patch: "testdata/build/flaw-invalid.diff", lang: labs.LangPython, skip: skipLean, fails: map[string][]string{
		checkNameInvalid: {"invalid creations were accepted"},
	}},
	{name: "expiry ignored", dir: "testdata/build/python", patch: "testdata/build/flaw-expiry.diff", lang: labs.LangPython, skip: skipLean, fails: map[string][]string{
		checkNameExpiry: {"did not answer 410", "still redirected"},
	}},
	{name: "unknown codes cached for good", dir: "testdata/build/python", patch: "testdata/build/flaw-redirects.diff", lang: labs.LangPython, skip: skipLean, fails: map[string][]string{
		checkNameRedirects: {"GET r/Spring-Sale (read 1) answered 404"},
	}},
}

// Every scored check of the build exercise is proven both ways in the
// sandbox, on real containers: the Go and Python references pass them
// all, each flawed variant fails exactly the checks it is named after, and
// the starter kits, as a learner downloads them, build, start and fail
// what their comments say.
func TestBuildExercise(t *testing.T) {
	ex := buildExercise()
	caught := map[string]bool{}
	for _, c := range buildCases {
		for name := range c.fails {
			caught[name] = caught[name] || !c.kit
		}
	}
	for _, c := range ex.Checks {
		if c.Points > 0 && !caught[c.Name] {
			t.Errorf("no flawed variant fails %q", c.Name)
		}
	}
	labtest.Sandbox(t) // skips here, once, when no Docker engine answers
	for _, bc := range buildCases {
		t.Run(bc.name, func(t *testing.T) {
			t.Parallel() // each in a job of its own: its network, Redis and PostgreSQL
			dir := bc.dir
			if bc.kit {
				dir = writeKit(t, ex.Build.Starters, bc.dir)
			}
			if bc.patch != "" {
				dir = labtest.Variant(t, dir, bc.patch)
			}
			ex := ex
			ex.Checks = slices.DeleteFunc(slices.Clone(ex.Checks), func(c labs.Check) bool { return slices.Contains(bc.skip, c.Name) })
			began := time.Now()
			l := labtest.BuildService(t, ex, dir, bc.lang)
			built := time.Since(began)
			rs, err := labs.RunOn(context.Background(), Lab, ex, nil, l, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			score, max := labs.Score(rs)
			t.Logf("%s: built and started in %.1f s, graded %d/%d, %.1f s from build start to suite end",
				bc.name, built.Seconds(), score, max, time.Since(began).Seconds())
			checkBuildResults(t, ex, bc, rs)
		})
	}
}

// checkBuildResults compares a suite's results with what bc says.
func checkBuildResults(t *testing.T, ex labs.Exercise, bc buildCase, rs []labs.CheckResult) {
	t.Helper()
	if len(rs) != len(ex.Checks) {
		t.Fatalf("%d results for %d checks", len(rs), len(ex.Checks))
	}
	for _, r := range rs {
		t.Logf("  %-58s %3d/%3d %6.1f s  %s", r.Name, r.Points, r.MaxPoints, r.DurationMS/1000, clip(r.Message))
		says, fails := bc.fails[r.Name]
		switch {
		case r.Skipped:
			t.Errorf("%s skipped: %s", r.Name, r.Message)
		case r.MaxPoints == 0 && !r.Passed:
			t.Errorf("%s (measured only) did not pass: %s", r.Name, r.Message)
		case r.MaxPoints == 0:
		case fails && r.Passed:
			t.Errorf("%s passed, want it failed: %s", r.Name, r.Message)
		case !fails && !r.Passed:
			t.Errorf("%s failed: %s", r.Name, r.Message)
		}
		for _, s := range says {
			if !r.Passed && !strings.Contains(r.Message, s) {
				t.Errorf("%s: message does not say %q: %s", r.Name, s, r.Message)
			}
		}
	}
}

// writeKit writes the starter kit of lang from starters to a directory, as
// the learner unpacks it.
func writeKit(t *testing.T, starters fs.FS, lang string) string {
	t.Helper()
	kit, err := fs.Sub(starters, lang)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, kit); err != nil {
		t.Fatal(err)
	}
	return dir
}
