package shop

import (
	"context"
	"os"
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
	"shop-exactly-once": {
		"inbox-kept-forever":     {chkOnceBudget: "With dedup_retention_ms 0 every id is kept forever"},
		"inbox-forgets-too-soon": {chkOnceEffects: "dedup_retention_ms 1000 ms forgot the message ids before the copies came back"},
		"no-idempotency":         {chkOnceEffects: "With idempotency_keys=false the consumers keep no inbox"},
		"dual-write":             {chkOnceEffects: "With outbox=false a consumer commits and then publishes"},
	},
	"shop-flash-sale": {
		"naive-reservation":                      {chkFlashOversell: "With reservation=naive_read_then_write"},
		"no-idempotency":                         {chkFlashOnce: "With idempotency_keys=false the order service ignores the key"},
		"four-consumers":                         {chkFlashBound: "4 consumers finish at most 20 a second"},
		"long-timeout":                           {chkFlashBound: "A lost answer costs a consumer the whole timeout"},
		"more-consumers-than-the-provider-takes": {chkFlashCalls: "12 payment consumers call the provider at once, and it takes only 8"},
		"timeout-below-the-latency": {
			chkFlashBound: "gives up before the provider can answer",
			chkFlashCalls: "every answer comes too late",
		},
	},
}

func ladderExercise(tb testing.TB, id string) labs.Exercise {
	tb.Helper()
	for _, ex := range labs.ExercisesOf(Lab) {
		if ex.ID == id {
			return ex
		}
	}
	tb.Fatalf("no exercise %q", id)
	return labs.Exercise{}
}

func TestLadderReferencesCoverTheChecks(t *testing.T) {
	for id, says := range ladderSays {
		ex := ladderExercise(t, id)
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
		// Each check is failed alone by some reference: it judges
		// something no other check does.
		for _, c := range ex.Checks {
			alone := false
			for _, ref := range ex.References {
				alone = alone || slices.Equal(ref.Fails, []string{c.Name})
			}
			if !alone {
				t.Errorf("%s: no reference fails only %q", id, c.Name)
			}
		}
	}
}

// Every reference of the higher steps gets exactly its known verdicts, on
// the suite's clock: all of them on the embedded backend, the good ones on
// PostgreSQL too (the grading stability test grades the others there).
func TestLadderReferences(t *testing.T) {
	only := os.Getenv("SHOP_LADDER_REF") // a reference's name, to grade one while working on it
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			base := labtest.Env(t, b, "shopladder")
			for id, says := range ladderSays {
				ex := ladderExercise(t, id)
				for _, ref := range ex.References {
					if (only == "" || only == ref.Name) && (b.Name == "embedded" || len(ref.Fails) == 0) {
						gradeReference(t, ex, ref, base, says[ref.Name])
					}
				}
			}
		})
	}
}

func gradeReference(t *testing.T, ex labs.Exercise, ref labs.Reference, base labs.Env, says map[string]string) {
	t.Helper()
	d := referenceDesign(t, ref)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a backstop, never a verdict
	defer cancel()
	start := time.Now()
	rs, err := labs.Run(ctx, Lab, ex, d, base, nil)
	if err != nil {
		t.Fatalf("%s, reference %q: %v", ex.ID, ref.Name, err)
	}
	score, maxScore := labs.Score(rs)
	t.Logf("%s, reference %q: %d of %d, suite took %v", ex.ID, ref.Name, score, maxScore, time.Since(start).Round(time.Millisecond))
	var fails []string
	for _, r := range rs {
		t.Logf("  %s (%.0f ms, passed %v): %s", r.Name, r.DurationMS, r.Passed, r.Message)
		if !r.Passed {
			fails = append(fails, r.Name)
			if w := says[r.Name]; w != "" && !strings.Contains(r.Message, w) {
				t.Errorf("%s, reference %q, %s: message %q does not say %q", ex.ID, ref.Name, r.Name, r.Message, w)
			}
		}
	}
	if !slices.Equal(fails, ref.Fails) {
		t.Errorf("%s, reference %q failed %q, want %q", ex.ID, ref.Name, fails, ref.Fails)
	}
}
