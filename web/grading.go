package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/grader"
	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/lessons"
	"github.com/sdworkbook/workbook/web/views"
)

// gradingOn reports whether this server takes submissions.
func (s *Server) gradingOn() bool { return s.grader != nil }

// apiSubmit takes a submission: 202 with its id, 422 naming the fields of
// an invalid design, and nothing stored unless it is accepted.
func (s *Server) apiSubmit(c *gin.Context) {
	if !s.gradingOn() {
		s.notFound(c)
		return
	}
	if isMultipart(c.Request) {
		s.apiSubmitBuild(c)
		return
	}
	body, err := readJSONBody(c, 64<<10)
	if err != nil {
		s.fail(c, err)
		return
	}
	req, err := grader.ParseRequest(body)
	if err != nil {
		s.fail(c, err)
		return
	}
	sub, err := s.grader.Submit(c.Request.Context(), currentUser(c).ID, c.Param("lab"), req)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.accepted(c, sub)
}

// accepted answers a submission taken: 202 with where to follow it.
func (s *Server) accepted(c *gin.Context, sub store.Submission) {
	c.Header("Location", "/api/submissions/"+sub.ID)
	c.JSON(http.StatusAccepted, gin.H{"id": sub.ID, "number": sub.Number, "exercise": sub.Exercise, "status": sub.Status,
		"url": "/api/submissions/" + sub.ID, "page": "/submissions/" + sub.ID, "events_url": "/api/submissions/" + sub.ID + "/events"})
}

// apiSubmission is a submission's status and results, with the reviews
// of the classes that reviewed it, each named.
func (s *Server) apiSubmission(c *gin.Context) {
	res, ok := s.submissionOr404(c)
	if !ok {
		return
	}
	rvs, err := s.store.ReviewsOf(c.Request.Context(), res.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	if len(rvs) == 0 {
		c.JSON(http.StatusOK, res)
		return
	}
	out := make([]gin.H, len(rvs))
	for i, rv := range rvs {
		out[i] = gin.H{"class_id": rv.ClassID, "class_name": rv.ClassName, "override_score": rv.OverrideScore,
			"reason": rv.Reason, "feedback": rv.Feedback, "updated_at": rv.UpdatedAt}
	}
	c.JSON(http.StatusOK, struct {
		grader.Result
		Reviews []gin.H `json:"reviews"`
	}{res, out})
}

func (s *Server) submissionOr404(c *gin.Context) (grader.Result, bool) {
	if !s.gradingOn() {
		s.notFound(c)
		return grader.Result{}, false
	}
	res, err := s.grader.Submission(c.Request.Context(), c.Param("id"), currentUser(c).ID)
	if err != nil {
		if apperr.Is(err, apperr.NotFound) {
			s.notFound(c)
		} else {
			s.fail(c, err)
		}
		return grader.Result{}, false
	}
	return res, true
}

// apiSubmissionEvents streams a submission's progress: an "update" event
// with the whole result whenever it changes, and "done" when it is
// terminal. The state is read after subscribing, so no change is missed.
func (s *Server) apiSubmissionEvents(c *gin.Context) {
	res, ok := s.submissionOr404(c)
	if !ok {
		return
	}
	release, err := s.submissionStreams.take(currentUser(c).ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	defer release()
	ctx := c.Request.Context()
	var changes <-chan string
	if !res.Terminal() {
		ch, stop, err := s.grader.Watch(ctx, res.ID)
		if err != nil {
			s.fail(c, err)
			return
		}
		defer stop()
		changes = ch
	}
	defer s.metrics.StreamOpened("submission")()
	send, keepAlive := eventStream(c)
	if res.Terminal() {
		send("done", res)
		return
	}
	user := currentUser(c).ID
	// Re-read: a change between the first read and the subscription
	// would otherwise be lost.
	last := ""
	emit := func() bool {
		r, err := s.grader.Submission(context.WithoutCancel(ctx), res.ID, user)
		if err != nil {
			return false
		}
		b, _ := json.Marshal(r)
		if string(b) == last {
			return true
		}
		last = string(b)
		if r.Terminal() {
			send("done", r)
			return false
		}
		return send("update", r)
	}
	if !emit() {
		return
	}
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	// A slow poll covers a lost message (a Redis hiccup between the worker
	// and this replica).
	poll := time.NewTicker(5 * time.Second)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.ending.ch:
			endForShutdown(c.Writer)
			return
		case <-heartbeat.C:
			if !keepAlive() {
				return
			}
		case <-poll.C:
			if !emit() {
				return
			}
		case _, ok := <-changes:
			if !ok || !emit() {
				return
			}
		}
	}
}

// Pages.

func (s *Server) exerciseOr404(c *gin.Context) (labs.Lab, labs.Exercise, bool) {
	if !s.gradingOn() {
		s.notFound(c)
		return nil, labs.Exercise{}, false
	}
	l, ex, ok := s.grader.Exercise(c.Param("exercise"))
	if !ok || ex.Lab != c.Param("lab") {
		s.notFound(c)
		return nil, labs.Exercise{}, false
	}
	return l, ex, true
}

func (s *Server) exerciseModel(c *gin.Context, l labs.Lab, ex labs.Exercise) (views.ExercisePage, error) {
	m := views.ExercisePage{Lab: l.Info(), Exercise: ex, Fields: l.Fields(), Values: map[string]string{}}
	for _, f := range l.Fields() {
		m.Values[f.Name] = fmt.Sprint(f.Default)
	}
	if ex.Build != nil {
		html, err := lessons.Markdown(strings.Join(ex.Build.Contract, "\n\n"))
		if err != nil {
			return m, err
		}
		m.Contract = html
	}
	u := currentUser(c)
	if u == nil {
		return m, nil
	}
	m.SignedIn = true
	lock, err := s.stepLock(c, ex)
	if err != nil {
		return m, err
	}
	m.Locked = lock
	subs, err := s.grader.Submissions(c.Request.Context(), u.ID, ex.ID)
	if err != nil {
		return m, err
	}
	m.Attempts = attempts(subs)
	// Start from the latest design, or the one being revised.
	from := c.Query("from")
	for _, sub := range subs {
		if from == "" || sub.ID == from {
			var d labs.Design
			if json.Unmarshal([]byte(sub.Design), &d) == nil {
				for k, v := range d {
					m.Values[k] = fmt.Sprint(v)
				}
				m.Notes, m.Language = sub.Notes, m.Values["language"]
			}
			break
		}
	}
	return m, nil
}

func (s *Server) exercisePage(c *gin.Context) {
	l, ex, ok := s.exerciseOr404(c)
	if !ok {
		return
	}
	m, err := s.exerciseModel(c, l, ex)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, views.Page{Title: ex.Title, Section: "labs", Description: l.Info().Title + " exercise"}, views.ExerciseView(m))
}

// submitFromForm submits the page's design; bad values re-render the form
// with the messages beside the fields and the learner's input kept.
func (s *Server) submitFromForm(c *gin.Context) {
	l, ex, ok := s.exerciseOr404(c)
	if !ok {
		return
	}
	if ex.Build != nil {
		s.submitBuildFromForm(c, l, ex)
		return
	}
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	raw, ferrs := labs.FormValues(l, c.Request.PostForm.Get)
	design, _ := json.Marshal(raw)
	notes := c.Request.PostForm.Get("notes")
	var sub store.Submission
	var err error
	if len(ferrs) > 0 {
		err = apperr.Fields(ferrs)
	} else {
		sub, err = s.grader.Submit(c.Request.Context(), currentUser(c).ID, l.Info().ID,
			grader.Request{Exercise: ex.ID, Design: design, Notes: notes})
	}
	if err != nil {
		s.formRefused(c, l, ex, err, func(m *views.ExercisePage) {
			for _, f := range l.Fields() {
				if v := c.Request.PostForm.Get(f.Name); v != "" {
					m.Values[f.Name] = v // as typed, to be corrected
				}
			}
			m.Notes = notes
		})
		return
	}
	c.Redirect(http.StatusSeeOther, "/submissions/"+sub.ID)
}

// formRefused re-renders the exercise page after a refused submission:
// the messages beside their fields (or above the form), and keep putting
// back what the learner sent. An error that is not the learner's is the
// error page.
func (s *Server) formRefused(c *gin.Context, l labs.Lab, ex labs.Exercise, err error, keep func(*views.ExercisePage)) {
	e, isApp := apperr.As(err)
	if !isApp || e.Code == apperr.Internal {
		s.fail(c, err)
		return
	}
	m, merr := s.exerciseModel(c, l, ex)
	if merr != nil {
		s.fail(c, merr)
		return
	}
	keep(&m)
	m.Errors = e.Fields
	if len(e.Fields) == 0 {
		m.Message = e.Message
	} else if msg := e.Fields["exercise"]; msg != "" {
		m.Message = msg // the form has no field of that name (a locked step)
	}
	if e.RetryAfterSeconds > 0 {
		c.Header("Retry-After", strconv.Itoa(e.RetryAfterSeconds))
	}
	s.render(c, statusOf(e.Code), views.Page{Title: ex.Title, Section: "labs"}, views.ExerciseView(m))
}

func (s *Server) submissionModel(res grader.Result) views.SubmissionPage {
	m := views.SubmissionPage{Result: res}
	if l, ex, ok := s.grader.Exercise(res.Exercise); ok {
		m.Exercise, m.Lab, m.Fields = ex, l.Info(), l.Fields()
	}
	return m
}

func (s *Server) submissionPage(c *gin.Context) {
	res, ok := s.submissionOr404(c)
	if !ok {
		return
	}
	m := s.submissionModel(res)
	reviews, err := s.store.ReviewsOf(c.Request.Context(), res.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	due, err := s.store.DueDates(c.Request.Context(), currentUser(c).ID, res.Exercise, 0)
	if err != nil {
		s.fail(c, err)
		return
	}
	m.Reviews, m.Due = classReviews(reviews), classDues(due)
	if res.Archive != nil {
		m.ArchiveURL = "/submissions/" + res.ID + "/archive"
	}
	// Opening the submission reads the notices about it.
	if err := s.store.MarkNoticesRead(c.Request.Context(), currentUser(c).ID, res.ID, s.now()); err != nil {
		s.log.Warn("marking notices read", "err", err)
	}
	s.render(c, http.StatusOK, views.Page{Title: fmt.Sprintf("Submission %d: %s", res.Number, m.Exercise.Title), Section: "labs"},
		views.SubmissionView(m))
}

// submissionResults is the results fragment the page swaps in as checks
// finish.
func (s *Server) submissionResults(c *gin.Context) {
	res, ok := s.submissionOr404(c)
	if !ok {
		return
	}
	c.Header("Cache-Control", "no-store")
	s.fragment(c, http.StatusOK, views.SubmissionResults(s.submissionModel(res)))
}
