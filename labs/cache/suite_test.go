package cache

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
		if ex.Lab != Lab.Info().ID || ex.Title == "" || len(ex.Card) == 0 || !ex.NeedsDB {
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

// says holds, per reference and per check it fails, what its message must
// say: the key observation and the knob at fault.
var says = map[string]map[string][]string{
	"ttl-invalidation": {chkStale: {"10 of 10 cached items came back with the old price", "invalidation=ttl",
		"until its TTL (30000 ms)", "item 101: wrote price 500101"}},
	"no-fill-guard": {chkStale: {"3 of 3 reads that had loaded the row before a price change", "fill_guard=none"}},
	"no-cache": {
		chkHit:      {"0 of 2,000", "0.0%", "strategy none", "2,000 reads went to the database"},
		chkStampede: {"they caused 200 database reads", "strategy none"},
	},
	"short-ttl":              {chkHit: {"1,576 of 2,000", "78.8%", "Cached items live 700 ms (ttl_ms), less than the 1.5 s the run took"}},
	"no-stampede-protection": {chkStampede: {"they caused 200 database reads", "stampede=none"}},
	"memory-queue": {chkCrash: {"12 acknowledged writes had not reached the database", "6 of 6 items still lack",
		"write_behind_queue=memory", "crashed process's memory"}},
	"memory-queue-fast-flush": {chkCrash: {"(flush_interval_ms=50); 12 acknowledged writes had not reached the database",
		"6 of 6 items still lack", "write_behind_queue=memory"}},
}

// never holds what a reference's message must not say.
var never = map[string]map[string][]string{
	// delete_on_write keeps the plain read-back right; only the race is lost.
	"no-fill-guard": {chkStale: {"cached items came back"}},
}

// The references cover the suite: a good design, a bad one for every
// scored check, and a message to look for in each failure they name.
func TestSuiteReferencesCoverTheChecks(t *testing.T) {
	ex := catalogueExercise(t)
	names := labtest.CheckReferences(t, Lab, ex)
	for _, ref := range ex.References {
		for _, f := range ref.Fails {
			if len(says[ref.Name][f]) == 0 {
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

// Every reference design gets exactly its known verdicts on the containers
// the grader starts, and the good designs get them on the embedded store
// too, with the same messages on both: the checks judge time on their own
// clock and draw their workload from fixed seeds, so what a design scores,
// and what it is told, does not depend on the machine or the store. (The
// bad designs are graded on one backend only to keep the test short; the
// good ones exercise every path of the embedded store.)
func TestSuiteReferences(t *testing.T) {
	ex := catalogueExercise(t)
	points := map[string]int{}
	for _, c := range ex.Checks {
		points[c.Name] = c.Points
	}
	messages := map[string][]string{} // reference → each check's message, from the first backend
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			base := labtest.Env(t, b, "suiteref")
			for _, ref := range ex.References {
				if b.DatabaseURL == "" && len(ref.Fails) > 0 {
					continue // embedded: the good designs only
				}
				t.Run(ref.Name, func(t *testing.T) {
					// A backstop for a stuck suite, never a verdict.
					ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
					defer cancel()
					start := time.Now()
					rs, err := labs.Run(ctx, Lab, ex, mustDesign(t, ref.Design), base, nil)
					if err != nil {
						t.Fatal(err)
					}
					t.Logf("whole suite: %s", time.Since(start).Round(time.Millisecond))
					var fails, msgs []string
					want := ex.MaxScore()
					for _, f := range ref.Fails {
						want -= points[f]
					}
					for _, r := range rs {
						t.Logf("%s (%.0f ms, passed %v): %s", r.Name, r.DurationMS, r.Passed, r.Message)
						msgs = append(msgs, r.Message)
						if !r.Passed {
							fails = append(fails, r.Name)
						}
						for _, w := range says[ref.Name][r.Name] {
							if !strings.Contains(r.Message, w) {
								t.Errorf("%s: message does not say %q: %s", r.Name, w, r.Message)
							}
						}
						for _, w := range never[ref.Name][r.Name] {
							if strings.Contains(r.Message, w) {
								t.Errorf("%s: message says %q: %s", r.Name, w, r.Message)
							}
						}
					}
					if !slices.Equal(fails, ref.Fails) {
						t.Errorf("failed %q, want %q", fails, ref.Fails)
					}
					if score, most := labs.Score(rs); score != want || most != ex.MaxScore() || len(rs) != len(ex.Checks) {
						t.Errorf("scored %d of %d over %d checks, want %d", score, most, len(rs), want)
					}
					if prev, ok := messages[ref.Name]; !ok {
						messages[ref.Name] = msgs
					} else {
						for i := range msgs {
							if msgs[i] != prev[i] {
								t.Errorf("%s: the message differs between backends:\n%s\n%s", rs[i].Name, prev[i], msgs[i])
							}
						}
					}
				})
			}
		})
	}
}

// The crash check passes the strategies that commit before acknowledging,
// and says why.
func TestSuiteCrashCommittedFirst(t *testing.T) {
	ex := catalogueExercise(t)
	// The embedded backend: this checks the verdict and its reason, not the store.
	base := labtest.Env(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, "suitecommit")
	for _, strategy := range []string{StrategyCacheAside, StrategyWriteThrough, StrategyNone} {
		t.Run(strategy, func(t *testing.T) {
			r, err := labs.RunCheck(context.Background(), Lab, checkNamed(t, ex, "acknowledged writes survive a flusher crash"),
				mustDesign(t, map[string]any{"strategy": strategy}), base)
			if err != nil {
				t.Fatal(err)
			}
			if !r.Passed || !strings.Contains(r.Message, "committed to the database before it is acknowledged") {
				t.Errorf("%s: passed %v: %s", strategy, r.Passed, r.Message)
			}
		})
	}
}
