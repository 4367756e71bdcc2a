package lessons

import (
	"fmt"
	"html/template"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Question kinds.
const (
	KindSingle   = "single"
	KindMultiple = "multiple"
	KindNumeric  = "numeric"
)

// Quiz is a lesson's quiz.
type Quiz struct {
	Lesson      string
	PassPercent int
	Questions   []*QuizQuestion
}

// QuizQuestion is one question of a quiz.
type QuizQuestion struct {
	ID        string
	Kind      string
	Prompt    template.HTML
	Choices   []template.HTML
	Correct   []int
	Answer    float64
	Tolerance float64
	// Estimate marks a back-of-the-envelope answer: it is also accepted
	// within EstimateShare of Answer, so rounding a day to 10⁵ s passes.
	Estimate    bool
	Unit        string
	Explanation template.HTML
}

// EstimateShare is how far, as a share of the answer, an estimate may be
// off and still be right: rounding a day to 10⁵ s or a month to 2.5 × 10⁶ s
// moves an answer by about 14%.
const EstimateShare = 0.15

// Allowed is how far an answer may be from Answer and still be right.
func (qq *QuizQuestion) Allowed() float64 {
	if qq.Estimate {
		return max(qq.Tolerance, EstimateShare*math.Abs(qq.Answer))
	}
	return qq.Tolerance
}

// Answers are a learner's raw answers: question id → submitted values
// (choice indexes as strings, or one number).
type Answers map[string][]string

// QuestionResult is the grade of one question.
type QuestionResult struct {
	Question *QuizQuestion
	Correct  bool
	// Given is what the learner answered, as shown back to them.
	Given []string
	// Chosen holds the picked choice indexes for choice questions.
	Chosen []int
	// Number is the parsed numeric answer.
	Number *float64
	// Problem says why an answer could not be read ("" when it could).
	Problem string
}

// Result is a graded attempt.
type Result struct {
	Quiz    *Quiz
	Results []QuestionResult
	Score   int
	Max     int
	Passed  bool
}

// Percent is the score as a whole percentage.
func (r Result) Percent() int {
	if r.Max == 0 {
		return 0
	}
	return r.Score * 100 / r.Max
}

// maxChoices bounds the values one question can receive.
const maxChoices = 16

// Grade grades answers on the server. Unanswered questions count as wrong;
// unreadable answers are wrong and say why. It never panics on any input.
func (q *Quiz) Grade(a Answers) Result {
	res := Result{Quiz: q, Max: len(q.Questions)}
	for _, qq := range q.Questions {
		r := qq.grade(a[qq.ID])
		if r.Correct {
			res.Score++
		}
		res.Results = append(res.Results, r)
	}
	res.Passed = res.Max > 0 && res.Score*100 >= q.PassPercent*res.Max
	return res
}

func (qq *QuizQuestion) grade(vals []string) QuestionResult {
	r := QuestionResult{Question: qq}
	if len(vals) > maxChoices {
		vals = vals[:maxChoices]
	}
	switch qq.Kind {
	case KindNumeric:
		if len(vals) == 0 || strings.TrimSpace(vals[0]) == "" {
			r.Problem = "No answer given."
			return r
		}
		r.Given = []string{truncate(vals[0], 40)}
		n, err := ParseNumber(vals[0])
		if err != nil {
			r.Problem = err.Error()
			return r
		}
		r.Number = &n
		r.Correct = math.Abs(n-qq.Answer) <= qq.Allowed()*(1+1e-12)+1e-9
	default:
		seen := map[int]bool{}
		for _, v := range vals {
			i, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || i < 0 || i >= len(qq.Choices) || seen[i] {
				continue
			}
			seen[i] = true
			r.Chosen = append(r.Chosen, i)
		}
		slices.Sort(r.Chosen)
		if len(r.Chosen) == 0 {
			r.Problem = "No choice picked."
			return r
		}
		if qq.Kind == KindSingle && len(r.Chosen) > 1 {
			r.Problem = "Pick only one choice."
			return r
		}
		r.Correct = slices.Equal(r.Chosen, qq.Correct)
	}
	return r
}

// ParseNumber reads a numeric answer as people type it: "21.6", "21,6",
// "1 000 000", "1,000,000", "3.5e9", "99.95%", "40 ms". Units and a percent
// sign after the number are ignored; the error says what was wrong.
func ParseNumber(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if len(s) > 40 {
		return 0, fmt.Errorf("That answer is too long to be a number.")
	}
	// Keep the leading number: digits, signs, separators and an exponent.
	end := 0
	for i, r := range s {
		if strings.ContainsRune("0123456789+-.,_ \u00a0\u202feE", r) {
			end = i + len(string(r))
			continue
		}
		break
	}
	num := strings.TrimSpace(s[:end])
	num = strings.NewReplacer(" ", "", "\u00a0", "", "\u202f", "", "_", "").Replace(num)
	// Trailing exponent letters belong to a unit ("5 e" is not a number).
	num = strings.TrimRight(num, "eE+-")
	if num == "" {
		return 0, fmt.Errorf("Enter a number, like 21.6.")
	}
	switch c := strings.Count(num, ","); {
	case c == 1 && !strings.Contains(num, ".") && len(num)-strings.Index(num, ",")-1 != 3:
		num = strings.Replace(num, ",", ".", 1) // decimal comma: 21,6
	default:
		num = strings.ReplaceAll(num, ",", "") // thousands: 1,000,000
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return 0, fmt.Errorf("%q is not a number we can read; use digits and a decimal point.", truncate(s, 20))
	}
	return n, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
