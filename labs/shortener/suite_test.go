package shortener

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

func basicsExercise(tb testing.TB) labs.Exercise {
	tb.Helper()
	for _, ex := range labs.ExercisesOf(Lab) {
		if ex.ID == "shortener-basics" {
			return ex
		}
	}
	tb.Fatal("no exercise shortener-basics")
	return labs.Exercise{}
}

func checkNamed(tb testing.TB, name string) labs.Check {
	tb.Helper()
	for _, c := range basicsExercise(tb).Checks {
		if c.Name == name {
			return c
		}
	}
	tb.Fatalf("no check %q", name)
	return labs.Check{}
}

func TestSuiteExercises(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9-]+$`)
	seen := map[string]bool{}
	exs := labs.ExercisesOf(Lab)
	if len(exs) == 0 {
		t.Fatal("no exercises")
	}
	for _, ex := range exs {
		if !valid.MatchString(ex.ID) || seen[ex.ID] {
			t.Errorf("exercise id %q: invalid or repeated", ex.ID)
		}
		seen[ex.ID] = true
		if ex.Lab != Lab.Info().ID || ex.Title == "" || len(ex.Card) == 0 || !ex.NeedsDB || ex.Scale == "" {
			t.Errorf("exercise %s: lab %q, title %q, %d card lines, needs_db %v", ex.ID, ex.Lab, ex.Title, len(ex.Card), ex.NeedsDB)
		}
		if ex.MaxScore() <= 0 {
			t.Errorf("exercise %s: max score %d", ex.ID, ex.MaxScore())
		}
		names := map[string]bool{}
		for _, c := range ex.Checks {
			if c.Name == "" || c.Requirement == "" || c.Run == nil || c.Points < 0 || names[c.Name] {
				t.Errorf("exercise %s: check %+v incomplete or repeated", ex.ID, c)
			}
			names[c.Name] = true
		}
	}
}

// referenceBackends says where each reference design is graded in this
// package's tests: the richest good design on both backends, the others
// on one each, to keep the tests short (10,000 creations under the race
// detector take seconds).
var referenceBackends = map[string][]string{
	"defaults":                 {"embedded"},
	"sequence-local-analytics": {"embedded", "postgres+redis"},
	"hash-no-cache":            {"postgres+redis"},
	"random, 2 characters":     {"postgres+redis"},
	"counter, 2 characters":    {"postgres+redis"},
	"8 characters":             {"embedded"},
}

// referenceSays is what a reference's failed checks must say, by reference
// and check.
var referenceSays = map[string]map[string][]string{
	"random, 2 characters": {checkNameDistinct: {"creations failed", "The first to fail was link", "3,844 codes of length 2", "birthday bound"}},
	"counter, 2 characters": {checkNameDistinct: {"2,844 of", "handed out all 3,844 codes of length 2",
		"1,000 of them to the lab's demo links"}},
	"8 characters": {checkNameDistinct: {"Codes are 8 characters long", "at most 7 are allowed", "code_length is 8", "stopped after 500 links"}},
}

func TestSuiteReferencesTable(t *testing.T) {
	ex := basicsExercise(t)
	// Every graded check is caught failing by a reference design or by a
	// fault no design can choose (TestSuiteFaults).
	var byFaults []string
	for _, f := range faults {
		byFaults = append(byFaults, f.check)
	}
	names := labtest.CheckReferences(t, Lab, ex, byFaults...)
	for _, r := range ex.References {
		if len(referenceBackends[r.Name]) == 0 {
			t.Errorf("reference %q is graded on no backend in the tests", r.Name)
		}
		for check := range referenceSays[r.Name] {
			if !slices.Contains(r.Fails, check) {
				t.Errorf("reference %q: what %q says is given, but the reference passes it", r.Name, check)
			}
		}
	}
	for name := range referenceBackends {
		if !names[name] {
			t.Errorf("backends given for %q, which is no reference", name)
		}
	}
	for name := range referenceSays {
		if !names[name] {
			t.Errorf("messages given for %q, which is no reference", name)
		}
	}
}

// Each reference design gets exactly its known verdict: the good ones pass
// every check, the bad ones fail exactly the checks they name, and say why
// in terms of what the check saw. Run with -count=3 on a loaded machine to
// see that the verdicts do not move.
func TestSuiteReferences(t *testing.T) {
	ex := basicsExercise(t)
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			base := labtest.Env(t, b, "suiteref")
			for _, ref := range ex.References {
				if !slices.Contains(referenceBackends[ref.Name], b.Name) {
					continue
				}
				t.Run(ref.Name, func(t *testing.T) {
					start := time.Now()
					rs, err := labs.Run(context.Background(), Lab, ex, mustDesign(t, ref.Design), base, nil)
					if err != nil {
						t.Fatal(err)
					}
					if len(rs) != len(ex.Checks) {
						t.Fatalf("%d results for %d checks", len(rs), len(ex.Checks))
					}
					var failed []string
					lost := 0
					for _, r := range rs {
						t.Logf("%s (%.0f ms): %v: %s", r.Name, r.DurationMS, r.Passed, r.Message)
						if r.Chart != nil && (len(r.Chart.X) == 0 || len(r.Chart.X) > 200) {
							t.Errorf("%s: chart with %d points", r.Name, len(r.Chart.X))
						}
						if r.Passed {
							continue
						}
						failed = append(failed, r.Name)
						lost += r.MaxPoints
						for _, w := range referenceSays[ref.Name][r.Name] {
							if !strings.Contains(r.Message, w) {
								t.Errorf("%s: message lacks %q: %s", r.Name, w, r.Message)
							}
						}
					}
					if !slices.Equal(failed, ref.Fails) {
						t.Errorf("failed %q, want %q", failed, ref.Fails)
					}
					if score, max := labs.Score(rs); score != max-lost {
						t.Errorf("score %d of %d, with %d points lost", score, max, lost)
					}
					t.Logf("whole suite: %s", time.Since(start).Round(time.Millisecond))
				})
			}
			assertNothingLeft(t, base)
		})
	}
}

// assertNothingLeft fails when a check left tables or Redis keys of any
// instance behind.
func assertNothingLeft(tb testing.TB, env labs.Env) {
	tb.Helper()
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'shortener_%'`
	if env.Dialect == "postgres" {
		q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_name LIKE 'shortener_%'`
	}
	var n int
	if err := env.DB.QueryRow(q).Scan(&n); err != nil {
		tb.Fatalf("count tables: %v", err)
	}
	if n != 0 {
		tb.Errorf("%d tables left", n)
	}
	keys, err := env.Redis.Keys(context.Background(), "lab:*").Result()
	if err != nil {
		tb.Fatalf("list keys: %v", err)
	}
	if len(keys) != 0 {
		tb.Errorf("%d Redis keys left, such as %q", len(keys), keys[0])
	}
}
