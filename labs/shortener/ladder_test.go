package shortener

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
	"shortener-viral": {
		"Redis only": {
			chkViralMemory: "With cache redis there is no near cache",
			chkRedisShare:  "With cache redis there is no near cache",
		},
		"the default near cache of 10,000 codes": {chkNearBudget: "local_capacity 10000 lets it keep every code it reads"},
		"a near cache of 128 codes":              {chkRedisShare: "local_capacity 128 keeps too few"},
		"a near-cache TTL of 100 ms": {
			chkViralMemory: "With cache_ttl_ms 100 its cached copy expires every 100 ms",
			chkRedisShare:  "cache_ttl_ms 100 drops them too soon",
		},
		"clicks pushed every 100 ms": {chkClicksKept: "With click_push_ms 100 the process holds up to 100 ms of clicks"},
		"clicks pushed every 10 ms":  {chkClickWrites: "click_push_ms 10 pushes more often"},
		"no analytics (301)":         {chkClicksKept: "With analytics off the redirects answer 301"},
	},
	"shortener-grow": {
		"modulo": {chkFewMoved: "With sharding modulo a link stays only where hash mod 4 equals hash mod 5"},
		"4 points per shard": {
			chkFewMoved: "With consistent_hash and vnodes 4",
			chkBalanced: "With vnodes 4 each shard owns only 4 arcs",
		},
		"16 points per shard":    {chkBalanced: "With vnodes 16 each shard owns only 16 arcs"},
		"1,024 points per shard": {chkRingSize: "vnodes 1024 is more points than the balance needs"},
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
			base := labtest.Env(t, b, "shortladder")
			for id, says := range ladderSays {
				ex := ladderExercise(t, id)
				for _, ref := range ex.References {
					gradeReference(t, ex, ref, base, says[ref.Name])
				}
			}
			assertNothingLeft(t, base)
		})
	}
}

func gradeReference(t *testing.T, ex labs.Exercise, ref labs.Reference, base labs.Env, says map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a backstop, never a verdict
	defer cancel()
	start := time.Now()
	rs, err := labs.Run(ctx, Lab, ex, mustDesign(t, ref.Design), base, nil)
	if err != nil {
		t.Fatalf("%s, reference %q: %v", ex.ID, ref.Name, err)
	}
	score, most := labs.Score(rs)
	t.Logf("%s, reference %q: suite took %v, score %d of %d", ex.ID, ref.Name, time.Since(start).Round(time.Millisecond), score, most)
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
