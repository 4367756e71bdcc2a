package limiter

import (
	"context"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

func quotaExercise(tb testing.TB) labs.Exercise {
	tb.Helper()
	for _, ex := range labs.ExercisesOf(Lab) {
		if ex.ID == "limiter-api-quota" {
			return ex
		}
	}
	tb.Fatal("no exercise limiter-api-quota")
	return labs.Exercise{}
}

func quotaCheck(tb testing.TB, name string) labs.Check {
	tb.Helper()
	for _, c := range quotaExercise(tb).Checks {
		if c.Name == name {
			return c
		}
	}
	tb.Fatalf("no check %q", name)
	return labs.Check{}
}

// goodQuota meets the API quota: the first reference design.
func goodQuota(tb testing.TB) map[string]any {
	tb.Helper()
	for _, r := range quotaExercise(tb).References {
		if len(r.Fails) == 0 {
			return maps.Clone(map[string]any(r.Design))
		}
	}
	tb.Fatal("no good reference design")
	return nil
}

func TestSuiteExercises(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9-]+$`)
	exs := labs.ExercisesOf(Lab)
	if len(exs) == 0 {
		t.Fatal("no exercises")
	}
	seen := map[string]bool{}
	for _, ex := range exs {
		if !valid.MatchString(ex.ID) || seen[ex.ID] {
			t.Errorf("exercise id %q: invalid or repeated", ex.ID)
		}
		seen[ex.ID] = true
		if ex.Lab != Lab.Info().ID || ex.Title == "" || len(ex.Card) == 0 || ex.Scale == "" {
			t.Errorf("exercise %s: lab %q, title %q, %d card lines, scale %q", ex.ID, ex.Lab, ex.Title, len(ex.Card), ex.Scale)
		}
		if ex.MaxScore() <= 0 {
			t.Errorf("exercise %s: max score %d", ex.ID, ex.MaxScore())
		}
		names := map[string]bool{}
		for _, c := range ex.Checks {
			if c.Name == "" || c.Requirement == "" || c.Run == nil || c.Points < 0 || names[c.Name] {
				t.Errorf("exercise %s: check %+v: needs a unique name, a requirement, a run and points >= 0", ex.ID, c)
			}
			names[c.Name] = true
		}
		if ex.Build == nil {
			// A build exercise's checks are proven both ways by services
			// (TestBuildExercise), not by designs.
			checkReferenceTable(t, ex, names)
		}
	}
}

// checkReferenceTable checks that every reference names real checks, and
// every graded check has a reference that fails it, but for key
// independence, which no design field can break
// (TestSuiteKeysIndependentCatchesSharedKeys).
func checkReferenceTable(t *testing.T, ex labs.Exercise, names map[string]bool) {
	t.Helper()
	failed := map[string]bool{checkKeys: true}
	refs := map[string]bool{}
	for _, r := range ex.References {
		if r.Name == "" || refs[r.Name] {
			t.Errorf("exercise %s: reference %q: needs a unique name", ex.ID, r.Name)
		}
		refs[r.Name] = true
		if _, errs := labs.Validate(Lab, r.Design); len(errs) > 0 {
			t.Errorf("exercise %s: reference %q: %v", ex.ID, r.Name, errs)
		}
		for _, f := range r.Fails {
			if !names[f] {
				t.Errorf("exercise %s: reference %q fails %q, which is no check", ex.ID, r.Name, f)
			}
			failed[f] = true
		}
	}
	for _, c := range ex.Checks {
		if c.Points > 0 && !failed[c.Name] {
			t.Errorf("exercise %s: check %q has no reference design that fails it", ex.ID, c.Name)
		}
	}
}

// referenceWants are words each reference's failing (or, for a good
// design, passing) checks must say, so a verdict comes with its reason.
var referenceWants = map[string]map[string][]string{
	"sliding log": {
		checkSpan:  {"20 admitted in the first burst and 0 in the second"},
		checkRetry: {"Retry-After: 2 s", "passed 2.00 s later"},
	},
	"sliding window counter": {
		checkSpan: {"before a window boundary", "20 admitted in the first burst and 0 in the second"},
	},
	"limit too low": {
		checkLimit:       {"Only 10 of 40", "too strict", "limit 10"},
		checkConcurrency: {"10 admitted", "Fewer than the quota", "limit 10"},
	},
	"limit too high": {
		checkLimit: {"30 of 40", "too many", "limit is 30"},
	},
	"memory storage": {
		checkReplicated: {"60 of 100", "replica 0 admitted 20", "each of the 3 replicas counts on its own"},
	},
	"memory storage on 3 replicas": {
		checkConcurrency: {"60 admitted", "each of the 3 replicas counts on its own"},
	},
	"fixed window": {
		checkSpan: {"20 admitted in the first burst and 20 in the second", "40 were admitted", "fixed window"},
	},
	"window too short": {
		checkSpan: {"window is only 1000 ms", "once that window had passed", "shorter than the quota's 2 s"},
	},
	"token bucket": {
		checkSpan: {"20 admitted in the first burst and 3 in the second", "23 were admitted", "refills continuously"},
	},
	"gcra": {
		checkSpan: {"20 admitted in the first burst and 3 in the second", "23 were admitted", "refills continuously"},
	},
	"window too long": {
		checkRecovers: {"still refused", "window is 10000 ms"},
		checkRetry:    {"Retry-After: 10 s", "nothing passed", "window is 10000 ms"},
	},
}

// Every reference design gets exactly its known verdict on both backends:
// the score, the failed checks, and the reasons in the messages. The
// verdicts are judged on the suite's clock, so they hold on a loaded
// machine too (run with -count to see them repeat).
func TestSuiteReferences(t *testing.T) {
	ex := quotaExercise(t)
	points := map[string]int{}
	for _, c := range ex.Checks {
		points[c.Name] = c.Points
	}
	for name := range referenceWants {
		if !slices.ContainsFunc(ex.References, func(r labs.Reference) bool { return r.Name == name }) {
			t.Errorf("words wanted from %q, which is no reference", name)
		}
	}
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			base := labtest.Env(t, b, "suiteref")
			for i, ref := range ex.References {
				t.Run(ref.Name, func(t *testing.T) {
					// Instances are distinct, and no check waits on the
					// machine's clock but the latency measurement.
					t.Parallel()
					run := ex
					if i > 0 {
						// The latency measurement scores nothing and judges no
						// design; the first reference runs it, and the rest
						// skip its thousand decisions to keep the test short.
						run.Checks = slices.DeleteFunc(slices.Clone(ex.Checks), func(c labs.Check) bool { return c.Points == 0 })
					}
					t0 := time.Now()
					rs, err := labs.Run(context.Background(), Lab, run, mustDesign(t, ref.Design), base, nil)
					if err != nil {
						t.Fatal(err)
					}
					t.Logf("whole suite: %v", time.Since(t0).Round(time.Millisecond)) // reported, never asserted
					var failed []string
					want := ex.MaxScore()
					for _, f := range ref.Fails {
						want -= points[f]
					}
					for _, r := range rs {
						t.Logf("%-45s %-5v %6.0f ms  %s", r.Name, r.Passed, r.DurationMS, r.Message)
						if !r.Passed {
							failed = append(failed, r.Name)
						}
						if r.Chart != nil && (len(r.Chart.X) == 0 || len(r.Chart.X) > 200 || len(r.Chart.Series) == 0) {
							t.Errorf("%s: chart with %d points and %d series", r.Name, len(r.Chart.X), len(r.Chart.Series))
						}
						for _, w := range referenceWants[ref.Name][r.Name] {
							if !strings.Contains(r.Message, w) {
								t.Errorf("%s: message lacks %q: %s", r.Name, w, r.Message)
							}
						}
					}
					wantFailed := slices.Clone(ref.Fails)
					slices.Sort(failed)
					slices.Sort(wantFailed)
					if !slices.Equal(failed, wantFailed) {
						t.Errorf("failed %q, want %q", failed, ref.Fails)
					}
					score, max := labs.Score(rs)
					t.Logf("verdict: %d of %d, failed %q", score, max, failed)
					if len(rs) != len(run.Checks) || score != want {
						t.Errorf("%d results, score %d of %d, want %d", len(rs), score, max, want)
					}
				})
			}
		})
	}
}

// sharedKeysLab is the limiter with a bug no design can choose: every
// client's requests count against one key. No design field breaks key
// independence (every algorithm keys its state by client in Redis and in
// memory), so this is how the test proves "keys independent" can fail.
type sharedKeysLab struct{ labs.Lab }

func (l sharedKeysLab) New(ctx context.Context, env labs.Env, d labs.Design) (labs.Instance, error) {
	li, err := l.Lab.New(ctx, env, d)
	if err != nil {
		return nil, err
	}
	return sharedKeys{li.(*instance)}, nil
}

type sharedKeys struct{ *instance }

// Handler sends every request of every client as the one key.
func (s sharedKeys) Handler() http.Handler {
	h := s.instance.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/request" {
			r = r.Clone(r.Context())
			q := r.URL.Query()
			q.Set("key", "everyone")
			r.URL.RawQuery = q.Encode()
		}
		h.ServeHTTP(w, r)
	})
}

func (s sharedKeys) Hit(ctx context.Context, _ string) (int, error) {
	return s.instance.Hit(ctx, "everyone")
}

// "keys independent" fails a limiter that counts every client against one
// key, and says so.
func TestSuiteKeysIndependentCatchesSharedKeys(t *testing.T) {
	check := quotaCheck(t, checkKeys)
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			base := labtest.Env(t, b, "suitekeys")
			r, err := labs.RunCheck(context.Background(), sharedKeysLab{Lab}, check, mustDesign(t, goodQuota(t)), base)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%v %.0f ms: %s", r.Passed, r.DurationMS, r.Message)
			if r.Passed || r.Points != 0 {
				t.Fatalf("passed: %s", r.Message)
			}
			for _, w := range []string{"client B", "only 0 through", "counted against another"} {
				if !strings.Contains(r.Message, w) {
					t.Errorf("message lacks %q: %s", w, r.Message)
				}
			}
		})
	}
}

// The reference table is sound; "keys independent" is failed by a lab
// that shares one key (TestSuiteKeysIndependentCatchesSharedKeys), since no design
// setting can break it.
func TestSuiteReferencesTable(t *testing.T) {
	labtest.CheckReferences(t, Lab, quotaExercise(t), "keys independent")
}
