package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/web/views"
)

// maxSession is how far back a review session's start may be: a link
// kept from yesterday starts a new session.
const maxSession = 12 * time.Hour

// sessionStart reads a review session's start (Unix seconds) from a form
// or a query; anything missing, malformed, in the future or too old
// starts the session now.
func (s *Server) sessionStart(raw string) time.Time {
	now := s.now()
	sec, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return now
	}
	t := time.Unix(sec, 0)
	if t.After(now) || now.Sub(t) > maxSession {
		return now
	}
	return t
}

// reviewPage shows the next card of the queue with, on each grade, when
// the card would come back; the session's progress; and, once the queue
// is empty, what the session did.
func (s *Server) reviewPage(c *gin.Context) {
	ctx := c.Request.Context()
	u := currentUser(c)
	since := s.sessionStart(c.Query("since"))
	q, err := s.progress.ReviewQueue(ctx, u.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	done, err := s.store.ReviewsSince(ctx, u.ID, since)
	if err != nil {
		s.fail(c, err)
		return
	}
	streak, err := s.progress.Streak(ctx, u.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	m := views.ReviewPage{Card: q.Next(), Due: len(q.Due), New: len(q.New), DeckSize: q.DeckSize, Streak: streak,
		Remaining: q.Total(), Done: len(done), Since: since.Unix()}
	for _, r := range done {
		for i, g := range views.ReviewGrades {
			if r.Grade == g.Grade {
				m.Graded[i]++
			}
		}
	}
	if m.Card != nil {
		m.Intervals = q.NextIntervals(m.Card.ID)
		m.Source, m.SourceURL = s.cardSource(m.Card.Kind, m.Card.Source)
	} else if next := q.NextDue(); !next.IsZero() {
		m.NextDue = next.Sub(q.Now)
	}
	s.render(c, http.StatusOK, views.Page{Title: "Review", Section: "review", DueCards: q.Total(), DueKnown: true}, views.ReviewView(m))
}

// cardSource names where a card comes from and links it.
func (s *Server) cardSource(kind, source string) (name, href string) {
	if kind == "interview" {
		if p, ok := s.interviews.Problem(source); ok {
			return "From your mock interview “" + p.Title + "”", "/interviews/" + p.Slug
		}
		return "", ""
	}
	if kind == "lesson" {
		if l, ok := s.catalog().Lesson(source); ok {
			return "From the lesson “" + l.Title + "”", "/lessons/" + l.Slug
		}
		return "", ""
	}
	return "Interview question", "/questions/" + source
}

// reviewCard grades a card and goes on with the session.
func (s *Server) reviewCard(c *gin.Context) {
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	grade, err := strconv.Atoi(c.Request.PostForm.Get("grade"))
	if err != nil {
		grade = 0
	}
	if _, err := s.progress.Review(c.Request.Context(), currentUser(c).ID, c.Request.PostForm.Get("card"), grade); err != nil {
		s.fail(c, err)
		return
	}
	since := s.sessionStart(c.Request.PostForm.Get("since"))
	c.Redirect(http.StatusSeeOther, "/review?since="+strconv.FormatInt(since.Unix(), 10))
}
