package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/web/views"
)

// A class's staff review its learners' submissions: only through a class
// they run (an admin, any class), only a learner in it, and only a
// submission to an exercise the class assigns. Everything else is the same
// 404 as a missing submission. A review belongs to the class it was made
// in.

// classSubmission loads the submission in the path as the class in the
// path may see it.
func (s *Server) classSubmission(c *gin.Context) (store.Class, store.Submission, bool) {
	cl, ok := s.classOr404(c)
	if !ok || s.grader == nil {
		if ok {
			s.notFound(c)
		}
		return cl, store.Submission{}, false
	}
	sub, err := s.store.ClassSubmission(c.Request.Context(), cl.ID, c.Param("sid"))
	switch {
	case apperr.Is(err, apperr.NotFound):
		s.notFound(c)
	case err != nil:
		s.fail(c, err)
	default:
		return cl, sub, true
	}
	return cl, store.Submission{}, false
}

func (s *Server) reviewModel(c *gin.Context, cl store.Class, sub store.Submission) (views.SubmissionReviewPage, error) {
	res, err := s.grader.Submission(c.Request.Context(), sub.ID, sub.UserID)
	if err != nil {
		return views.SubmissionReviewPage{}, err
	}
	learner, err := s.store.UserByID(c.Request.Context(), sub.UserID)
	if err != nil {
		return views.SubmissionReviewPage{}, err
	}
	reviews, err := s.store.Reviews(c.Request.Context(), cl.ID, []string{sub.ID})
	if err != nil {
		return views.SubmissionReviewPage{}, err
	}
	rv := reviews[sub.ID]
	m := views.SubmissionReviewPage{Class: classRef(cl), Learner: learner.Email, Submission: s.submissionModel(res),
		Review: views.ReviewMark{OverrideScore: rv.OverrideScore, UpdatedAt: rv.UpdatedAt}}
	m.Submission.Staff = true
	if res.Archive != nil {
		m.Submission.ArchiveURL = "/classes/" + strconv.FormatInt(cl.ID, 10) + "/submissions/" + sub.ID + "/archive"
	}
	due, err := s.store.DueDates(c.Request.Context(), sub.UserID, sub.Exercise, cl.ID)
	if err != nil {
		return views.SubmissionReviewPage{}, err
	}
	m.Submission.Due = classDues(due)
	if rid := rv.ReviewerID; rid != nil {
		if r, err := s.store.UserByID(c.Request.Context(), *rid); err == nil {
			m.Reviewer = r.Email
		}
	}
	if rv.OverrideScore != nil {
		m.Score = strconv.Itoa(*rv.OverrideScore)
	}
	m.Reason, m.Feedback = rv.Reason, rv.Feedback
	return m, nil
}

func (s *Server) submissionReviewPage(c *gin.Context) {
	cl, sub, ok := s.classSubmission(c)
	if !ok {
		return
	}
	m, err := s.reviewModel(c, cl, sub)
	if err != nil {
		s.fail(c, err)
		return
	}
	// Opened: it no longer waits for this instructor's look.
	if sub.Terminal() {
		if err := s.store.MarkLooked(c.Request.Context(), currentUser(c).ID, sub.ID, s.now()); err != nil {
			s.log.Warn("marking a submission looked at", "err", err)
		}
	}
	s.render(c, http.StatusOK, views.Page{Title: "Review: submission " + strconv.Itoa(sub.Number), Section: "labs"}, views.SubmissionReviewView(m))
}

// saveReview records the class's override (with its reason) and feedback;
// bad input re-renders the form with the messages and the input kept.
func (s *Server) saveReview(c *gin.Context) {
	cl, sub, ok := s.classSubmission(c)
	if !ok {
		return
	}
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	f := c.Request.PostForm
	score, reason, feedback := strings.TrimSpace(f.Get("score")), strings.TrimSpace(f.Get("reason")), strings.TrimSpace(f.Get("feedback"))
	errs := map[string]string{}
	r := store.SubmissionReview{ClassID: cl.ID, SubmissionID: sub.ID, Reason: reason, Feedback: feedback, UpdatedAt: s.now()}
	uid := currentUser(c).ID
	r.ReviewerID = &uid
	if score != "" {
		n, err := strconv.Atoi(score)
		if err != nil || n < 0 || n > sub.MaxScore {
			errs["score"] = fmt.Sprintf("A whole number from 0 to %d, or empty to keep the grader's score.", sub.MaxScore)
		} else {
			r.OverrideScore = &n
			if reason == "" {
				errs["reason"] = "Say why you override the grader's score; the learner sees it."
			}
		}
	}
	if utf8.RuneCountInString(reason) > maxFeedback || !utf8.ValidString(reason) {
		errs["reason"] = fmt.Sprintf("At most %d characters.", maxFeedback)
	}
	if utf8.RuneCountInString(feedback) > maxFeedback || !utf8.ValidString(feedback) {
		errs["feedback"] = fmt.Sprintf("At most %d characters.", maxFeedback)
	}
	if len(errs) > 0 {
		m, err := s.reviewModel(c, cl, sub)
		if err != nil {
			s.fail(c, err)
			return
		}
		m.Score, m.Reason, m.Feedback, m.Errors = score, reason, feedback, errs
		s.render(c, http.StatusUnprocessableEntity, views.Page{Title: "Review", Section: "labs"}, views.SubmissionReviewView(m))
		return
	}
	before, err := s.store.Reviews(c.Request.Context(), cl.ID, []string{sub.ID})
	if err != nil {
		s.fail(c, err)
		return
	}
	title := sub.Exercise
	if _, ex, ok := s.grader.Exercise(sub.Exercise); ok {
		title = "“" + ex.Title + "”"
	}
	notice := reviewNotice(sub, title, cl.Name, r, before[sub.ID])
	if notice != nil {
		notice.CreatedAt = s.now()
	}
	if err := s.store.SaveReview(c.Request.Context(), r, notice); err != nil {
		s.fail(c, err)
		return
	}
	s.flash(c, "success", "Review saved; the learner sees it on the submission.")
	c.Redirect(http.StatusSeeOther, c.Request.URL.Path[:strings.LastIndex(c.Request.URL.Path, "/")])
}

func (s *Server) regradeOne(c *gin.Context) {
	_, sub, ok := s.classSubmission(c)
	if !ok {
		return
	}
	queued, err := s.grader.Regrade(c.Request.Context(), sub.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if queued {
		s.flash(c, "success", "Queued to be graded again.")
	} else {
		s.flash(c, "info", "It is still being graded; regrade it once it has finished.")
	}
	c.Redirect(http.StatusSeeOther, c.Request.URL.Path[:strings.LastIndex(c.Request.URL.Path, "/")])
}
