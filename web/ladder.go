package web

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/gradebook"
	"github.com/sdworkbook/workbook/grader"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/web/views"
)

// signedInID is the signed-in user's id, or 0.
func signedInID(c *gin.Context) int64 {
	if u := currentUser(c); u != nil {
		return u.ID
	}
	return 0
}

// exerciseSummaries lists a lab's exercises for its page: the ladder's
// steps with the learner's best and whether each is passed or locked, then
// the build exercises with their best. When the learner's results cannot
// be read it still lists every exercise, with the first step open.
func (s *Server) exerciseSummaries(c *gin.Context, labID string) ([]views.ExerciseSummary, error) {
	ctx := c.Request.Context()
	uid := signedInID(c)
	steps, err := s.grader.Ladder(ctx, uid, labID)
	if err != nil {
		steps, _ = s.grader.Ladder(ctx, 0, labID)
	}
	var out []views.ExerciseSummary
	for _, st := range steps {
		e := views.ExerciseSummary{Exercise: st.Exercise, Best: st.Best, Passed: st.Passed, Locked: !st.Unlocked}
		if e.Locked && st.After != nil {
			e.LockedBy = views.LockedSentence(*st.After)
		}
		out = append(out, e)
	}
	best := map[string]store.BestScore{}
	if uid != 0 && err == nil {
		rows, berr := s.grader.BestScores(ctx, uid)
		err = berr
		for _, r := range rows {
			best[r.Exercise] = r
		}
	}
	for _, ex := range s.grader.Exercises(labID) {
		if ex.Kind() != labs.KindBuild {
			continue
		}
		e := views.ExerciseSummary{Exercise: ex}
		if b, ok := best[ex.ID]; ok {
			e.Best = &b
		}
		out = append(out, e)
	}
	return out, err
}

// stepLock says what unlocks an exercise for the signed-in learner, or ""
// when it is open to them (or off the ladder).
func (s *Server) stepLock(c *gin.Context, ex labs.Exercise) (string, error) {
	if ex.Kind() != labs.KindDesign || ex.Step <= 1 {
		return "", nil
	}
	steps, err := s.grader.Ladder(c.Request.Context(), signedInID(c), ex.Lab)
	if err != nil {
		return "", err
	}
	return lockOf(steps, ex.ID), nil
}

func lockOf(steps []grader.Step, id string) string {
	for _, st := range steps {
		if st.Exercise.ID == id && !st.Unlocked && st.After != nil {
			return views.LockedSentence(*st.After)
		}
	}
	return ""
}

// setClassLadders unlocks every ladder step for a class's learners, or
// locks the ladders again (form field unlocked: "on" or absent).
func (s *Server) setClassLadders(c *gin.Context) {
	cl, ok := s.classOr404(c)
	if !ok {
		return
	}
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	unlock := c.Request.PostForm.Get("unlocked") == "on"
	if err := s.store.SetLaddersUnlocked(c.Request.Context(), cl.ID, unlock); err != nil {
		s.fail(c, err)
		return
	}
	msg := "Ladders locked again: each step unlocks when the one before it is passed."
	if unlock {
		msg = "Every step of every ladder is now open to this class's learners."
	}
	s.flash(c, "success", msg)
	c.Redirect(http.StatusSeeOther, "/classes/"+strconv.FormatInt(cl.ID, 10)+"#ladders")
}

// ladderStandings is the signed-in learner's step reached on every lab's
// ladder, for the progress page.
func (s *Server) ladderStandings(c *gin.Context) ([]views.LadderStanding, error) {
	if !s.gradingOn() {
		return nil, nil
	}
	var out []views.LadderStanding
	for _, l := range s.grader.Labs() {
		steps, err := s.grader.Ladder(c.Request.Context(), signedInID(c), l.Info().ID)
		if err != nil {
			return nil, err
		}
		if len(steps) == 0 {
			continue
		}
		ls := views.LadderStanding{Lab: l.Info().ID, Title: l.Info().Title, Steps: len(steps)}
		for _, st := range steps {
			if st.Passed {
				ls.Reached = max(ls.Reached, st.Exercise.Step)
			} else if ls.Next == nil {
				ex := st.Exercise
				ls.Next = &ex
			}
		}
		out = append(out, ls)
	}
	return out, nil
}

// ladders are the graded labs' ladders, for the gradebook.
func (s *Server) ladders() []gradebook.Ladder {
	if !s.gradingOn() {
		return nil
	}
	return gradebook.LaddersOf(s.grader.Labs(), s.grader.Exercises)
}
