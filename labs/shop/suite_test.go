package shop

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

func sagaExercise(tb testing.TB) labs.Exercise {
	tb.Helper()
	for _, ex := range labs.ExercisesOf(Lab) {
		if ex.ID == "shop-order-saga" {
			return ex
		}
	}
	tb.Fatal("no exercise shop-order-saga")
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
			t.Errorf("exercise %s: lab %q, title %q, %d card lines, needs_db %v, scale %q", ex.ID, ex.Lab, ex.Title, len(ex.Card), ex.NeedsDB, ex.Scale)
		}
		if ex.MaxScore() <= 0 {
			t.Errorf("exercise %s: max score %d", ex.ID, ex.MaxScore())
		}
		names := map[string]bool{}
		for _, c := range ex.Checks {
			if c.Name == "" || c.Requirement == "" || c.Run == nil || c.Points < 0 || names[c.Name] || c.Name != strings.ToLower(c.Name) {
				t.Errorf("exercise %s: check %+v incomplete or repeated", ex.ID, c)
			}
			names[c.Name] = true
		}
	}
}

// runSuite grades design with every check of the exercise and logs what
// each saw.
func runSuite(t *testing.T, base labs.Env, l labs.Lab, design labs.Design) []labs.CheckResult {
	t.Helper()
	ex := sagaExercise(t)
	start := time.Now()
	rs, err := labs.Run(context.Background(), l, ex, design, base, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != len(ex.Checks) {
		t.Fatalf("%d results for %d checks", len(rs), len(ex.Checks))
	}
	for _, r := range rs {
		t.Logf("%s (%.0f ms, passed %v): %s", r.Name, r.DurationMS, r.Passed, r.Message)
	}
	t.Logf("whole suite: %s", time.Since(start).Round(time.Millisecond))
	return rs
}

// referenceDesign is the lab's defaults with a reference's changes,
// validated as a submission would be.
func referenceDesign(tb testing.TB, r labs.Reference) labs.Design {
	tb.Helper()
	raw := map[string]any{}
	for _, f := range Lab.Fields() {
		raw[f.Name] = f.Default
	}
	for k, v := range r.Design {
		raw[k] = v
	}
	return mustDesign(tb, raw)
}

// countIn reads the number matched by re's first group in msg.
func countIn(tb testing.TB, re, msg string) int {
	tb.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(msg)
	if m == nil {
		tb.Fatalf("no %q in %q", re, msg)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func hasAll(tb testing.TB, msg string, wants ...string) {
	tb.Helper()
	for _, w := range wants {
		if !strings.Contains(msg, w) {
			tb.Errorf("message lacks %q: %s", w, msg)
		}
	}
}

// failMessages says what a reference's failure of a check must tell the
// learner, by reference name and check name.
var failMessages = map[[2]string]func(t *testing.T, msg string){
	{"naive-reservation", chkConcurrency}: func(t *testing.T, msg string) {
		if n := countIn(t, `: (\d+) confirmed`, msg); n <= concStock {
			t.Errorf("%d confirmed reported, want more than %d", n, concStock)
		}
		hasAll(t, msg, "reservation=naive_read_then_write", "lost update", "did not stay 50")
	},
	{"naive-reservation", chkCrash}: func(t *testing.T, msg string) {
		hasAll(t, msg, "the stock does not add up", "reservation=naive_read_then_write", "lost update")
	},
	{"no-idempotency", chkIdempotency}: func(t *testing.T, msg string) {
		if n := countIn(t, `answered with (\d+) different order id`, msg); n != idemRetries+1 {
			t.Errorf("%d order ids reported, want %d", n, idemRetries+1)
		}
		hasAll(t, msg, "idempotency_keys=false", "must be refused with 409, but it was answered 202")
	},
	{"no-idempotency", chkCallbacks}: func(t *testing.T, msg string) {
		if n := countIn(t, `confirmed, (\d+) charges in all`, msg); n < 2*dupOrders {
			t.Errorf("%d charges reported, want at least %d", n, 2*dupOrders)
		}
		hasAll(t, msg, "idempotency_keys=false", "captures the money for every copy")
	},
	{"no-idempotency", chkCrash}: func(t *testing.T, msg string) {
		hasAll(t, msg, "charged more than once", "idempotency_keys=false", "processed the messages they had committed a second time")
	},
	{"dual-write", chkCrash}: func(t *testing.T, msg string) {
		if n := countIn(t, `(\d+) orders never settled`, msg); n != 4 {
			t.Errorf("%d stuck orders reported, want 4 (one per consumer dead after its commit)", n)
		}
		hasAll(t, msg, "outbox=false", "never published", "skipped them", "Nothing was left in flight")
	},
	{"dual-write-no-idempotency", chkCrash}: func(t *testing.T, msg string) {
		hasAll(t, msg, "reservation leaked", "idempotency_keys=false")
	},
	// The consumers that die before their commit die in a reservation (the
	// order never settles) or in a sale of an earlier order (its stock stays
	// reserved); either is reported.
	{"dead-letter-too-soon", chkCrash}: func(t *testing.T, msg string) {
		hasAll(t, msg, "dead-lettered", "max_deliveries=1", "died before its commit")
		if !strings.Contains(msg, "never settled") && !strings.Contains(msg, "does not add up") {
			t.Errorf("message names neither stuck orders nor stock: %s", msg)
		}
	},
	{"one-consumer", chkBound}: func(t *testing.T, msg string) {
		hasAll(t, msg, "took longer than 1500 ms", "Little's law", "1 consumers per service finish at most 10 payments a second")
	},
}

// Every reference design gets exactly its known verdict, with messages
// that say why: the exercise's own table, so the tests and the grading
// stability test (which grades every reference on PostgreSQL, several
// times, on a loaded machine) cannot drift apart. Every reference is
// graded on the embedded backend; on PostgreSQL the good ones are, and the
// stability test grades the others there.
func TestSuiteReferences(t *testing.T) {
	ex := sagaExercise(t)
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			base := labtest.Env(t, b, "suiteref")
			for _, ref := range ex.References {
				if b.Name != "embedded" && len(ref.Fails) > 0 {
					continue
				}
				t.Run(ref.Name, func(t *testing.T) {
					rs := runSuite(t, base, Lab, referenceDesign(t, ref))
					var failed []string
					for _, r := range rs {
						if !r.Passed {
							failed = append(failed, r.Name)
							if verify := failMessages[[2]string{ref.Name, r.Name}]; verify != nil {
								verify(t, r.Message)
							}
						}
					}
					if !slices.Equal(failed, ref.Fails) {
						t.Errorf("failed %q, the reference says %q", failed, ref.Fails)
					}
					score, maxScore := labs.Score(rs)
					lost := 0
					for _, c := range ex.Checks {
						if slices.Contains(ref.Fails, c.Name) {
							lost += c.Points
						}
					}
					if score != maxScore-lost {
						t.Errorf("score %d of %d, want %d", score, maxScore, maxScore-lost)
					}
				})
			}
		})
	}
}

// brokenLab is the shop with a saga step that no design can break taken
// out, to prove the checks of those steps can fail.
type brokenLab struct {
	lab
	breakIt func(*instance)
}

func (b brokenLab) New(ctx context.Context, env labs.Env, d labs.Design) (labs.Instance, error) {
	li, err := b.lab.New(ctx, env, d)
	if err == nil {
		b.breakIt(li.(*instance))
	}
	return li, err
}

// brokenSteps are the failures no design can make: each check's shop has
// a step taken out.
var brokenSteps = []struct {
	name, check string
	breakIt     func(*instance)
	verify      func(t *testing.T, msg string)
}{
	{"sale-lost", chkHappy, func(in *instance) { in.skipSale.Store(true) },
		func(t *testing.T, msg string) {
			hasAll(t, msg, "confirmed", "available 7, reserved 3, sold 0", "the reservation must become a sale")
		}},
	{"release-lost", chkDeclined, func(in *instance) { in.skipRelease.Store(true) },
		func(t *testing.T, msg string) {
			hasAll(t, msg, "cancelled (payment declined)", "available 6", "must be released")
		}},
}

func TestSuiteBrokenSteps(t *testing.T) {
	ex := sagaExercise(t)
	base := labtest.Env(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, "suitebroken")
	good := referenceDesign(t, ex.References[0])
	for _, c := range brokenSteps {
		t.Run(c.name, func(t *testing.T) {
			r, err := labs.RunCheck(context.Background(), brokenLab{breakIt: c.breakIt}, checkNamed(t, ex, c.check), good, base)
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
}

// Every check that earns points is failed by some reference design or by
// a shop with a broken step, so each is known to be able to fail; the
// references name only real checks and are valid designs.
func TestSuiteReferencesCover(t *testing.T) {
	ex := sagaExercise(t)
	var byBroken []string
	for _, c := range brokenSteps {
		byBroken = append(byBroken, c.check)
	}
	seen := labtest.CheckReferences(t, Lab, ex, byBroken...)
	names := map[string]bool{}
	for _, c := range ex.Checks {
		names[c.Name] = true
	}
	for k := range failMessages {
		if !seen[k[0]] || !names[k[1]] {
			t.Errorf("message test for %v names no reference or check", k)
		}
	}
}
