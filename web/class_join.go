package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/web/views"
)

// joinPage shows which class a join link opens.
func (s *Server) joinPage(c *gin.Context) {
	cl, err := s.store.ClassByCode(c.Request.Context(), strings.ToUpper(c.Param("code")))
	if err != nil {
		s.failWith(c, http.StatusNotFound, string(apperr.NotFound), "This join link does not open any class. Check it with your instructor.", nil)
		return
	}
	s.render(c, http.StatusOK, views.Page{Title: "Join " + cl.Name, Section: "classes"},
		views.JoinView(views.JoinPage{Class: classRef(cl), SignedIn: currentUser(c) != nil}))
}

// ownClassJoin is what an instructor reads who tries to join the class
// they teach: they would show up as a learner in its own gradebook.
const ownClassJoin = "You teach this class, so you cannot join it as a learner: its gradebook lists only its learners. To try it as a learner, use a second account."

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
	if cl.InstructorID == currentUser(c).ID {
		s.flash(c, "info", ownClassJoin)
		c.Redirect(http.StatusSeeOther, "/classes/"+strconv.FormatInt(cl.ID, 10))
		return
	}
	if err := s.store.JoinClass(c.Request.Context(), cl.ID, currentUser(c).ID, s.now()); err != nil {
		s.fail(c, err)
		return
	}
	s.flash(c, "success", "You joined "+cl.Name+".")
	c.Redirect(http.StatusSeeOther, "/classes/"+strconv.FormatInt(cl.ID, 10))
}
