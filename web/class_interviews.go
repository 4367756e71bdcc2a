package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/interviews"
	"github.com/sdworkbook/workbook/web/views"
)

// A class's staff review the mock interviews it assigns, as they review
// submissions: only through a class they run, only a learner in it, only
// a session on an assigned problem; anything else is the 404 of a
// missing session. The review scores with the same rubric: the staff
// tick the checkpoints each stage covered.

// maxFeedbackChars bounds an instructor's feedback on a session.
const maxFeedbackChars = 10000

func (s *Server) problemTitle(slug string) (string, bool) {
	p, ok := s.interviews.Problem(slug)
	if !ok {
		return "", false
	}
	return p.Title, true
}

// interviewOptions are the mock interviews an instructor can set.
func (s *Server) interviewOptions() []views.AssignOption {
	out := make([]views.AssignOption, len(s.interviews.Problems))
	for i, p := range s.interviews.Problems {
		out[i] = views.AssignOption{Value: store.AssignInterview + ":" + p.Slug, Label: "Mock interview: " + p.Title}
	}
	return out
}

// classInterview loads the session in the path as the class in the path
// may see it, with its problem.
func (s *Server) classInterview(c *gin.Context) (store.Class, store.InterviewSession, *interviews.Problem, bool) {
	cl, ok := s.classOr404(c)
	if !ok {
		return cl, store.InterviewSession{}, nil, false
	}
	sid, err := strconv.ParseInt(c.Param("sid"), 10, 64)
	if err != nil {
		s.notFound(c)
		return cl, store.InterviewSession{}, nil, false
	}
	sess, err := s.store.ClassInterview(c.Request.Context(), cl.ID, sid)
	if err != nil {
		s.failOr404(c, err)
		return cl, sess, nil, false
	}
	p, ok := s.interviews.Problem(sess.ProblemSlug)
	if !ok {
		s.notFound(c)
	}
	return cl, sess, p, ok
}

func (s *Server) interviewReviewModel(c *gin.Context, cl store.Class, sess store.InterviewSession, p *interviews.Problem) (views.InterviewReviewPage, error) {
	learner, err := s.store.UserByID(c.Request.Context(), sess.UserID)
	if err != nil {
		return views.InterviewReviewPage{}, err
	}
	reviews, err := s.store.InterviewReviews(c.Request.Context(), cl.ID, []int64{sess.ID})
	if err != nil {
		return views.InterviewReviewPage{}, err
	}
	rv, reviewed := reviews[sess.ID]
	m := views.InterviewReviewPage{Class: classRef(cl), Learner: learner.Email, Session: s.sessionModel(p, sess),
		Action:   "/classes/" + strconv.FormatInt(cl.ID, 10) + "/interviews/" + strconv.FormatInt(sess.ID, 10) + "/review",
		Reviewed: reviewed, Score: rv.Score, Feedback: rv.Feedback, Ticked: map[string][]bool{}}
	byStage := rv.TickedByStage()
	for _, st := range m.Session.Stages {
		marks := make([]bool, len(st.Checkpoints))
		for _, i := range byStage[st.ID] {
			if i >= 0 && i < len(marks) {
				marks[i] = true
			}
		}
		m.Ticked[st.ID] = marks
	}
	return m, nil
}

func (s *Server) interviewReviewPage(c *gin.Context) {
	cl, sess, p, ok := s.classInterview(c)
	if !ok {
		return
	}
	m, err := s.interviewReviewModel(c, cl, sess, p)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, views.Page{Title: "Review: " + p.Title, Section: "classes"}, views.InterviewReviewView(m))
}

// saveInterviewReview scores a session with the rubric (the share of
// checkpoints the staff tick, over every stage) and keeps the feedback;
// bad input re-renders the page with the message and the input kept.
func (s *Server) saveInterviewReview(c *gin.Context) {
	cl, sess, p, ok := s.classInterview(c)
	if !ok {
		return
	}
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	ticked, bad := rubricTicks(p, c.Request.PostForm["checkpoint"])
	feedback := strings.TrimSpace(c.Request.PostForm.Get("feedback"))
	msg := ""
	switch {
	case bad:
		msg = "A ticked checkpoint is not one of this problem's."
	case !utf8.ValidString(feedback) || utf8.RuneCountInString(feedback) > maxFeedbackChars:
		msg = "Feedback is at most " + strconv.Itoa(maxFeedbackChars) + " characters of text."
	}
	if msg != "" {
		m, err := s.interviewReviewModel(c, cl, sess, p)
		if err != nil {
			s.fail(c, err)
			return
		}
		m.Feedback, m.Error = feedback, msg
		s.render(c, http.StatusUnprocessableEntity, views.Page{Title: "Review: " + p.Title, Section: "classes"}, views.InterviewReviewView(m))
		return
	}
	js, _ := json.Marshal(ticked)
	uid := currentUser(c).ID
	if err := s.store.SaveInterviewReview(c.Request.Context(), store.InterviewReview{SessionID: sess.ID, ClassID: cl.ID,
		Ticked: string(js), Score: rubricScore(p, ticked), Feedback: feedback, ReviewerID: &uid, UpdatedAt: s.now()}); err != nil {
		s.fail(c, err)
		return
	}
	s.flash(c, "success", "Review saved. The learner sees it with their session, and the gradebook counts its score.")
	c.Redirect(http.StatusSeeOther, "/classes/"+strconv.FormatInt(cl.ID, 10)+"/interviews/"+strconv.FormatInt(sess.ID, 10))
}

// rubricTicks reads "stage:index" values; bad says one names no
// checkpoint of the problem.
func rubricTicks(p *interviews.Problem, values []string) (ticked map[string][]int, bad bool) {
	ticked = map[string][]int{}
	seen := map[string]bool{}
	for _, v := range values {
		stage, idx, _ := strings.Cut(v, ":")
		step, ok := p.Step(stage)
		i, err := strconv.Atoi(idx)
		if !ok || err != nil || i < 0 || i >= len(step.Checkpoints) {
			return nil, true
		}
		if !seen[v] {
			seen[v] = true
			ticked[stage] = append(ticked[stage], i)
		}
	}
	return ticked, false
}

// rubricScore is the mean share of checkpoints ticked over every stage,
// in percent.
func rubricScore(p *interviews.Problem, ticked map[string][]int) int {
	sum := 0
	for _, step := range p.Steps {
		sum += len(ticked[step.Stage]) * 100 / len(step.Checkpoints)
	}
	return sum / len(p.Steps)
}
