package breaker

import (
	"context"
	"maps"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// goodDesign meets the breaker-payments card: it opens on the 5th failure,
// probes once after 1 s, cuts an attempt at 200 ms so one retry and its
// pause (at most 50 ms) fit in 500 ms, and keeps retries to 10% of first
// attempts.
var goodDesign = map[string]any{
	"failure_threshold": 5,
	"open_timeout_ms":   1000,
	"half_open_probes":  1,
	"call_timeout_ms":   200,
	"retries":           1,
	"backoff_base_ms":   50,
	"retry_budget":      "0.1",
}

// design validates goodDesign with changes as a learner's submission is.
func design(t *testing.T, changes map[string]any) labs.Design {
	t.Helper()
	raw := maps.Clone(goodDesign)
	maps.Copy(raw, changes)
	d, errs := labs.Validate(Lab, raw)
	if len(errs) > 0 {
		t.Fatalf("design %v: %v", raw, errs)
	}
	return d
}

func exercise(t *testing.T, id string) labs.Exercise {
	t.Helper()
	for _, ex := range labs.ExercisesOf(Lab) {
		if ex.ID == id {
			return ex
		}
	}
	t.Fatalf("no exercise %q", id)
	return labs.Exercise{}
}

func checkNamed(t *testing.T, ex labs.Exercise, name string) labs.Check {
	t.Helper()
	for _, c := range ex.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("exercise %s has no check %q", ex.ID, name)
	return labs.Check{}
}

func TestSuiteExercises(t *testing.T) {
	exs := labs.ExercisesOf(Lab)
	if len(exs) == 0 {
		t.Fatal("the breaker lab has no exercises")
	}
	id := regexp.MustCompile(`^[a-z0-9-]+$`)
	seen := map[string]bool{}
	for _, ex := range exs {
		if !id.MatchString(ex.ID) || seen[ex.ID] {
			t.Errorf("exercise id %q is invalid or repeated", ex.ID)
		}
		seen[ex.ID] = true
		if ex.Lab != Lab.Info().ID || ex.Title == "" || len(ex.Card) == 0 {
			t.Errorf("exercise %s: lab %q, title %q, %d card lines", ex.ID, ex.Lab, ex.Title, len(ex.Card))
		}
		if ex.MaxScore() <= 0 {
			t.Errorf("exercise %s: max score %d", ex.ID, ex.MaxScore())
		}
		names := map[string]bool{}
		for _, c := range ex.Checks {
			if c.Name == "" || c.Requirement == "" || c.Run == nil || c.Points < 0 || names[c.Name] {
				t.Errorf("exercise %s: check %+v is incomplete or repeated", ex.ID, c)
			}
			names[c.Name] = true
		}
	}
}

func TestSuiteGoodDesignPasses(t *testing.T) {
	ex := exercise(t, "breaker-payments")
	d := design(t, nil)
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			base := labtest.Env(t, b, "suitegood")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			start := time.Now()
			rs, err := labs.Run(ctx, Lab, ex, d, base, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("suite took %v", time.Since(start).Round(time.Millisecond))
			for _, r := range rs {
				t.Logf("%s (%.0f ms): %s", r.Name, r.DurationMS, r.Message)
				if !r.Passed {
					t.Errorf("%s failed: %s", r.Name, r.Message)
				}
				if c := r.Chart; c != nil {
					for _, s := range c.Series {
						if len(s.Values) != len(c.X) || len(c.X) > 200 {
							t.Errorf("%s: chart series %s has %d values for %d x", r.Name, s.Name, len(s.Values), len(c.X))
						}
					}
				}
			}
			if score, most := labs.Score(rs); score != most || len(rs) != len(ex.Checks) {
				t.Errorf("score %d of %d over %d checks", score, most, len(rs))
			}
		})
	}
}

// badDesigns each break one requirement; want is the observation the
// failing check's message must name.
var badDesigns = []struct {
	check   string
	changes map[string]any
	want    string
}{
	{"opens after the threshold", map[string]any{"failure_threshold": 20}, "needed 20 consecutive failed calls"},
	{"opens after the threshold", map[string]any{"failure_threshold": 1}, "after only 1 consecutive failed call"},
	{"opens after the threshold", map[string]any{"failure_rate": 0.5, "window_size": 20, "min_calls": 5}, "opened on a successful call"},
	{"fails fast while open", map[string]any{"failure_threshold": 1000}, "still closed after 60 consecutive failed calls"},
	{"fails fast while open", map[string]any{"open_timeout_ms": 100}, "reached the provider"},
	{"half-open after the timeout, at most 1 probe", map[string]any{"open_timeout_ms": 2000}, "none of 20 calls reached the provider"},
	{"half-open after the timeout, at most 1 probe", map[string]any{"half_open_probes": 5}, "5 of 20 concurrent calls reached the provider"},
	{"half-open after the timeout, at most 1 probe", map[string]any{"open_timeout_ms": 500}, "A call reached the provider 0.5"},
	{"closes after a good probe, reopens after a bad one", map[string]any{"half_open_probes": 5}, "is half_open afterwards, not closed"},
	{"closes after a good probe, reopens after a bad one", map[string]any{"open_timeout_ms": 2000}, "still failed fast"},
	{"slow calls cut at the timeout", map[string]any{"call_timeout_ms": 1000}, "call_timeout_ms 1000 lets a single attempt wait longer"},
	{"slow calls cut at the timeout", map[string]any{"retries": 3}, "4 attempts of up to call_timeout_ms 200"},
	{"retries within budget in a brownout", map[string]any{"retries": 3, "retry_budget": 1}, "retry_budget 1 lets retries reach 100%"},
}

func TestSuiteBadDesignsFail(t *testing.T) {
	ex := exercise(t, "breaker-payments")
	covered := map[string]bool{}
	for _, bd := range badDesigns {
		covered[bd.check] = true
	}
	for _, c := range ex.Checks {
		if c.Points > 0 && !covered[c.Name] {
			t.Errorf("no bad design fails %q", c.Name)
		}
	}
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			base := labtest.Env(t, b, "suitebad")
			for _, bd := range badDesigns {
				c := checkNamed(t, ex, bd.check)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				r, err := labs.RunCheck(ctx, Lab, c, design(t, bd.changes), base)
				cancel()
				if err != nil {
					t.Fatalf("%s with %v: %v", bd.check, bd.changes, err)
				}
				t.Logf("%s with %v (%.0f ms): %s", bd.check, bd.changes, r.DurationMS, r.Message)
				if r.Passed || r.Points != 0 {
					t.Errorf("%s passed with %v: %s", bd.check, bd.changes, r.Message)
				}
				if !strings.Contains(r.Message, bd.want) {
					t.Errorf("%s with %v: message %q does not say %q", bd.check, bd.changes, r.Message, bd.want)
				}
			}
		})
	}
}
