package gradebook

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/store"
)

func ip(n int) *int { return &n }

func sample() Book {
	due := time.Date(2026, 12, 1, 17, 0, 0, 0, time.UTC)
	return Book{
		Class:   store.Class{ID: 1, Name: "C"},
		Lessons: 18,
		Columns: []Column{{ID: 7, Kind: store.AssignExercise, Ref: "limiter-api-quota", Title: "Quota", Max: 100, DueAt: &due},
			{ID: 8, Kind: store.AssignQuiz, Ref: "cap", Title: "Quiz: CAP", Max: 100}},
		Rows: []Row{
			{Email: "=cmd@example.com", Cells: []Cell{{Score: ip(40), Max: 100}, {Max: 100}}, Total: 40, Lessons: 3},
			{Email: "bea@example.com", Cells: []Cell{{Max: 100}, {Score: ip(90), Max: 100}}, Total: 90, Lessons: 9},
			{Email: "ann@example.com", Cells: []Cell{{Score: ip(80), Max: 100, Late: true, LateCount: 1}, {Score: ip(50), Max: 100}}, Total: 130, Lessons: 1},
		},
	}
}

func emails(b Book) []string {
	var out []string
	for _, r := range b.Rows {
		out = append(out, r.Email)
	}
	return out
}

func TestSortAndFilter(t *testing.T) {
	cases := []struct {
		key  string
		desc bool
		want []string
	}{
		{"email", false, []string{"=cmd@example.com", "ann@example.com", "bea@example.com"}},
		{"a7", true, []string{"ann@example.com", "=cmd@example.com", "bea@example.com"}}, // no score sorts lowest
		{"a7", false, []string{"bea@example.com", "=cmd@example.com", "ann@example.com"}},
		{"lessons", true, []string{"bea@example.com", "=cmd@example.com", "ann@example.com"}},
		{"total", true, []string{"ann@example.com", "bea@example.com", "=cmd@example.com"}},
		{"a999", false, []string{"=cmd@example.com", "ann@example.com", "bea@example.com"}}, // unknown column: ties by email
	}
	for _, c := range cases {
		b := sample()
		b.Sort(c.key, c.desc)
		if got := emails(b); !equal(got, c.want) {
			t.Errorf("sort %s desc=%v: %v, want %v", c.key, c.desc, got, c.want)
		}
	}
	b := sample()
	b.Filter("", "late")
	if got := emails(b); !equal(got, []string{"ann@example.com"}) {
		t.Errorf("late: %v", got)
	}
	b = sample()
	b.Filter("", "missing")
	if got := emails(b); !equal(got, []string{"=cmd@example.com", "bea@example.com"}) {
		t.Errorf("missing: %v", got)
	}
	b = sample()
	b.Filter("BEA", "")
	if got := emails(b); !equal(got, []string{"bea@example.com"}) {
		t.Errorf("query: %v", got)
	}
}

func TestCSV(t *testing.T) {
	var buf bytes.Buffer
	if err := sample().WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"Email", "Quota (limiter-api-quota)", "Quiz: CAP (cap)", "Total", "Lessons completed", "Quiz average (%)", "Review streak (days)"},
		{"Points possible", "100", "100", "200", "18", "100", ""},
		{"'=cmd@example.com", "40", "", "40", "3", "0", "0"}, // a formula is defused
	}
	for i, w := range want {
		if !equal(rows[i], w) {
			t.Errorf("row %d: %q, want %q", i, rows[i], w)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The distribution counts every learner in the tenth of the points their
// best score falls in (full marks in the last), those without one apart,
// and the median of those with one.
func TestDistributions(t *testing.T) {
	b := Book{Columns: []Column{{Title: "Quota", Max: 100}, {Title: "Quiz", Max: 7}}}
	for _, s := range [][2]*int{{ip(100), ip(7)}, {ip(95), nil}, {ip(0), ip(3)}, {nil, ip(6)}, {ip(55), ip(0)}} {
		b.Rows = append(b.Rows, Row{Cells: []Cell{{Score: s[0]}, {Score: s[1]}}})
	}
	d := b.Distributions()
	if want := [10]int{1, 0, 0, 0, 0, 1, 0, 0, 0, 2}; d[0].Bins != want || d[0].None != 1 || d[0].Median != 55 || d[0].Scored() != 4 || d[0].Most() != 2 {
		t.Errorf("quota: %+v", d[0])
	}
	// 7 of 7 → 9, 3 of 7 → 4 (42%), 6 of 7 → 8 (85%), 0 → 0.
	if want := [10]int{1, 0, 0, 0, 1, 0, 0, 0, 1, 1}; d[1].Bins != want || d[1].None != 1 || d[1].Median != 3 {
		t.Errorf("quiz: %+v", d[1])
	}
	if e := (Book{Columns: []Column{{Max: 10}}}).Distributions(); e[0].Median != -1 || e[0].Most() != 1 {
		t.Errorf("an empty class: %+v", e[0])
	}
}
