package web

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/web/views"
)

// maxNoticesShown bounds the notices and waiting submissions on a page.
const maxNoticesShown = 50

// maxWaitingCounted bounds the waiting submissions the nav's badge
// counts: it needs no more than "99+".
const maxWaitingCounted = 100

func (s *Server) noticesPage(c *gin.Context) {
	u := currentUser(c)
	ctx := c.Request.Context()
	ns, err := s.store.Notices(ctx, u.ID, maxNoticesShown)
	if err != nil {
		s.fail(c, err)
		return
	}
	m := views.NoticesPage{Notices: noticeRows(ns), Staff: isStaff(u)}
	for _, n := range ns {
		if n.ReadAt == nil {
			m.Unread++
		}
	}
	if m.Staff {
		waiting, err := s.store.WaitingForLook(ctx, u.ID, maxNoticesShown)
		if err != nil {
			s.fail(c, err)
			return
		}
		m.Waiting = waitingRows(waiting)
		if m.WaitingTotal, err = s.store.WaitingCount(ctx, u.ID, 10000); err != nil {
			s.fail(c, err)
			return
		}
		m.Titles = map[string]string{}
		for _, w := range m.Waiting {
			if _, ex, ok := s.grader.Exercise(w.Exercise); ok {
				m.Titles[w.Exercise] = ex.Title
			}
		}
	}
	s.render(c, http.StatusOK, views.Page{Title: "Notices", Section: "notices"}, views.NoticesView(m))
}

func (s *Server) readNotices(c *gin.Context) {
	if err := s.store.MarkNoticesRead(c.Request.Context(), currentUser(c).ID, "", s.now()); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/notices")
}

// reviewNotice is what the learner hears when an instructor saves a review
// with feedback or an override in a class; nil when there is nothing to
// tell. It names the class: a learner in two may be reviewed by each.
func reviewNotice(sub store.Submission, title, class string, r store.SubmissionReview, before store.SubmissionReview) *store.Notice {
	changed := r.Feedback != before.Feedback || r.Reason != before.Reason ||
		(r.OverrideScore == nil) != (before.OverrideScore == nil) ||
		(r.OverrideScore != nil && before.OverrideScore != nil && *r.OverrideScore != *before.OverrideScore)
	if !changed || (r.Feedback == "" && r.OverrideScore == nil) {
		return nil
	}
	var msg string
	switch {
	case r.OverrideScore != nil && r.Feedback != "":
		msg = fmt.Sprintf("Your instructor in %s scored submission #%d to %s %d / %d and left feedback.", class, sub.Number, title, *r.OverrideScore, sub.MaxScore)
	case r.OverrideScore != nil:
		msg = fmt.Sprintf("Your instructor in %s scored submission #%d to %s %d / %d.", class, sub.Number, title, *r.OverrideScore, sub.MaxScore)
	default:
		msg = fmt.Sprintf("Your instructor in %s left feedback on submission #%d to %s.", class, sub.Number, title)
	}
	return &store.Notice{UserID: sub.UserID, Kind: store.NoticeFeedback, Message: msg, Link: "/submissions/" + sub.ID}
}
