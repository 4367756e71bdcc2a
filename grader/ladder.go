package grader

import (
	"context"
	"fmt"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/labs"
)

// Step is one rung of a lab's exercise ladder as one learner stands on it.
type Step struct {
	Exercise labs.Exercise
	// Best is the learner's best result on it, nil before any attempt.
	Best *store.BestScore
	// Passed: the learner's best graded score is the exercise's full
	// score (every check that earns points passed). That is the pass mark.
	Passed bool
	// Unlocked: the learner may submit it: the first step, a step whose
	// previous step is passed, or any step in a class whose instructor
	// unlocked the ladders.
	Unlocked bool
	// After is the step that unlocks this one when passed (nil for the
	// first step).
	After *labs.Exercise
}

// Passed reports whether a best result meets the pass mark: a graded
// attempt with the exercise's full score.
func Passed(b store.BestScore) bool {
	return b.Graded > 0 && b.MaxScore > 0 && b.Score >= b.MaxScore
}

// Ladder is a learner's standing on each step of a lab's ladder (its
// design exercises by step; build exercises are off the ladder). userID 0
// is someone signed out: only the first step is open.
func (g *Grader) Ladder(ctx context.Context, userID int64, labID string) ([]Step, error) {
	best := map[string]store.BestScore{}
	unlockedAll := false
	if userID != 0 {
		rows, err := g.st.BestScores(ctx, userID)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			best[r.Exercise] = r
		}
		if unlockedAll, err = g.st.LaddersUnlockedFor(ctx, userID); err != nil {
			return nil, err
		}
	}
	var out []Step
	for _, ex := range g.reg.Exercises(labID) {
		if ex.Kind() != labs.KindDesign {
			continue
		}
		st := Step{Exercise: ex, Unlocked: unlockedAll || len(out) == 0}
		if b, ok := best[ex.ID]; ok {
			st.Best, st.Passed = &b, Passed(b)
		}
		if n := len(out); n > 0 {
			prev := out[n-1].Exercise
			st.After = &prev
			st.Unlocked = st.Unlocked || out[n-1].Passed
		}
		out = append(out, st)
	}
	return out, nil
}

// checkUnlocked refuses a submission to a step the learner has not
// unlocked, with a sentence naming the step that unlocks it.
func (g *Grader) checkUnlocked(ctx context.Context, userID int64, ex labs.Exercise) error {
	if ex.Kind() != labs.KindDesign || ex.Step <= 1 {
		return nil
	}
	steps, err := g.Ladder(ctx, userID, ex.Lab)
	if err != nil {
		return err
	}
	for _, st := range steps {
		if st.Exercise.ID != ex.ID || st.Unlocked || st.After == nil {
			continue
		}
		msg := fmt.Sprintf("Step %d, “%s”, is locked: it unlocks when you pass step %d, “%s”, with a full score (%d points).",
			ex.Step, ex.Title, st.After.Step, st.After.Title, st.After.MaxScore())
		return &apperr.Error{Code: apperr.Invalid, Message: msg, Fields: map[string]string{"exercise": msg}}
	}
	return nil
}
