package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/store"
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

// classLists are the classes the user teaches (an admin: every class)
// and the ones they are in.
func (s *Server) classLists(c *gin.Context) (taught, joined []store.Class, err error) {
	u := currentUser(c)
	if joined, err = s.store.ClassesJoined(c.Request.Context(), u.ID); err != nil || !isStaff(u) {
		return nil, joined, err
	}
	id := u.ID
	if u.Role == store.RoleAdmin {
		id = 0
	}
	taught, err = s.store.ClassesTaught(c.Request.Context(), id)
	return taught, joined, err
}

func (s *Server) classesModel(c *gin.Context) (views.ClassesPage, error) {
	u := currentUser(c)
	m := views.ClassesPage{Staff: isStaff(u), Admin: u.Role == store.RoleAdmin}
	taught, joined, err := s.classLists(c)
	m.Taught, m.Joined = classRefs(taught), classRefs(joined)
	return m, err
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

func (s *Server) learnerClassPage(c *gin.Context, cl store.Class) {
	u := currentUser(c)
	// The learner's own row of the gradebook, computed the same way.
	book, err := s.books.BuildFor(c.Request.Context(), cl, u.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	m := views.LearnerClassPage{Class: classRef(cl), Columns: book.Columns, Now: s.now()}
	if len(book.Rows) == 1 {
		m.Row = &book.Rows[0]
	}
	s.render(c, http.StatusOK, views.Page{Title: cl.Name, Section: "classes"}, views.LearnerClassView(m))
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
