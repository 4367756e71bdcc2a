package web

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/web/views"
)

// How much a signed-in home lists of each kind.
const (
	homeAssignments = 8
	homeClasses     = 12
	homeUpcoming    = 8
)

// home is the visitors' page, and a signed-in person's own home: a
// learner's work in hand, or an instructor's classes.
func (s *Server) home(c *gin.Context) {
	p := s.page(c, views.Page{Section: "home",
		Description: "Learn system design by building, breaking and measuring real backends."})
	u := currentUser(c)
	if u == nil {
		s.render(c, http.StatusOK, p, views.HomeView(p, s.homeModel()))
		return
	}
	p.Title = "Home"
	var (
		h   views.SignedInHome
		err error
	)
	if isStaff(u) {
		h.Instructor, err = s.instructorHome(c, u.ID)
	} else {
		h.Learner, err = s.learnerHome(c, u.ID)
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	if rec, ok := s.navRecord(c); ok {
		h.DueCards = s.progress.DueCount(rec)
		p.DueCards, p.DueKnown = h.DueCards, true
	}
	s.render(c, http.StatusOK, p, views.SignedInHomeView(p, h))
}

// learnerHome gathers a learner's home in three queries besides the
// nav's: lessons opened, assignments, best scores.
func (s *Server) learnerHome(c *gin.Context, userID int64) (*views.LearnerHome, error) {
	ctx := c.Request.Context()
	h := &views.LearnerHome{Grading: s.gradingOn()}
	lp, err := s.store.LessonProgressOf(ctx, userID)
	if err != nil {
		return nil, err
	}
	s.continueLesson(h, lp)
	as, err := s.store.LearnerAssignments(ctx, userID, homeAssignments)
	if err != nil {
		return nil, err
	}
	now := s.now()
	for _, a := range as {
		title, href := s.assignmentTitle(a.Kind, a.Ref)
		ha := views.HomeAssignment{Title: title, Href: href, ClassName: a.ClassName, Done: a.Done, Due: a.DueAt}
		ha.Late = a.DueAt != nil && !a.Done && now.After(*a.DueAt)
		h.Assignments = append(h.Assignments, ha)
	}
	if s.labsOpen {
		if h.Instances, err = s.runningInstances(ctx, userID); err != nil {
			return nil, err
		}
	}
	if s.gradingOn() {
		best, err := s.grader.BestScores(ctx, userID)
		if err != nil {
			return nil, err
		}
		for _, b := range best {
			if ex, ok := s.exercise(b.Exercise); ok && b.Graded > 0 {
				h.Scores = append(h.Scores, views.HomeScore{Title: ex.Title, Href: "/labs/" + b.Lab + "/exercises/" + b.Exercise,
					Score: b.Score, Max: b.MaxScore, Attempts: b.Attempts})
			}
		}
	}
	return h, nil
}

// continueLesson picks the lesson to continue with, as the progress page
// does: the one opened last and not completed, else the first not
// completed; and counts the lessons completed.
func (s *Server) continueLesson(h *views.LearnerHome, lp []store.LessonProgress) {
	cat := s.catalog()
	h.Lessons = len(cat.Lessons)
	done := map[string]bool{}
	var last time.Time
	var slug string
	for _, p := range lp {
		if _, ok := cat.Lesson(p.LessonSlug); !ok {
			continue
		}
		done[p.LessonSlug] = p.CompletedAt != nil
		if p.CompletedAt != nil {
			h.Completed++
		} else if p.LastOpenedAt.After(last) {
			last, slug = p.LastOpenedAt, p.LessonSlug
		}
	}
	for _, l := range cat.Lessons {
		if (slug == "" && !done[l.Slug]) || l.Slug == slug {
			h.Continue = &views.HomeLesson{Slug: l.Slug, Title: l.Title, Summary: l.Summary, Minutes: l.Minutes}
			h.Opened = slug != ""
			return
		}
	}
}

// assignmentTitle names an assignment and links where it is done.
func (s *Server) assignmentTitle(kind, ref string) (title, href string) {
	if kind == store.AssignQuiz {
		if l, ok := s.catalog().Lesson(ref); ok {
			return "Quiz: " + l.Title, "/lessons/" + ref + "/quiz"
		}
		return "Quiz: " + ref, "/lessons/" + ref + "/quiz"
	}
	if s.grader != nil {
		if l, ex, ok := s.grader.Exercise(ref); ok {
			return l.Info().Title + " lab: " + ex.Title, "/labs/" + l.Info().ID + "/exercises/" + ref
		}
	}
	return ref, ""
}

// runningInstances lists a learner's running lab instances on every
// replica, oldest first.
func (s *Server) runningInstances(ctx context.Context, userID int64) ([]views.RunningInstance, error) {
	owned, err := s.labs.Owned(ctx, "", userID)
	if err != nil {
		return nil, err
	}
	var out []views.RunningInstance
	for _, r := range owned {
		title := r.Lab
		if l, ok := s.labs.Lab(r.Lab); ok {
			title = l.Info().Title
		}
		out = append(out, views.RunningInstance{Lab: r.Lab, LabTitle: title, ID: r.ID, Created: r.Created})
	}
	return out, nil
}

// instructorHome gathers an instructor's home in two queries besides the
// nav's (which counts the submissions waiting): classes, due dates.
func (s *Server) instructorHome(c *gin.Context, userID int64) (*views.InstructorHome, error) {
	ctx := c.Request.Context()
	h := &views.InstructorHome{}
	classes, err := s.store.TaughtClasses(ctx, userID, homeClasses)
	if err != nil {
		return nil, err
	}
	for _, cl := range classes {
		h.Classes = append(h.Classes, views.HomeClass{ID: cl.ID, Name: cl.Name, Members: cl.Members})
	}
	dues, err := s.store.UpcomingDues(ctx, userID, s.now(), homeUpcoming)
	if err != nil {
		return nil, err
	}
	for _, d := range dues {
		title, _ := s.assignmentTitle(d.Kind, d.Ref)
		h.Upcoming = append(h.Upcoming, views.HomeDue{Title: title, ClassID: d.ClassID, ClassName: d.ClassName, Due: d.DueAt})
	}
	if rec, ok := s.navRecord(c); ok {
		h.Waiting = rec.Waiting
	}
	return h, nil
}
