package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/web/views"
)

// assignmentOptions are the exercises and quizzes an instructor can set.
func (s *Server) assignmentOptions() []views.AssignOption {
	var out []views.AssignOption
	if s.grader != nil {
		for _, l := range s.grader.Labs() {
			for _, ex := range labs.ExercisesOf(l) {
				out = append(out, views.AssignOption{Value: store.AssignExercise + ":" + ex.ID, Label: l.Info().Title + " lab: " + ex.Title})
			}
		}
	}
	cat := s.catalog()
	for _, l := range cat.Lessons {
		if _, ok := cat.Quizzes[l.Slug]; ok {
			out = append(out, views.AssignOption{Value: store.AssignQuiz + ":" + l.Slug, Label: "Quiz: " + l.Title})
		}
	}
	return append(out, s.interviewOptions()...)
}

func (s *Server) addAssignment(c *gin.Context) {
	cl, ok := s.classOr404(c)
	if !ok {
		return
	}
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	back := "/classes/" + strconv.FormatInt(cl.ID, 10)
	kind, ref, _ := strings.Cut(c.Request.PostForm.Get("assignment"), ":")
	valid := false
	for _, o := range s.assignmentOptions() {
		if o.Value == kind+":"+ref {
			valid = true
		}
	}
	if !valid {
		s.flash(c, "error", "Pick an exercise, a quiz or a mock interview from the list.")
		c.Redirect(http.StatusSeeOther, back+"#assignments")
		return
	}
	a := store.Assignment{ClassID: cl.ID, Kind: kind, Ref: ref, CreatedAt: s.now()}
	if due := strings.TrimSpace(c.Request.PostForm.Get("due")); due != "" {
		t, err := time.ParseInLocation(dueLayout, due, time.UTC)
		if err != nil {
			s.flash(c, "error", "The due date must be a date and time, like 2026-12-01T17:00 (UTC).")
			c.Redirect(http.StatusSeeOther, back+"#assignments")
			return
		}
		a.DueAt = &t
	}
	if err := s.store.AddAssignment(c.Request.Context(), &a); err != nil {
		s.fail(c, err)
		return
	}
	s.flash(c, "success", "Assignment saved.")
	c.Redirect(http.StatusSeeOther, back+"#assignments")
}

func (s *Server) deleteAssignment(c *gin.Context) {
	cl, ok := s.classOr404(c)
	if !ok {
		return
	}
	aid, _ := strconv.ParseInt(c.Param("aid"), 10, 64)
	if err := s.store.DeleteAssignment(c.Request.Context(), cl.ID, aid); err != nil {
		s.fail(c, err)
		return
	}
	s.flash(c, "success", "Assignment removed; the submissions stay.")
	c.Redirect(http.StatusSeeOther, "/classes/"+strconv.FormatInt(cl.ID, 10)+"#assignments")
}

// regradeAssignment regrades every finished submission of the class's
// learners to an exercise, after its suite changed.
func (s *Server) regradeAssignment(c *gin.Context) {
	cl, ok := s.classOr404(c)
	if !ok {
		return
	}
	if s.grader == nil {
		s.notFound(c)
		return
	}
	aid, _ := strconv.ParseInt(c.Param("aid"), 10, 64)
	n, err := s.books.RegradeAssignment(c.Request.Context(), cl, aid, s.grader.Regrade)
	if err != nil {
		s.failOr404(c, err)
		return
	}
	s.flash(c, "success", fmt.Sprintf("%d submissions queued to be graded again.", n))
	c.Redirect(http.StatusSeeOther, "/classes/"+strconv.FormatInt(cl.ID, 10)+"#assignments")
}
