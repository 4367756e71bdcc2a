package web

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/web/views"
)

// The admin's page of users: their roles, and the invitations waiting.

func (s *Server) usersModel(c *gin.Context) (views.UsersPage, error) {
	ctx := c.Request.Context()
	users, err := s.store.Users(ctx)
	if err != nil {
		return views.UsersPage{}, err
	}
	invs, err := s.store.PendingInvitations(ctx, s.now())
	return views.UsersPage{Users: userRows(users), Me: currentUser(c).ID, Invitations: invitationRows(invs), InviteRole: string(store.RoleLearner)}, err
}

func (s *Server) adminUsers(c *gin.Context) {
	m, err := s.usersModel(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, views.Page{Title: "Users", Section: "admin"}, views.UsersView(m))
}

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
