package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/interviews"
	"github.com/sdworkbook/workbook/lessons"
	"github.com/sdworkbook/workbook/web/views"
)

// interviewRoutes are the mock interviews: the problems, readable by
// anyone, and a signed-in learner's sessions.
func (s *Server) interviewRoutes(app *gin.RouterGroup) {
	app.GET("/interviews", s.interviewsIndex)
	app.GET("/interviews/:slug", s.interviewProblem)
	app.POST("/interviews/:slug/sessions", s.requireUser, s.startInterview)
	app.GET("/interviews/:slug/sessions/:id", s.requireUser, s.interviewSession)
	app.POST("/interviews/:slug/sessions/:id/timer", s.requireUser, s.interviewTimer)
	app.POST("/interviews/:slug/sessions/:id/delete", s.requireUser, s.deleteInterview)
	app.POST("/interviews/:slug/sessions/:id/stages/:stage", s.requireUser, s.interviewAnswer)
	app.POST("/interviews/:slug/sessions/:id/stages/:stage/ticks", s.requireUser, s.interviewTicks)
	app.POST("/interviews/:slug/sessions/:id/stages/:stage/diagram", s.requireUser, s.interviewDiagram)
}

func (s *Server) interviewsIndex(c *gin.Context) {
	m := views.InterviewsIndex{Problems: s.interviews.Problems, Done: map[string]int{}}
	if u := currentUser(c); u != nil {
		rows, err := s.store.InterviewsOf(c.Request.Context(), u.ID)
		if err != nil {
			s.fail(c, err)
			return
		}
		for _, r := range rows {
			m.Done[r.ProblemSlug]++
		}
	}
	s.render(c, http.StatusOK, views.Page{Title: "Mock interviews", Section: "interviews",
		Description: "Rehearse system design interviews stage by stage, with checkpoints and a rubric."}, views.InterviewsIndexView(m))
}

func (s *Server) problemOr404(c *gin.Context) (*interviews.Problem, bool) {
	p, ok := s.interviews.Problem(c.Param("slug"))
	if !ok {
		s.notFound(c)
	}
	return p, ok
}

func (s *Server) lessonExists(slug string) bool { _, ok := s.catalog().Lesson(slug); return ok }

func (s *Server) lessonsOf(slugs []string) []*lessons.Lesson {
	var out []*lessons.Lesson
	for _, slug := range slugs {
		if l, ok := s.catalog().Lesson(slug); ok {
			out = append(out, l)
		}
	}
	return out
}

func (s *Server) interviewProblem(c *gin.Context) {
	p, ok := s.problemOr404(c)
	if !ok {
		return
	}
	m := views.InterviewProblemPage{Problem: p, Lessons: s.lessonsOf(p.Lessons)}
	if u := currentUser(c); u != nil {
		m.SignedIn = true
		rows, err := s.store.InterviewsOf(c.Request.Context(), u.ID)
		if err != nil {
			s.fail(c, err)
			return
		}
		for _, r := range rows {
			if r.ProblemSlug == p.Slug {
				m.Sessions = append(m.Sessions, s.sessionRow(r))
			}
		}
	}
	s.render(c, http.StatusOK, views.Page{Title: p.Title, Section: "interviews", Description: p.Summary}, views.InterviewProblemView(m))
}

func (s *Server) startInterview(c *gin.Context) {
	p, ok := s.problemOr404(c)
	if !ok {
		return
	}
	sess, err := s.store.StartInterview(c.Request.Context(), store.InterviewSession{UserID: currentUser(c).ID,
		ProblemSlug: p.Slug, LimitSeconds: interviews.DefaultMinutes * 60, StartedAt: s.now()}, interviews.StageIDs(), interviews.MaxSessions)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, sessionURL(sess))
}

func sessionURL(sess store.InterviewSession) string {
	return "/interviews/" + sess.ProblemSlug + "/sessions/" + strconv.FormatInt(sess.ID, 10)
}

// ownSession reads the signed-in learner's session named by the route;
// another learner's, or one under another problem's address, is the one
// 404 page.
func (s *Server) ownSession(c *gin.Context) (*interviews.Problem, store.InterviewSession, bool) {
	p, ok := s.interviews.Problem(c.Param("slug"))
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if !ok || err != nil {
		s.notFound(c)
		return nil, store.InterviewSession{}, false
	}
	sess, err := s.store.InterviewOf(c.Request.Context(), currentUser(c).ID, id)
	if err == nil && sess.ProblemSlug != p.Slug {
		err = apperr.New(apperr.NotFound, "mock interview not found")
	}
	if err != nil {
		s.failOr404(c, err)
		return nil, sess, false
	}
	return p, sess, true
}

func (s *Server) interviewSession(c *gin.Context) {
	p, sess, ok := s.ownSession(c)
	if !ok {
		return
	}
	s.renderSession(c, http.StatusOK, p, sess, nil)
}

// stageInput is what a learner sent to a stage that was refused, shown
// again with its message.
type stageInput struct {
	stage, answer, err string
	diagram            *views.DiagramView
}

func (s *Server) renderSession(c *gin.Context, status int, p *interviews.Problem, sess store.InterviewSession, in *stageInput) {
	m := s.sessionModel(p, sess)
	if in != nil {
		for i := range m.Stages {
			if m.Stages[i].ID == in.stage {
				m.Stages[i].Answer, m.Stages[i].Error = in.answer, in.err
				if in.diagram != nil {
					m.Stages[i].Diagram = *in.diagram
				}
			}
		}
	}
	reviews, err := s.store.ReviewsOfInterview(c.Request.Context(), sess.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	for _, r := range reviews {
		m.Reviews = append(m.Reviews, views.SessionReviewView{ClassName: r.ClassName, Score: r.Score, Feedback: r.Feedback})
	}
	s.render(c, status, views.Page{Title: "Mock interview: " + p.Title, Section: "interviews"}, views.InterviewSessionView(m))
}

func (s *Server) sessionModel(p *interviews.Problem, sess store.InterviewSession) views.InterviewSessionPage {
	now := s.now()
	m := views.InterviewSessionPage{Problem: p, Base: sessionURL(sess), Running: sess.Running(), Finished: sess.FinishedAt != nil,
		RemainingMs: (time.Duration(sess.LimitSeconds)*time.Second - sess.Elapsed(now)).Milliseconds()}
	for _, step := range p.Steps {
		stage, _ := interviews.StageByID(step.Stage)
		row, _ := sess.Stage(step.Stage)
		v := views.InterviewStageView{ID: stage.ID, Title: stage.Title, Design: stage.Design, Prompt: step.Prompt,
			Checkpoints: step.Checkpoints, Lessons: s.lessonsOf(step.Lessons), Answer: row.Answer, Closed: row.ClosedAt != nil,
			Score: scoreOf(stage, step, row), Diagram: s.diagramView(row.Diagram)}
		v.Ticked = make([]bool, len(step.Checkpoints))
		for _, i := range row.TickedIndexes() {
			if i >= 0 && i < len(v.Ticked) {
				v.Ticked[i] = true
			}
		}
		if !v.Closed && m.Current == "" {
			m.Current = v.ID
		}
		m.Stages = append(m.Stages, v)
		m.Scores = append(m.Scores, v.Score)
	}
	m.Percent = percentOf(m.Scores)
	return m
}

// scoreOf is a stage's rubric score: the checkpoints ticked that exist.
func scoreOf(stage interviews.Stage, step interviews.Step, row store.InterviewStage) views.StageScore {
	sc := views.StageScore{Stage: stage.ID, Title: stage.Title, Of: len(step.Checkpoints), Closed: row.ClosedAt != nil}
	for _, i := range row.TickedIndexes() {
		if i >= 0 && i < sc.Of {
			sc.Ticked++
		}
	}
	return sc
}

// percentOf is the mean score of the closed stages.
func percentOf(scores []views.StageScore) int {
	sum, n := 0, 0
	for _, sc := range scores {
		if sc.Closed {
			sum += sc.Percent()
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return sum / n
}

func (s *Server) sessionRow(sess store.InterviewSession) views.InterviewSessionRow {
	r := views.InterviewSessionRow{URL: sessionURL(sess), StartedAt: sess.StartedAt, Finished: sess.FinishedAt != nil, Problem: sess.ProblemSlug}
	p, ok := s.interviews.Problem(sess.ProblemSlug)
	if !ok {
		return r // a problem since removed: its row still lists
	}
	r.Problem = p.Title
	for _, step := range p.Steps {
		stage, _ := interviews.StageByID(step.Stage)
		row, _ := sess.Stage(step.Stage)
		r.Scores = append(r.Scores, scoreOf(stage, step, row))
	}
	r.Percent = percentOf(r.Scores)
	return r
}

// deleteInterview deletes the learner's session, making room under the
// limit; its cards leave the review queue with it.
func (s *Server) deleteInterview(c *gin.Context) {
	p, sess, ok := s.ownSession(c)
	if !ok {
		return
	}
	if err := s.store.DeleteInterview(c.Request.Context(), currentUser(c).ID, sess.ID); err != nil {
		s.failOr404(c, err)
		return
	}
	s.flash(c, "success", "Session deleted.")
	c.Redirect(http.StatusSeeOther, "/interviews/"+p.Slug)
}

// interviewRows are the signed-in learner's sessions, newest first.
func (s *Server) interviewRows(c *gin.Context) ([]views.InterviewSessionRow, error) {
	rows, err := s.store.InterviewsOf(c.Request.Context(), currentUser(c).ID)
	if err != nil {
		return nil, err
	}
	out := make([]views.InterviewSessionRow, len(rows))
	for i, r := range rows {
		out[i] = s.sessionRow(r)
	}
	return out, nil
}

func (s *Server) interviewTimer(c *gin.Context) {
	_, sess, ok := s.ownSession(c)
	if !ok {
		return
	}
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	ctx, uid := c.Request.Context(), currentUser(c).ID
	var err error
	switch c.Request.PostForm.Get("action") {
	case "pause":
		err = s.store.SetInterviewRunning(ctx, uid, sess.ID, false, s.now())
	case "resume":
		err = s.store.SetInterviewRunning(ctx, uid, sess.ID, true, s.now())
	case "finish":
		err = s.store.FinishInterview(ctx, uid, sess.ID, s.now())
	default:
		err = apperr.Fields(map[string]string{"action": "Choose pause, resume or finish."})
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, sessionURL(sess))
}

// sessionStage reads the learner's session and the stage the route names.
func (s *Server) sessionStage(c *gin.Context) (*interviews.Problem, store.InterviewSession, interviews.Step, bool) {
	p, sess, ok := s.ownSession(c)
	if !ok {
		return nil, sess, interviews.Step{}, false
	}
	step, ok := p.Step(c.Param("stage"))
	if !ok {
		s.notFound(c)
		return nil, sess, interviews.Step{}, false
	}
	if err := parseFormUpTo(c, maxInterviewFormBytes); err != nil {
		s.fail(c, err)
		return nil, sess, interviews.Step{}, false
	}
	return p, sess, *step, true
}

// maxInterviewFormBytes has room for the longest answer in any script,
// percent-encoded (up to 12 bytes a character), so a long answer gets its
// message with the text kept rather than a refused request.
const maxInterviewFormBytes = interviews.MaxAnswerChars*12 + 16<<10

// parseFormUpTo reads a form of at most limit bytes.
func parseFormUpTo(c *gin.Context, limit int64) error {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	if err := c.Request.ParseForm(); err != nil {
		if strings.Contains(err.Error(), "too large") {
			return err
		}
		return apperr.Wrap(err, apperr.Invalid, "The form could not be read.")
	}
	return nil
}

// answerProblem says what is wrong with an answer, or "".
func answerProblem(answer string) string {
	switch {
	case !utf8.ValidString(answer):
		return "The answer contains invalid characters."
	case utf8.RuneCountInString(answer) > interviews.MaxAnswerChars:
		return "That answer is longer than " + strconv.Itoa(interviews.MaxAnswerChars) + " characters; please shorten it."
	}
	return ""
}

func (s *Server) interviewAnswer(c *gin.Context) {
	p, sess, step, ok := s.sessionStage(c)
	if !ok {
		return
	}
	form := c.Request.PostForm
	answer := strings.TrimSpace(strings.ReplaceAll(form.Get("answer"), "\r\n", "\n"))
	closing := form.Get("action") == "close"
	if msg := answerProblem(answer); msg != "" {
		s.renderSession(c, http.StatusUnprocessableEntity, p, sess, &stageInput{stage: step.Stage, answer: answer, err: msg})
		return
	}
	if closing && answer == "" {
		s.renderSession(c, http.StatusUnprocessableEntity, p, sess, &stageInput{stage: step.Stage,
			err: "Write your answer before closing the stage: even a few lines. Comparing it with the checkpoints is where the learning happens."})
		return
	}
	err := s.store.UpdateInterviewStage(c.Request.Context(), currentUser(c).ID, sess.ID, step.Stage,
		store.StageUpdate{Answer: &answer, Close: closing, Checkpoints: len(step.Checkpoints)}, s.now())
	if err != nil {
		s.failOr404(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, sessionURL(sess)+"#stage-"+step.Stage)
}

func (s *Server) interviewTicks(c *gin.Context) {
	_, sess, step, ok := s.sessionStage(c)
	if !ok {
		return
	}
	ticked := []int{}
	for _, v := range c.Request.PostForm["checkpoint"] {
		i, err := strconv.Atoi(v)
		if err != nil || i < 0 || i >= len(step.Checkpoints) {
			s.fail(c, apperr.Fields(map[string]string{"checkpoint": "That checkpoint is not one of this stage's."}))
			return
		}
		if !slices.Contains(ticked, i) {
			ticked = append(ticked, i)
		}
	}
	slices.Sort(ticked)
	err := s.store.UpdateInterviewStage(c.Request.Context(), currentUser(c).ID, sess.ID, step.Stage,
		store.StageUpdate{Ticked: ticked}, s.now())
	if err != nil {
		s.failOr404(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, sessionURL(sess)+"#stage-"+step.Stage)
}
