package cache

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
	"cache-inventory": {
		"write-through": {
			chkFastAck:   "With strategy write_through the write waits for the database",
			chkCoalesced: "With strategy write_through every write is its own database write",
		},
		"cache-aside": {
			chkFastAck:   "With strategy cache_aside the write waits",
			chkCoalesced: "With strategy cache_aside every write",
		},
		"memory queue":      {chkCrash: "With write_behind_queue=memory the queued writes lived only in the crashed process"},
		"flush every 50 ms": {chkCoalesced: "flush_interval_ms 50 flushes so often"},
	},
	"cache-launch": {
		"no memory budget":                       {chkLaunchBudget: "With max_items 0 nothing bounds it"},
		"a short TTL instead of a budget":        {chkLaunchBudget: "With max_items 0 nothing bounds it: every item read within ttl_ms (300 ms)"},
		"the shortest TTL instead of a budget":   {chkLaunchHits: "only ttl_ms 100 keeps the cache small"},
		"a budget of 20 items":                   {chkLaunchHits: "max_items 20 keeps too few"},
		"no stampede protection":                 {chkLaunchStampede: "With stampede=none every reader"},
		"the module's cache (redis_errors miss)": {chkRedisOutage: "the Redis outage became a stampede on the database"},
		"no cache": {
			chkLaunchHits:     "With strategy none there is no cache",
			chkLaunchStampede: "With strategy none there is no cache",
			chkRedisOutage:    "With strategy none every read goes to the database",
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
	}
}

// Every reference of the higher steps gets exactly its known verdicts, on
// both backends, on the suite's clock.
func TestLadderReferences(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			base := labtest.Env(t, b, "cacheladder")
			for id, says := range ladderSays {
				ex := ladderExercise(t, id)
				for _, ref := range ex.References {
					gradeReference(t, ex, ref, base, says[ref.Name])
				}
			}
		})
	}
}

func gradeReference(t *testing.T, ex labs.Exercise, ref labs.Reference, base labs.Env, says map[string]string) {
	t.Helper()
	d, errs := labs.Validate(Lab, ref.Design)
	if len(errs) > 0 {
		t.Fatalf("%s, reference %q: %v", ex.ID, ref.Name, errs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a backstop, never a verdict
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
	}
	if !slices.Equal(fails, ref.Fails) {
		t.Errorf("%s, reference %q failed %q, want %q", ex.ID, ref.Name, fails, ref.Fails)
	}
}
