package breaker

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// ladderSays names, per exercise above the first step, known-bad reference
// and check it fails, what the check's message must say.
var ladderSays = map[string]map[string]map[string]string{
	"breaker-noisy": {
		"opens on a run of 5 (failure_threshold 5)": {chkNoise: "(failure_threshold 5): it mistook normal noise"},
		"failure rate 10% over 20 calls":            {chkNoise: "failure_rate 0.1 over 20 calls: a run of 5 is 25%"},
		"opens late (failure_threshold 20)":         {chkOutage: "opened only after 20 calls"},
		"failure rate 50% over 100 calls":           {chkOutage: "(failure_rate 0.5 over 100 calls"},
		"the module's breaker (breaker holds_lock)": {chkStall: "the slowest after 200 ms"},
		"no breaker": {
			chkOutage: "never opened (breaker none)",
			chkStall:  "never opened on a dead provider (60 failed calls reached it), with breaker none",
		},
	},
	"breaker-storm": {
		"no retries":                                           {chkMasks: "With retries 0 every failed call"},
		"a 2% retry budget":                                    {chkMasks: "retry_budget 0.02 lets retries add only 2%"},
		"a breaker (breaker standard)":                         {chkTried: "were failed fast without reaching it: the breaker opened (breaker standard)"},
		"3 immediate retries, unlimited budget":                {chkRecover: "retries kept the provider's queue full"},
		"3 retries with exponential backoff, unlimited budget": {chkRecover: "retries kept the provider's queue full"},
	},
}

func TestLadderReferencesCoverTheChecks(t *testing.T) {
	for id, says := range ladderSays {
		ex := exercise(t, id)
		names := labtest.CheckReferences(t, Lab, ex)
		for _, ref := range ex.References {
			for _, f := range ref.Fails {
				if says[ref.Name][f] == "" {
					t.Errorf("%s, reference %q: no message to look for when it fails %q", id, ref.Name, f)
				}
			}
		}
		for name := range says {
			if !names[name] {
				t.Errorf("%s: messages are given for %q, which is no reference", id, name)
			}
		}
	}
}

// Every reference of the higher steps gets exactly its known verdicts, on
// both backends, on the checks' own clock.
func TestLadderReferences(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			base := labtest.Env(t, b, "ladderref")
			for _, id := range []string{"breaker-noisy", "breaker-storm"} {
				ex := exercise(t, id)
				for _, ref := range ex.References {
					gradeReference(t, ex, ref, base, ladderSays[id][ref.Name])
				}
			}
		})
	}
}

// gradeReference grades one reference design and compares its verdicts
// and messages with what it is known to get.
func gradeReference(t *testing.T, ex labs.Exercise, ref labs.Reference, base labs.Env, says map[string]string) {
	t.Helper()
	d, errs := labs.Validate(Lab, ref.Design)
	if len(errs) > 0 {
		t.Fatalf("%s, reference %q: %v", ex.ID, ref.Name, errs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a backstop, never a verdict
	defer cancel()
	start := time.Now()
	rs, err := labs.Run(ctx, Lab, ex, d, base, nil)
	if err != nil {
		t.Fatalf("%s, reference %q: %v", ex.ID, ref.Name, err)
	}
	t.Logf("%s, reference %q: suite took %v", ex.ID, ref.Name, time.Since(start).Round(time.Millisecond))
	var fails []string
	for _, r := range rs {
		t.Logf("  %s (%.0f ms, passed %v): %s", r.Name, r.DurationMS, r.Passed, r.Message)
		if !r.Passed {
			fails = append(fails, r.Name)
			if w := says[r.Name]; w != "" && !strings.Contains(r.Message, w) {
				t.Errorf("%s, reference %q, %s: message %q does not say %q", ex.ID, ref.Name, r.Name, r.Message, w)
			}
		}
		if c := r.Chart; c != nil {
			for _, s := range c.Series {
				if len(s.Values) != len(c.X) {
					t.Errorf("%s, reference %q, %s: chart series %s has %d values for %d x", ex.ID, ref.Name, r.Name, s.Name, len(s.Values), len(c.X))
				}
			}
		}
	}
	if !slices.Equal(fails, ref.Fails) {
		t.Errorf("%s, reference %q failed %q, want %q", ex.ID, ref.Name, fails, ref.Fails)
	}
}
