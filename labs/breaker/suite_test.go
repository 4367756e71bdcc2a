package breaker

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

// says names, per known-bad reference and check it fails, what the check's
// message must say: the observation that shows the mistake.
var says = map[string]map[string]string{
	"opens late (failure_threshold 20)":                {chkThreshold: "needed 20 consecutive failed calls"},
	"opens on the first failure (failure_threshold 1)": {chkThreshold: "after only 1 consecutive failed call"},
	"failure rate over a window, not consecutive":      {chkThreshold: "opened on a successful call"},
	"never opens (failure_threshold 1000)": {
		chkThreshold: "consecutive failed calls to the provider (failure_threshold 1000), so it never stopped calling it",
		chkFailFast:  "still closed after 60 consecutive failed calls",
		chkHalfOpen:  "It never reached half-open",
		chkProbe:     "There was no trial call to judge",
	},
	"probes after 100 ms": {chkFailFast: "reached the provider (first: 502 at 0.10 s", chkHalfOpen: "A call reached the provider 0.10 s"},
	"probes after 500 ms": {chkFailFast: "reached the provider (first: 502 at 0.50 s", chkHalfOpen: "A call reached the provider 0.50 s"},
	"probes after 2 s":    {chkHalfOpen: "none of 20 calls reached the provider", chkProbe: "still failed fast"},
	"5 probes":            {chkHalfOpen: "5 of 20 concurrent calls reached the provider", chkProbe: "is half_open afterwards, not closed"},
	"1 s call timeout":    {chkDeadline: "call_timeout_ms 1000 lets a single attempt wait longer"},
	"3 retries":           {chkDeadline: "4 attempts of up to call_timeout_ms 200"},
	"3 retries with a budget of 100%": {
		chkDeadline: "4 attempts of up to call_timeout_ms 200",
		chkBrownout: "retry_budget 1 lets retries reach 100%",
	},
}

// The references cover the suite: a good design, a bad one for every
// scored check, and a message to look for in each failure they name.
func TestSuiteReferencesCoverTheChecks(t *testing.T) {
	ex := exercise(t, "breaker-payments")
	names := labtest.CheckReferences(t, Lab, ex)
	for _, ref := range ex.References {
		for _, f := range ref.Fails {
			if says[ref.Name][f] == "" {
				t.Errorf("reference %q: no message to look for when it fails %q", ref.Name, f)
			}
		}
		for f := range says[ref.Name] {
			if !slices.Contains(ref.Fails, f) {
				t.Errorf("reference %q: a message is given for %q, which it does not fail", ref.Name, f)
			}
		}
	}
	for name := range says {
		if !names[name] {
			t.Errorf("messages are given for %q, which is no reference", name)
		}
	}
}

// Every reference design gets exactly its known verdicts, on both
// backends. The checks judge time on their own clock, so this holds on a
// loaded machine as on an idle one.
func TestSuiteReferences(t *testing.T) {
	ex := exercise(t, "breaker-payments")
	points := map[string]int{}
	for _, c := range ex.Checks {
		points[c.Name] = c.Points
	}
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			base := labtest.Env(t, b, "suiteref")
			for _, ref := range ex.References {
				d, errs := labs.Validate(Lab, ref.Design)
				if len(errs) > 0 {
					t.Fatalf("reference %q: %v", ref.Name, errs)
				}
				// A backstop for a stuck suite, never a verdict.
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				start := time.Now()
				rs, err := labs.Run(ctx, Lab, ex, d, base, nil)
				cancel()
				if err != nil {
					t.Fatalf("reference %q: %v", ref.Name, err)
				}
				t.Logf("reference %q: suite took %v", ref.Name, time.Since(start).Round(time.Millisecond))
				var fails []string
				want := ex.MaxScore()
				for _, f := range ref.Fails {
					want -= points[f]
				}
				for _, r := range rs {
					t.Logf("  %s (%.0f ms, passed %v): %s", r.Name, r.DurationMS, r.Passed, r.Message)
					if !r.Passed {
						fails = append(fails, r.Name)
						if w := says[ref.Name][r.Name]; w != "" && !strings.Contains(r.Message, w) {
							t.Errorf("reference %q, %s: message %q does not say %q", ref.Name, r.Name, r.Message, w)
						}
					}
					if c := r.Chart; c != nil {
						for _, s := range c.Series {
							if len(s.Values) != len(c.X) || len(c.X) > maxChartPoints {
								t.Errorf("reference %q, %s: chart series %s has %d values for %d x", ref.Name, r.Name, s.Name, len(s.Values), len(c.X))
							}
						}
					}
				}
				if !slices.Equal(fails, ref.Fails) {
					t.Errorf("reference %q failed %q, want %q", ref.Name, fails, ref.Fails)
				}
				if score, most := labs.Score(rs); score != want || most != ex.MaxScore() || len(rs) != len(ex.Checks) {
					t.Errorf("reference %q scored %d of %d over %d checks, want %d", ref.Name, score, most, len(rs), want)
				}
			}
		})
	}
}
