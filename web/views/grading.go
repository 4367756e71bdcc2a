package views

import (
	"encoding/json"
	"fmt"
	"html/template"
	"sort"
	"strings"
	"time"

	"github.com/sdworkbook/workbook/grader"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/labs"
)

// ExerciseSummary is an exercise on its lab's page, with the learner's best
// and, for a step of the lab's ladder, where the learner stands on it.
type ExerciseSummary struct {
	Exercise labs.Exercise
	Best     *store.BestScore
	Passed   bool
	// Locked: the step cannot be submitted yet; LockedBy says what unlocks it.
	Locked   bool
	LockedBy string
}

// PassMark says what passing a step means, as the ladder shows it.
const PassMark = "A step is passed with a full score: every check that earns points passes."

// LockedSentence says what unlocks a locked step.
func LockedSentence(after labs.Exercise) string {
	return fmt.Sprintf("Unlocks when you pass step %d, “%s”, with a full score (%d points).", after.Step, after.Title, after.MaxScore())
}

// ExercisePage is the model of /labs/{lab}/exercises/{exercise}.
type ExercisePage struct {
	Lab      labs.Info
	Exercise labs.Exercise
	Fields   []labs.Field
	Values   map[string]string
	Notes    string
	Errors   labs.FieldErrors
	Message  string
	SignedIn bool
	Attempts []Attempt // newest first
	// A build exercise's contract (rendered Markdown) and the language
	// chosen on its upload form.
	Contract template.HTML
	Language string
	// Locked says what unlocks this step, when the learner has not yet.
	Locked string
}

// Best is the best graded attempt, or nil.
func (m ExercisePage) Best() *Attempt {
	var best *Attempt
	for i, s := range m.Attempts {
		if s.Score != nil && s.Counts() && (best == nil || *s.Score > *best.Score) {
			best = &m.Attempts[i]
		}
	}
	return best
}

// Counted is how many attempts count.
func (m ExercisePage) Counted() int {
	n := 0
	for _, s := range m.Attempts {
		if s.Counts() {
			n++
		}
	}
	return n
}

// SubmissionPage is the model of /submissions/{id}.
type SubmissionPage struct {
	Result   grader.Result
	Exercise labs.Exercise
	Lab      labs.Info
	Fields   []labs.Field
	// Reviews are the overrides and feedback of the classes that reviewed
	// the submission, each with its class's name, shown to the learner.
	Reviews []ClassReview
	// Due is when the learner's classes wanted this exercise done.
	Due []ClassDue
	// Staff shows the technical detail of the result (an instructor's or
	// admin's view); learners read only sentences.
	Staff bool
	// ArchiveURL downloads a build submission's archive, as the viewer
	// may: the learner's own, or through the class.
	ArchiveURL string
}

// environmentSentence is the line saying where a submission was graded.
// Results recorded before it was a sentence of its own held only the
// place ("embedded: in-process Redis").
func environmentSentence(env string) string {
	if strings.HasPrefix(env, "Graded ") {
		return env
	}
	return "Graded in " + strings.TrimSuffix(env, ".") + "."
}

// late reports whether the submission came after d.
func (m SubmissionPage) late(d ClassDue) bool { return m.Result.CreatedAt.After(d.DueAt) }

// statusLabel is how a submission status reads on a page.
func statusLabel(s string) string {
	switch s {
	case store.StatusQueued:
		return "Queued"
	case store.StatusRunning:
		return "Grading…"
	case store.StatusGraded:
		return "Graded"
	case store.StatusNotGradable:
		return "Not gradable"
	case store.StatusTimedOut:
		return "Timed out"
	}
	return s
}

func statusClass(s string) string {
	switch s {
	case store.StatusGraded:
		return "pill status-graded"
	case store.StatusNotGradable, store.StatusTimedOut:
		return "pill status-bad"
	}
	return "pill status-pending"
}

func scoreText(score *int, max int) string {
	if score == nil {
		return "–"
	}
	return fmt.Sprintf("%d / %d", *score, max)
}

func pct(score *int, max int) int {
	if score == nil || max == 0 {
		return 0
	}
	return *score * 100 / max
}

func chartJSON(c *labs.CheckChart) string {
	b, err := json.Marshal(c)
	if err != nil {
		return "{}"
	}
	return string(b)
}

func durationText(ms float64) string {
	if ms < 1000 {
		return fmt.Sprintf("%.0f ms", ms)
	}
	return fmt.Sprintf("%.1f s", ms/1000)
}

func dateText(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") }

// designRows lists a design's values in the lab's field order.
func designRows(fields []labs.Field, d labs.Design) [][2]string {
	var out [][2]string
	seen := map[string]bool{}
	for _, f := range fields {
		if v, ok := d[f.Name]; ok {
			label := f.Label
			if label == "" {
				label = f.Name
			}
			out = append(out, [2]string{label, designValue(v, f.Unit)})
			seen[f.Name] = true
		}
	}
	var rest []string
	for k := range d {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range rest {
		out = append(out, [2]string{k, designValue(d[k], "")})
	}
	return out
}

func passedCount(cs []labs.CheckResult) int {
	n := 0
	for _, c := range cs {
		if c.Passed {
			n++
		}
	}
	return n
}
