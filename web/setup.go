package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/web/views"
)

// setupLinkTTL is how long a setup link printed at start works.
const setupLinkTTL = 24 * time.Hour

// SetupLink returns a one-time link that claims the first admin account,
// under base (the server's public URL), while no admin exists; "" once
// one does. Each call makes a new link; using any of them uses them all
// up. Only the link's hash is stored.
func (s *Server) SetupLink(ctx context.Context, base string) (string, error) {
	admin, err := s.store.HasAdmin(ctx)
	if err != nil || admin {
		return "", err
	}
	token := auth.NewToken()
	now := s.now()
	if err := s.store.CreateSetupToken(ctx, auth.TokenID(token), now, now.Add(setupLinkTTL)); err != nil {
		return "", err
	}
	return strings.TrimRight(base, "/") + "/setup/" + token, nil
}

// setupUsable reports whether the link's token can still claim the first
// admin account; a used, expired or wrong link answers one 404 page.
func (s *Server) setupUsable(c *gin.Context) (string, bool) {
	token := c.Param("token")
	if len(token) > 100 {
		s.setupGone(c)
		return "", false
	}
	ok, err := s.store.SetupTokenUsable(c.Request.Context(), auth.TokenID(token), s.now())
	if err != nil {
		s.fail(c, err)
		return "", false
	}
	if !ok {
		s.setupGone(c)
		return "", false
	}
	return token, true
}

func (s *Server) setupGone(c *gin.Context) {
	s.failWith(c, http.StatusNotFound, string(apperr.NotFound),
		"This setup link has been used or has expired. An admin gives roles on the Users page; an operator can run `server admin create-user --role admin`, or restart the server for a new link while no admin exists.", nil)
}

func (s *Server) setupModel(c *gin.Context, token string) views.SetupPage {
	m := views.SetupPage{Token: token}
	if u := currentUser(c); u != nil {
		m.SignedInAs = u.Email
	}
	return m
}

func (s *Server) setupPage(c *gin.Context) {
	token, ok := s.setupUsable(c)
	if !ok {
		return
	}
	s.render(c, http.StatusOK, views.Page{Title: "Set up the workbook"}, views.SetupView(s.setupModel(c, token)))
}

// claimSetup makes the signed-in account the admin with the setup link.
func (s *Server) claimSetup(c *gin.Context, token string, u *store.User) {
	err := s.store.ClaimSetup(c.Request.Context(), auth.TokenID(token), u.ID, s.now())
	if apperr.Is(err, apperr.NotFound) {
		s.setupGone(c)
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	s.log.Info("first admin claimed with the setup link", "user_id", u.ID)
	s.flash(c, "success", "Your account is the admin now. Give instructors their role here.")
	c.Redirect(http.StatusSeeOther, "/admin/users")
}

// setup claims the first admin account with a setup link: the signed-in
// account becomes the admin, or a new account is made as the admin. The
// link is used up only when that succeeds.
func (s *Server) setup(c *gin.Context) {
	token, ok := s.setupUsable(c)
	if !ok {
		return
	}
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	if u := currentUser(c); u != nil {
		s.claimSetup(c, token, u)
		return
	}
	m := s.setupModel(c, token)
	page := views.Page{Title: "Set up the workbook"}
	rawEmail := c.Request.PostForm.Get("email")
	creds, errs := auth.ParseRegistration(rawEmail, c.Request.PostForm.Get("password"))
	m.Form = views.AuthForm{Email: strings.TrimSpace(rawEmail), Errors: errs}
	if len(errs) > 0 {
		s.render(c, http.StatusUnprocessableEntity, page, views.SetupView(m))
		return
	}
	m.Form.Email = creds.Email
	// Counted like a registration, so the link cannot make the server hash
	// without bound.
	limit := auth.RegisterLimit(c.ClientIP())
	wait, err := s.limiter.Take(ctx, limit)
	if err != nil {
		s.fail(c, apperr.Wrap(err, apperr.Unavailable, "Setting up is unavailable right now. Please try again shortly."))
		return
	}
	if wait > 0 {
		m.Form.Message = retryMessage(wait)
		s.render(c, http.StatusTooManyRequests, page, views.SetupView(m))
		return
	}
	hash, err := s.hasher.Hash(creds.Password)
	if errors.Is(err, auth.ErrBusy) {
		_ = s.limiter.GiveBack(context.WithoutCancel(ctx), limit.Key)
		c.Header("Retry-After", "2")
		m.Form.Message = busyMessage
		s.render(c, http.StatusServiceUnavailable, page, views.SetupView(m))
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	user, err := s.store.Register(ctx, store.NewAccount{Email: creds.Email, PasswordHash: hash, SetupHash: auth.TokenID(token)}, s.now())
	switch {
	case apperr.Is(err, apperr.Conflict):
		m.Form.Errors = views.FormErrors{"email": "An account with this email already exists: log in, then open this link again to make it the admin."}
		s.render(c, http.StatusConflict, page, views.SetupView(m))
		return
	case apperr.Is(err, apperr.NotFound):
		s.setupGone(c)
		return
	case err != nil:
		s.fail(c, err)
		return
	}
	s.log.Info("first admin created with the setup link", "user_id", user.ID)
	if err := s.sessions.start(c, user.ID); err != nil {
		s.fail(c, err)
		return
	}
	s.flash(c, "success", "Your admin account is ready. Give instructors their role here.")
	c.Redirect(http.StatusSeeOther, "/admin/users")
}
