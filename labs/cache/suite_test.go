package cache

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

func catalogueExercise(tb testing.TB) labs.Exercise {
	tb.Helper()
	for _, ex := range labs.ExercisesOf(Lab) {
		if ex.ID == "cache-catalogue" {
			return ex
		}
	}
	tb.Fatal("no exercise cache-catalogue")
	return labs.Exercise{}
}

func checkNamed(tb testing.TB, ex labs.Exercise, name string) labs.Check {
	tb.Helper()
	for _, c := range ex.Checks {
		if c.Name == name {
			return c
		}
	}
	tb.Fatalf("exercise %s has no check %q", ex.ID, name)
	return labs.Check{}
}

// mustDesign validates a design as a learner's submission is validated.
func mustDesign(tb testing.TB, raw map[string]any) labs.Design {
	tb.Helper()
	d, errs := labs.Validate(Lab, raw)
	if len(errs) > 0 {
		tb.Fatalf("design %v: %v", raw, errs)
	}
	return d
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

// goodDesigns pass every check. Write-behind with the durable queue is as
// good as cache-aside here: its write updates the cache, its reads are
// cache-aside reads, and the stream outlives the flusher.
var goodDesigns = []struct {
	name   string
	design map[string]any
}{
	{"cache-aside", map[string]any{"strategy": "cache_aside", "invalidation": "delete_on_write", "fill_guard": "version", "stampede": "lock"}},
	{"cache-aside-singleflight", map[string]any{"strategy": "cache_aside", "invalidation": "delete_on_write", "fill_guard": "version", "stampede": "singleflight"}},
	{"write-behind-stream", map[string]any{"strategy": "write_behind", "write_behind_queue": "redis_stream", "stampede": "lock"}},
}

func TestSuiteGoodDesigns(t *testing.T) {
	ex := catalogueExercise(t)
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			base := labtest.Env(t, b, "suitegood")
			for _, g := range goodDesigns {
				t.Run(g.name, func(t *testing.T) {
					start := time.Now()
					rs, err := labs.Run(context.Background(), Lab, ex, mustDesign(t, g.design), base, nil)
					if err != nil {
						t.Fatal(err)
					}
					if len(rs) != len(ex.Checks) {
						t.Fatalf("%d results for %d checks", len(rs), len(ex.Checks))
					}
					for _, r := range rs {
						if !r.Passed {
							t.Errorf("%s failed: %s", r.Name, r.Message)
						}
						t.Logf("%s (%.0f ms): %s", r.Name, r.DurationMS, r.Message)
					}
					if score, max := labs.Score(rs); score != max {
						t.Errorf("score %d of %d", score, max)
					}
					t.Logf("whole suite: %s", time.Since(start).Round(time.Millisecond))
				})
			}
		})
	}
}

// countIn reads the number matched by re's first group in msg.
func countIn(tb testing.TB, re, msg string) int {
	tb.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(msg)
	if m == nil {
		tb.Fatalf("no %q in %q", re, msg)
	}
	n, err := strconv.Atoi(strings.ReplaceAll(m[1], ",", ""))
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func TestSuiteBadDesigns(t *testing.T) {
	ex := catalogueExercise(t)
	cases := []struct {
		name, check string
		design      map[string]any
		// verify checks the failure message names the key observation.
		verify func(t *testing.T, msg string)
	}{
		{"ttl-invalidation", "no stale read after a write",
			map[string]any{"strategy": "cache_aside", "invalidation": "ttl", "stampede": "singleflight"},
			func(t *testing.T, msg string) {
				if n := countIn(t, `(\d+) of 10 cached items came back with the old price`, msg); n != 10 {
					t.Errorf("%d of 10 items reported old", n)
				}
				for _, want := range []string{"invalidation=ttl", "until its TTL (30000 ms)", "item 101: wrote price 500101"} {
					if !strings.Contains(msg, want) {
						t.Errorf("message lacks %q: %s", want, msg)
					}
				}
			}},
		{"no-fill-guard", "no stale read after a write",
			map[string]any{"strategy": "cache_aside", "invalidation": "delete_on_write", "fill_guard": "none", "stampede": "lock"},
			func(t *testing.T, msg string) {
				for _, want := range []string{"3 of 3 reads that had loaded the row before a price change", "fill_guard=none"} {
					if !strings.Contains(msg, want) {
						t.Errorf("message lacks %q: %s", want, msg)
					}
				}
				if strings.Contains(msg, "cached items came back") {
					t.Errorf("the plain read-back should pass with delete_on_write: %s", msg)
				}
			}},
		{"no-cache", "hit ratio on a Zipf workload",
			map[string]any{"strategy": "none"},
			func(t *testing.T, msg string) {
				for _, want := range []string{"0 of 2,000", "0.0%", "strategy none", "2,000 reads went to the database"} {
					if !strings.Contains(msg, want) {
						t.Errorf("message lacks %q: %s", want, msg)
					}
				}
			}},
		{"no-stampede-protection", "stampede reaches the database at most once",
			map[string]any{"strategy": "cache_aside", "stampede": "none"},
			func(t *testing.T, msg string) {
				if n := countIn(t, `they caused (\d+) database reads`, msg); n < 2 {
					t.Errorf("%d database reads reported", n)
				}
				if !strings.Contains(msg, "stampede=none") {
					t.Errorf("message does not name the design: %s", msg)
				}
			}},
		{"memory-queue", "acknowledged writes survive a flusher crash",
			// A flush interval far beyond the check, so the crash lands before any flush.
			map[string]any{"strategy": "write_behind", "write_behind_queue": "memory", "flush_interval_ms": 5000, "stampede": "lock"},
			func(t *testing.T, msg string) {
				if n := countIn(t, `(\d+) acknowledged writes had not reached the database`, msg); n != 12 {
					t.Errorf("%d pending writes reported, want 12", n)
				}
				for _, want := range []string{"6 of 6 items still lack", "write_behind_queue=memory", "crashed process's memory"} {
					if !strings.Contains(msg, want) {
						t.Errorf("message lacks %q: %s", want, msg)
					}
				}
			}},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.check] = true
	}
	for _, c := range ex.Checks {
		if c.Points > 0 && !covered[c.Name] {
			t.Errorf("no bad design fails %q", c.Name)
		}
	}
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			base := labtest.Env(t, b, "suitebad")
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					r, err := labs.RunCheck(context.Background(), Lab, checkNamed(t, ex, c.check), mustDesign(t, c.design), base)
					if err != nil {
						t.Fatal(err)
					}
					t.Logf("%s (%.0f ms): %s", r.Name, r.DurationMS, r.Message)
					if r.Passed || r.Points != 0 {
						t.Fatalf("%s passed with %d points", c.check, r.Points)
					}
					c.verify(t, r.Message)
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
