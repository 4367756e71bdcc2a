package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/web/views"
)

const (
	// invitationTTL is how long an admin's invitation link works.
	invitationTTL = 7 * 24 * time.Hour
	// maxInvitations bounds the invitations waiting to be used.
	maxInvitations = 200
)

// siteURL is the public address of path on this server.
func (s *Server) siteURL(c *gin.Context, path string) string {
	base := s.cfg.BaseURL
	if base == "" {
		scheme := "http"
		if c.Request.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + c.Request.Host
	}
	return base + path
}

// createInvitation makes a single-use registration link for one address
// and shows it this once: only its hash is kept.
func (s *Server) createInvitation(c *gin.Context) {
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	m, err := s.usersModel(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	raw := c.Request.PostForm.Get("email")
	email, msg := auth.NormaliseEmail(raw)
	role, ok := store.ParseRole(c.Request.PostForm.Get("role"))
	m.InviteEmail, m.InviteRole, m.InviteErrors = strings.TrimSpace(raw), c.Request.PostForm.Get("role"), views.FormErrors{}
	if msg != "" {
		m.InviteErrors["email"] = msg
	} else if _, err := s.store.UserByEmail(ctx, email); err == nil {
		m.InviteErrors["email"] = email + " already has an account; give it a role in the table above."
	} else if !apperr.Is(err, apperr.NotFound) {
		s.fail(c, err)
		return
	}
	if !ok {
		m.InviteErrors["role"] = "Choose learner, instructor or admin."
	}
	if len(m.InviteErrors) > 0 {
		s.render(c, http.StatusUnprocessableEntity, views.Page{Title: "Users", Section: "admin"}, views.UsersView(m))
		return
	}
	token := auth.NewToken()
	now := s.now()
	inv, err := s.store.CreateInvitation(ctx, store.Invitation{
		Email: email, Role: role, TokenHash: auth.TokenID(token), CreatedBy: currentUser(c).ID, CreatedAt: now, ExpiresAt: now.Add(invitationTTL),
	}, maxInvitations)
	if apperr.Is(err, apperr.TooMany) {
		m.InviteErrors["email"] = fmt.Sprintf("%d invitations are waiting to be used; revoke some before inviting more.", maxInvitations)
		s.render(c, http.StatusTooManyRequests, views.Page{Title: "Users", Section: "admin"}, views.UsersView(m))
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	s.log.Info("invitation created", "by_user_id", inv.CreatedBy, "invitation_id", inv.ID, "role", inv.Role)
	if m, err = s.usersModel(c); err != nil {
		s.fail(c, err)
		return
	}
	m.NewInvite, m.NewInviteEmail = s.siteURL(c, "/register?invite="+url.QueryEscape(token)), email
	s.render(c, http.StatusCreated, views.Page{Title: "Users", Section: "admin"}, views.UsersView(m))
}

func (s *Server) revokeInvitation(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("iid"), 10, 64)
	if err != nil {
		s.notFound(c)
		return
	}
	inv, err := s.store.DeleteInvitation(c.Request.Context(), id)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.log.Info("invitation revoked", "by_user_id", currentUser(c).ID, "invitation_id", inv.ID)
	s.flash(c, "success", "The invitation for "+inv.Email+" is revoked; its link no longer works.")
	c.Redirect(http.StatusSeeOther, "/admin/users")
}
