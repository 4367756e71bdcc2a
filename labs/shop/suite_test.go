package shop

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

// goodDesign passes every check: conditional reservations, idempotency
// keys everywhere, the outbox, and enough consumers for the load.
var goodDesign = map[string]any{"reservation": "conditional_update", "idempotency_keys": true, "outbox": true, "consumers": 4}

func withSaga(d map[string]any, saga string) map[string]any {
	out := map[string]any{"saga": saga}
	for k, v := range d {
		out[k] = v
	}
	return out
}

func runSuite(t *testing.T, base labs.Env, design map[string]any) []labs.CheckResult {
	t.Helper()
	ex := sagaExercise(t)
	start := time.Now()
	rs, err := labs.Run(context.Background(), Lab, ex, mustDesign(t, design), base, nil)
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

func TestSuiteGoodDesign(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			base := labtest.Env(t, b, "suitegood")
			for _, saga := range []string{SagaChoreography, SagaOrchestration} {
				t.Run(saga, func(t *testing.T) {
					rs := runSuite(t, base, withSaga(goodDesign, saga))
					for _, r := range rs {
						if !r.Passed {
							t.Errorf("%s failed: %s", r.Name, r.Message)
						}
					}
					if score, max := labs.Score(rs); score != max {
						t.Errorf("score %d of %d", score, max)
					}
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

type badCase struct {
	name, check string
	lab         labs.Lab // nil: the real lab
	design      map[string]any
	verify      func(t *testing.T, msg string)
}

var badCases = []badCase{
	{"sale-lost", "happy path confirms and sells",
		brokenLab{breakIt: func(in *instance) { in.skipSale.Store(true) }}, goodDesign,
		func(t *testing.T, msg string) {
			hasAll(t, msg, "confirmed", "available 7, reserved 0, sold 3", "the reservation must become a sale")
		}},
	{"release-lost", "declined payment cancels and releases",
		brokenLab{breakIt: func(in *instance) { in.skipRelease.Store(true) }}, goodDesign,
		func(t *testing.T, msg string) {
			hasAll(t, msg, "cancelled (payment declined)", "available 6", "must be released")
		}},
	{"naive-reservation", "no overselling under concurrency", nil,
		map[string]any{"reservation": "naive_read_then_write", "idempotency_keys": true, "outbox": true},
		func(t *testing.T, msg string) {
			if n := countIn(t, `: (\d+) confirmed`, msg); n <= concStock {
				t.Errorf("%d confirmed reported, want more than %d", n, concStock)
			}
			hasAll(t, msg, "reservation=naive_read_then_write", "lost update", "did not stay 50")
		}},
	{"no-idempotency-orders", "one order per idempotency key", nil,
		map[string]any{"idempotency_keys": false, "outbox": true},
		func(t *testing.T, msg string) {
			if n := countIn(t, `answered with (\d+) different order id`, msg); n != idemRetries+1 {
				t.Errorf("%d order ids reported, want %d", n, idemRetries+1)
			}
			hasAll(t, msg, "idempotency_keys=false", "must be refused with 409, but it was answered 202")
		}},
	{"no-idempotency-callbacks", "duplicate callbacks charge once", nil,
		map[string]any{"idempotency_keys": false, "outbox": true},
		func(t *testing.T, msg string) {
			if n := countIn(t, `confirmed, (\d+) charges in all`, msg); n < 2*dupOrders {
				t.Errorf("%d charges reported, want at least %d", n, 2*dupOrders)
			}
			hasAll(t, msg, "idempotency_keys=false", "captures the money for every copy")
		}},
	{"dual-write", "crash mid-saga recovers", nil,
		map[string]any{"idempotency_keys": true, "outbox": false},
		func(t *testing.T, msg string) {
			if n := countIn(t, `(\d+) orders never settled`, msg); n != 4 {
				t.Errorf("%d stuck orders reported, want 4 (one per consumer dead after its commit)", n)
			}
			hasAll(t, msg, "outbox=false", "never published", "skipped them")
		}},
	{"one-consumer", "orders settle within the bound", nil,
		map[string]any{"idempotency_keys": true, "outbox": true, "consumers": 1},
		func(t *testing.T, msg string) {
			hasAll(t, msg, "took longer than 1500 ms", "Little's law", "1 consumers per service finish at most 10 payments a second")
		}},
}

func TestSuiteBadDesigns(t *testing.T) {
	ex := sagaExercise(t)
	covered := map[string]bool{}
	for _, c := range badCases {
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
			for _, c := range badCases {
				t.Run(c.name, func(t *testing.T) {
					l := c.lab
					if l == nil {
						l = Lab
					}
					r, err := labs.RunCheck(context.Background(), l, checkNamed(t, ex, c.check), mustDesign(t, c.design), base)
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

// The crash check also fails the other ways a design can lose work after a
// crash, and says which (embedded backend: the verdict, not the store).
func TestSuiteCrashVariants(t *testing.T) {
	ex := sagaExercise(t)
	base := labtest.Env(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, "suitecrash")
	cases := []struct {
		name   string
		design map[string]any
		wants  []string
	}{
		{"no-idempotency", map[string]any{"idempotency_keys": false, "outbox": true},
			[]string{"charged more than once", "a reservation leaked", "idempotency_keys=false", "processed the messages they had committed a second time"}},
		{"dual-write-no-idempotency", map[string]any{"idempotency_keys": false, "outbox": false, "saga": "orchestration"},
			[]string{"reservation leaked", "idempotency_keys=false"}},
		// The consumers that die before their commit die in a reservation
		// (the order never settles) or in a sale of an earlier order (its
		// stock stays reserved); either is reported.
		{"dead-letter-too-soon", map[string]any{"idempotency_keys": true, "outbox": true, "max_deliveries": 1},
			[]string{"dead-lettered", "max_deliveries=1", "died before its commit"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := labs.RunCheck(context.Background(), Lab, checkNamed(t, ex, "crash mid-saga recovers"), mustDesign(t, c.design), base)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s (%.0f ms): %s", r.Name, r.DurationMS, r.Message)
			if r.Passed {
				t.Fatal("passed")
			}
			hasAll(t, r.Message, c.wants...)
			if !strings.Contains(r.Message, "never settled") && !strings.Contains(r.Message, "does not add up") {
				t.Errorf("message names neither stuck orders nor stock: %s", r.Message)
			}
		})
	}
}
