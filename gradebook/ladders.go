package gradebook

import (
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/labs"
)

// Ladder is one lab's exercise ladder: its design exercises by step.
type Ladder struct {
	Lab       string          `json:"lab"`
	Title     string          `json:"title"`
	Steps     int             `json:"steps"`
	Exercises []labs.Exercise `json:"-"`
}

// LaddersOf lists the ladders of graded labs ls, in their order;
// exercises lists a lab's exercises.
func LaddersOf(ls []labs.Lab, exercises func(labID string) []labs.Exercise) []Ladder {
	var out []Ladder
	for _, l := range ls {
		ld := Ladder{Lab: l.Info().ID, Title: l.Info().Title}
		for _, ex := range labs.Ladder(exercises(ld.Lab)) {
			if ex.Kind() == labs.KindDesign {
				ld.Exercises = append(ld.Exercises, ex)
			}
		}
		if ld.Steps = len(ld.Exercises); ld.Steps > 0 {
			out = append(out, ld)
		}
	}
	return out
}

// ladderExercises are the ids of every ladder step.
func ladderExercises(ls []Ladder) []string {
	var out []string
	for _, l := range ls {
		for _, ex := range l.Exercises {
			out = append(out, ex.ID)
		}
	}
	return out
}

// stepsReached is, per lab, the highest step of its ladder a learner has
// passed (0 for none): a graded submission with the step's full score,
// the pass mark that unlocks the next step.
func stepsReached(userID int64, ls []Ladder, subs []store.Submission) map[string]int {
	passed := map[string]bool{}
	for _, s := range subs {
		if s.UserID == userID && s.Status == store.StatusGraded && s.Score != nil && s.MaxScore > 0 && *s.Score >= s.MaxScore {
			passed[s.Exercise] = true
		}
	}
	out := map[string]int{}
	for _, l := range ls {
		out[l.Lab] = 0
		for _, ex := range l.Exercises {
			if passed[ex.ID] && ex.Step > out[l.Lab] {
				out[l.Lab] = ex.Step
			}
		}
	}
	return out
}
