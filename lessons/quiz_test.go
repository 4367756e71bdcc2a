package lessons

import (
	"html/template"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestParseNumber(t *testing.T) {
	good := map[string]float64{
		"21.6": 21.6, " 21,6 ": 21.6, "1 000 000": 1e6, "1,000,000": 1e6, "3.5e9": 3.5e9,
		"99.95%": 99.95, "40 ms": 40, "-3": -3, "38.58 writes/s": 38.58, "1,5": 1.5, "1,500": 1500,
		"5 e": 5, "2E3": 2000, "1\u00a0000": 1000,
	}
	for in, want := range good {
		got, err := ParseNumber(in)
		if err != nil || math.Abs(got-want) > 1e-9 {
			t.Errorf("ParseNumber(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "abc", "..", "NaN", "Inf", "1e999", strings.Repeat("9", 50), "e5"} {
		if _, err := ParseNumber(bad); err == nil {
			t.Errorf("ParseNumber(%q) accepted", bad)
		}
	}
}

func sampleQuiz() *Quiz {
	return &Quiz{Lesson: "x", PassPercent: 70, Questions: []*QuizQuestion{
		{ID: "n", Kind: KindNumeric, Answer: 21.6, Tolerance: 0.5},
		{ID: "s", Kind: KindSingle, Choices: []template.HTML{"a", "b", "c"}, Correct: []int{1}},
		{ID: "m", Kind: KindMultiple, Choices: []template.HTML{"a", "b", "c", "d"}, Correct: []int{0, 3}},
	}}
}

func TestGrade(t *testing.T) {
	q := sampleQuiz()
	r := q.Grade(Answers{"n": {"21,9"}, "s": {"1"}, "m": {"3", "0"}})
	if r.Score != 3 || !r.Passed || r.Percent() != 100 {
		t.Errorf("all right: %+v", r)
	}
	r = q.Grade(Answers{"n": {"23"}, "s": {"1", "2"}, "m": {"0"}})
	if r.Score != 0 || r.Passed {
		t.Errorf("all wrong: score %d", r.Score)
	}
	if r.Results[1].Problem == "" {
		t.Error("two picks on a single-choice question should say so")
	}
	r = q.Grade(Answers{"m": {"0", "3", "0", "99", "-1", "x"}, "s": {"1"}})
	if r.Score != 2 || r.Results[0].Problem == "" {
		t.Errorf("duplicates and junk ignored, unanswered numeric wrong: %+v", r.Results)
	}
	// 2 of 3 is 66%: below a 70% pass mark.
	r = q.Grade(Answers{"n": {"21.6"}, "s": {"1"}})
	if r.Score != 2 || r.Passed {
		t.Errorf("2/3 at 70%%: %+v", r)
	}
}

func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"21.6", "1,000", "1e9", "99.9%", "-0", "1 2 3", ",", "e", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseNumber(s)
		if err == nil && (math.IsNaN(n) || math.IsInf(n, 0)) {
			t.Fatalf("ParseNumber(%q) = %v", s, n)
		}
		if err == nil && len(strings.TrimSpace(s)) > 40 {
			t.Fatalf("accepted a %d-byte answer", len(s))
		}
	})
}

// FuzzGrade: any form input grades without panicking and within bounds.
func FuzzGrade(f *testing.F) {
	f.Add("n", "21.6", "s", "1")
	f.Add("m", "0", "m", "3")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		a := Answers{k1: {v1}, k2: {v2, v1, strconv.Itoa(len(v2))}}
		r := sampleQuiz().Grade(a)
		if r.Score < 0 || r.Score > r.Max || len(r.Results) != r.Max {
			t.Fatalf("grade out of bounds: %+v", r)
		}
	})
}
