package lessons

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// estimationStyle says whether a numeric question is a back-of-the-envelope
// estimate: a rate per second from a volume per day, month or year, or a
// size in gigabytes or terabytes. Those are answered with rounded numbers
// (a day ≈ 10⁵ s), so their grading must accept them.
func estimationStyle(qq *QuizQuestion) bool {
	if qq.Kind != KindNumeric {
		return false
	}
	unit := strings.ToLower(qq.Unit)
	if unit == "gb" || unit == "tb" {
		return true
	}
	perSecond := strings.HasSuffix(unit, "/s") || strings.HasSuffix(unit, "/second")
	return perSecond && volumePerPeriod.MatchString(string(qq.Prompt))
}

var volumePerPeriod = regexp.MustCompile(`(?i)\b(a|per|each) (day|month|year)\b|\bdaily\b`)

// Every estimation-style answer accepts about ±15%: 6,000 for the 6,944
// requests a second at peak that a 10⁵-second day gives.
func TestEstimatesAcceptFifteenPercent(t *testing.T) {
	c := MustCatalog(t)
	found := map[string]bool{}
	for _, l := range c.Lessons {
		for _, qq := range c.Quizzes[l.Slug].Questions {
			if !estimationStyle(qq) {
				continue
			}
			found[qq.ID] = true
			if !qq.Estimate {
				t.Errorf("%s/%s: an estimate (%v %s) not marked estimate: true", l.Slug, qq.ID, qq.Answer, qq.Unit)
			}
			q := &Quiz{Questions: []*QuizQuestion{qq}}
			for _, f := range []float64{0.85, 1.15} {
				given := strconv.FormatFloat(qq.Answer*f, 'f', -1, 64)
				if r := q.Grade(Answers{qq.ID: {given}}); r.Score != 1 {
					t.Errorf("%s/%s: %s (%v%% of %v) marked wrong", l.Slug, qq.ID, given, f*100, qq.Answer)
				}
			}
		}
	}
	// The classifier finds the questions that were marking good estimates wrong.
	for _, id := range []string{"peak-qps", "timeline-reads-per-second", "posts-per-second", "writes-per-second"} {
		if !found[id] {
			t.Errorf("%s is not recognised as an estimate", id)
		}
	}
	pq := c.Quizzes["design-principles"]
	if r := pq.Grade(Answers{"peak-qps": {"6,000"}}); r.Results[0].Question.ID != "peak-qps" || !r.Results[0].Correct {
		t.Error("peak-qps: 6,000 (a day as 10⁵ s) is marked wrong")
	}
}

func TestEstimateGrading(t *testing.T) {
	qq := &QuizQuestion{ID: "e", Kind: KindNumeric, Answer: 6944, Tolerance: 120, Estimate: true}
	exact := &QuizQuestion{ID: "x", Kind: KindNumeric, Answer: 6944, Tolerance: 120}
	q := &Quiz{PassPercent: 50, Questions: []*QuizQuestion{qq, exact}}
	cases := []struct {
		given          string
		estimate, want bool
	}{
		{"6000", true, false}, {"7900", true, false}, {"5800", false, false}, {"8050", false, false}, {"6900", true, true},
	}
	for _, c := range cases {
		r := q.Grade(Answers{"e": {c.given}, "x": {c.given}})
		if r.Results[0].Correct != c.estimate || r.Results[1].Correct != c.want {
			t.Errorf("%s: estimate %v exact %v; want %v %v", c.given, r.Results[0].Correct, r.Results[1].Correct, c.estimate, c.want)
		}
	}
	// A wide absolute tolerance still applies to an estimate.
	wide := &QuizQuestion{Kind: KindNumeric, Answer: 10, Tolerance: 5, Estimate: true}
	if wide.Allowed() != 5 {
		t.Errorf("allowed %v, want the tolerance 5", wide.Allowed())
	}
}

func TestEstimateOnlyOnNumeric(t *testing.T) {
	p := &problems{}
	ans := 0.0
	quizQuestionMeta{ID: "a", Kind: KindNumeric, Answer: &ans, Estimate: true, Explanation: "x"}.question(p, "f", "q1")
	quizQuestionMeta{ID: "b", Kind: KindSingle, Choices: []string{"a", "b"}, Correct: []int{0}, Estimate: true, Explanation: "x"}.question(p, "f", "q2")
	if len(*p) != 2 {
		t.Errorf("problems %v, want a zero estimate and an estimate on a choice question", *p)
	}
}
