package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/gradebook"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/web/views"
)

const (
	// maxClasses bounds the classes one instructor keeps.
	maxClasses   = 200
	maxClassName = 120
	maxFeedback  = 4000
	// dueLayout is what an <input type="datetime-local"> sends.
	dueLayout = "2006-01-02T15:04"
)

func isStaff(u *store.User) bool {
	return u != nil && (u.Role == store.RoleInstructor || u.Role == store.RoleAdmin)
}

// classOr404 loads the class in the path if the user runs it (or is an
// admin); anyone else gets 404, as if it did not exist.
func (s *Server) classOr404(c *gin.Context) (store.Class, bool) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		s.notFound(c)
		return store.Class{}, false
	}
	cl, err := s.store.ClassByID(c.Request.Context(), id)
	u := currentUser(c)
	if err != nil || u == nil || !(u.Role == store.RoleAdmin || (u.Role == store.RoleInstructor && cl.InstructorID == u.ID)) {
		if err != nil && !apperr.Is(err, apperr.NotFound) {
			s.fail(c, err)
			return store.Class{}, false
		}
		s.notFound(c)
		return store.Class{}, false
	}
	return cl, true
}

func (s *Server) joinURL(c *gin.Context, code string) string {
	return s.siteURL(c, "/join/"+code)
}

func (s *Server) classesModel(c *gin.Context) (views.ClassesPage, error) {
	u := currentUser(c)
	m := views.ClassesPage{Staff: isStaff(u), Admin: u.Role == store.RoleAdmin}
	joined, err := s.store.ClassesJoined(c.Request.Context(), u.ID)
	if err != nil {
		return m, err
	}
	m.Joined = joined
	if m.Staff {
		id := u.ID
		if m.Admin {
			id = 0
		}
		if m.Taught, err = s.store.ClassesTaught(c.Request.Context(), id); err != nil {
			return m, err
		}
	}
	return m, nil
}

func (s *Server) classesPage(c *gin.Context) {
	m, err := s.classesModel(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, views.Page{Title: "Classes", Section: "classes"}, views.ClassesView(m))
}

func (s *Server) createClass(c *gin.Context) {
	if !isStaff(currentUser(c)) {
		s.fail(c, errNotInstructor)
		return
	}
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	name := strings.TrimSpace(c.Request.PostForm.Get("name"))
	cl, err := s.newClass(c, name)
	if e, ok := apperr.As(err); ok && e.Fields["name"] != "" {
		m, merr := s.classesModel(c)
		if merr != nil {
			s.fail(c, merr)
			return
		}
		m.Name, m.NameError = name, e.Fields["name"]
		s.render(c, http.StatusUnprocessableEntity, views.Page{Title: "Classes", Section: "classes"}, views.ClassesView(m))
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, "/classes/"+strconv.FormatInt(cl.ID, 10))
}

// joinPage shows which class a join link opens.
func (s *Server) joinPage(c *gin.Context) {
	cl, err := s.store.ClassByCode(c.Request.Context(), strings.ToUpper(c.Param("code")))
	if err != nil {
		s.failWith(c, http.StatusNotFound, string(apperr.NotFound), "This join link does not open any class. Check it with your instructor.", nil)
		return
	}
	s.render(c, http.StatusOK, views.Page{Title: "Join " + cl.Name, Section: "classes"},
		views.JoinView(views.JoinPage{Class: cl, SignedIn: currentUser(c) != nil}))
}

func (s *Server) joinClass(c *gin.Context) {
	code := c.Param("code")
	if code == "" {
		if err := s.parseForm(c); err != nil {
			s.fail(c, err)
			return
		}
		code = c.Request.PostForm.Get("code")
	}
	code = strings.ToUpper(strings.TrimSpace(code))
	cl, err := s.store.ClassByCode(c.Request.Context(), code)
	if err != nil {
		if !apperr.Is(err, apperr.NotFound) {
			s.fail(c, err)
			return
		}
		m, merr := s.classesModel(c)
		if merr != nil {
			s.fail(c, merr)
			return
		}
		m.Code, m.CodeError = code, "No class has this join code. Codes are 8 letters and digits, like K7QM2XPA."
		s.render(c, http.StatusUnprocessableEntity, views.Page{Title: "Classes", Section: "classes"}, views.ClassesView(m))
		return
	}
	if err := s.store.JoinClass(c.Request.Context(), cl.ID, currentUser(c).ID, s.now()); err != nil {
		s.fail(c, err)
		return
	}
	s.flash(c, "success", "You joined "+cl.Name+".")
	c.Redirect(http.StatusSeeOther, "/classes/"+strconv.FormatInt(cl.ID, 10))
}

// classPage is the gradebook for the class's instructor, and the
// assignment list for its learners.
func (s *Server) classPage(c *gin.Context) {
	u := currentUser(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		s.notFound(c)
		return
	}
	cl, err := s.store.ClassByID(c.Request.Context(), id)
	if err != nil {
		s.failOr404(c, err) // a missing class is the same page as another's
		return
	}
	if u.Role == store.RoleAdmin || (u.Role == store.RoleInstructor && cl.InstructorID == u.ID) {
		s.gradebookPage(c, cl)
		return
	}
	joined, err := s.store.ClassesJoined(c.Request.Context(), u.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	for _, j := range joined {
		if j.ID == cl.ID {
			s.learnerClassPage(c, cl)
			return
		}
	}
	s.notFound(c)
}

func (s *Server) gradebookSources() gradebook.Sources {
	return gradebook.Sources{Store: s.store, Progress: s.progress, Catalog: s.catalog(),
		Exercise: func(id string) (labs.Exercise, bool) {
			if s.grader == nil {
				return labs.Exercise{}, false
			}
			_, ex, ok := s.grader.Exercise(id)
			return ex, ok
		}}
}

func (s *Server) gradebookPage(c *gin.Context, cl store.Class) {
	book, err := gradebook.Build(c.Request.Context(), s.gradebookSources(), cl)
	if err != nil {
		s.fail(c, err)
		return
	}
	q, only, sortKey := c.Query("q"), c.Query("only"), c.Query("sort")
	if only != "late" && only != "missing" {
		only = ""
	}
	book.Filter(q, only)
	book.Sort(sortKey, c.Query("dir") == "desc")
	m := views.GradebookPage{Book: book, JoinURL: s.joinURL(c, cl.JoinCode), Query: q, Only: only, Sort: sortKey,
		Desc: c.Query("dir") == "desc", Now: s.now()}
	m.Options = s.assignmentOptions()
	s.render(c, http.StatusOK, views.Page{Title: cl.Name, Section: "classes"}, views.GradebookView(m))
}

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
	return out
}

func (s *Server) learnerClassPage(c *gin.Context, cl store.Class) {
	u := currentUser(c)
	// The learner's own row of the gradebook, computed the same way.
	book, err := gradebook.BuildFor(c.Request.Context(), s.gradebookSources(), cl, u.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	m := views.LearnerClassPage{Class: cl, Columns: book.Columns, Now: s.now()}
	if len(book.Rows) == 1 {
		m.Row = &book.Rows[0]
	}
	s.render(c, http.StatusOK, views.Page{Title: cl.Name, Section: "classes"}, views.LearnerClassView(m))
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
		s.flash(c, "error", "Pick an exercise or a quiz from the list.")
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

func (s *Server) deleteClass(c *gin.Context) {
	cl, ok := s.classOr404(c)
	if !ok {
		return
	}
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	if c.Request.PostForm.Get("confirm") != cl.Name {
		s.flash(c, "error", "Type the class's name to delete it.")
		c.Redirect(http.StatusSeeOther, "/classes/"+strconv.FormatInt(cl.ID, 10)+"#delete")
		return
	}
	if err := s.store.DeleteClass(c.Request.Context(), cl.ID); err != nil {
		s.fail(c, err)
		return
	}
	s.flash(c, "success", cl.Name+" deleted; its learners keep their submissions.")
	c.Redirect(http.StatusSeeOther, "/classes")
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
	aid, _ := strconv.ParseInt(c.Param("aid"), 10, 64)
	as, err := s.store.Assignments(c.Request.Context(), cl.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	var a *store.Assignment
	for i := range as {
		if as[i].ID == aid && as[i].Kind == store.AssignExercise {
			a = &as[i]
		}
	}
	if a == nil || s.grader == nil {
		s.notFound(c)
		return
	}
	members, err := s.store.Members(c.Request.Context(), cl.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	ids := make([]int64, len(members))
	for i, m := range members {
		ids[i] = m.ID
	}
	subs, err := s.store.SubmissionsOf(c.Request.Context(), ids, []string{a.Ref})
	if err != nil {
		s.fail(c, err)
		return
	}
	n := 0
	for _, sub := range subs {
		ok, err := s.grader.Regrade(c.Request.Context(), sub.ID)
		if err != nil {
			s.fail(c, err)
			return
		}
		if ok {
			n++
		}
	}
	s.flash(c, "success", fmt.Sprintf("%d submissions queued to be graded again.", n))
	c.Redirect(http.StatusSeeOther, "/classes/"+strconv.FormatInt(cl.ID, 10)+"#assignments")
}

func (s *Server) gradebookCSV(c *gin.Context) {
	cl, ok := s.classOr404(c)
	if !ok {
		return
	}
	book, err := gradebook.Build(c.Request.Context(), s.gradebookSources(), cl)
	if err != nil {
		s.fail(c, err)
		return
	}
	book.Sort("email", false)
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-gradebook.csv"; filename*=UTF-8''%s-gradebook.csv`,
		fileSafe(cl.Name), url.PathEscape(cl.Name)))
	c.Status(http.StatusOK)
	if err := book.WriteCSV(c.Writer); err != nil {
		_ = c.Error(err)
	}
}

// resultsJSON is a class's results: learners, assignments, every counted
// submission with its score, the class's override and late flag.
func (s *Server) resultsJSON(c *gin.Context) {
	cl, ok := s.classOr404(c)
	if !ok {
		return
	}
	book, err := gradebook.Build(c.Request.Context(), s.gradebookSources(), cl)
	if err != nil {
		s.fail(c, err)
		return
	}
	book.Sort("email", false)
	// Every attempt, not only the best: what an LMS or a spreadsheet
	// cannot rebuild from the gradebook.
	ids := make([]int64, len(book.Rows))
	email := map[int64]string{}
	for i, r := range book.Rows {
		ids[i], email[r.UserID] = r.UserID, r.Email
	}
	var exIDs []string
	due := map[string]store.Assignment{}
	for _, col := range book.Columns {
		if col.Kind == store.AssignExercise {
			exIDs = append(exIDs, col.Ref)
			due[col.Ref] = col.Assignment
		}
	}
	subs, err := s.store.SubmissionsOf(c.Request.Context(), ids, exIDs)
	if err != nil {
		s.fail(c, err)
		return
	}
	subIDs := make([]string, len(subs))
	for i, sub := range subs {
		subIDs[i] = sub.ID
	}
	reviews, err := s.store.Reviews(c.Request.Context(), cl.ID, subIDs)
	if err != nil {
		s.fail(c, err)
		return
	}
	attempts := []gin.H{}
	for _, sub := range subs {
		rv := reviews[sub.ID]
		attempts = append(attempts, gin.H{"id": sub.ID, "learner": email[sub.UserID], "exercise": sub.Exercise, "number": sub.Number,
			"status": sub.Status, "score": sub.Score, "max_score": sub.MaxScore, "override_score": rv.OverrideScore,
			"override_reason": rv.Reason, "feedback": rv.Feedback, "late": due[sub.Exercise].Late(sub.CreatedAt),
			"counts_as_attempt": sub.Counts(), "created_at": sub.CreatedAt})
	}
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-results.json"`, fileSafe(cl.Name)))
	c.Header("Content-Type", "application/json")
	enc := json.NewEncoder(c.Writer)
	enc.SetIndent("", "  ")
	c.Status(http.StatusOK)
	_ = enc.Encode(gin.H{"class": gin.H{"id": cl.ID, "name": cl.Name, "created_at": cl.CreatedAt}, "exported_at": s.now().UTC(),
		"assignments": book.Columns, "learners": book.Rows, "lessons_total": book.Lessons, "submissions": attempts})
}

func fileSafe(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		return "class"
	}
	return out
}

// Admin.

func (s *Server) setRole(c *gin.Context) {
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	uid, _ := strconv.ParseInt(c.Param("uid"), 10, 64)
	role, ok := store.ParseRole(c.Request.PostForm.Get("role"))
	if !ok {
		s.fail(c, apperr.Fields(map[string]string{"role": "learner, instructor or admin"}))
		return
	}
	if uid == currentUser(c).ID && role != store.RoleAdmin {
		s.flash(c, "error", "You cannot take away your own admin role; ask another admin.")
		c.Redirect(http.StatusSeeOther, "/admin/users")
		return
	}
	if err := s.store.SetRole(c.Request.Context(), uid, role); err != nil {
		s.fail(c, err)
		return
	}
	s.flash(c, "success", "Role changed.")
	c.Redirect(http.StatusSeeOther, "/admin/users")
}
