package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/web/views"
)

// The login and registration pages with single sign-on.

// ssoPage adds single sign-on to the login page's request: the button's
// context, and a Content-Security-Policy whose form-action lets the
// button's form lead on to the provider (browsers apply form-action to the
// redirect that follows a form).
func (s *Server) ssoPage(c *gin.Context, si views.SignIn) {
	c.Header("Content-Security-Policy", strings.Replace(contentSecurityPolicy,
		"form-action 'self'", "form-action 'self' "+s.sso.formOrigins(), 1))
	c.Request = c.Request.WithContext(views.WithSignIn(c.Request.Context(), si))
}

// ssoLogin runs before the login routes. With single sign-on it offers
// the button; when people sign in with the provider only, the login page
// is the button, with a password form for administrators at
// /login?password=1.
func (s *Server) ssoLogin(c *gin.Context) {
	if s.sso == nil {
		c.Next()
		return
	}
	si := s.sso.signIn()
	if s.cfg.OIDC.Only && c.Request.Method == http.MethodGet && c.Query("password") == "" && currentUser(c) == nil {
		s.ssoPage(c, si)
		s.render(c, http.StatusOK, views.Page{Title: "Log in"}, views.SSOOnlyLoginView(views.AuthForm{Next: safeNext(c.Query("next"))}))
		c.Abort()
		return
	}
	si.Password = true
	s.ssoPage(c, si)
	c.Next()
}

// ssoRegister runs before the registration routes: when people sign in
// with the provider only, nobody registers with a password.
func (s *Server) ssoRegister(c *gin.Context) {
	if s.sso == nil || !s.cfg.OIDC.Only {
		c.Next()
		return
	}
	if c.Request.Method == http.MethodGet {
		c.Redirect(http.StatusSeeOther, "/login")
		c.Abort()
		return
	}
	s.ssoPage(c, s.sso.signIn())
	s.render(c, http.StatusForbidden, views.Page{Title: "Log in"}, views.SSOOnlyLoginView(views.AuthForm{
		Message: fmt.Sprintf("Accounts here are made by signing in with %s.", s.cfg.OIDC.Name),
	}))
	c.Abort()
}

// passwordLoginAllowed says whether an account whose password was right may
// log in with it: always, except that when people sign in with the
// provider only, passwords are the administrators' way in alone.
func (s *Server) passwordLoginAllowed(role string) bool {
	return s.sso == nil || !s.cfg.OIDC.Only || role == string(store.RoleAdmin)
}

// ssoFailed shows the login page with a sentence; the detail is logged.
func (s *Server) ssoFailed(c *gin.Context, status int, msg, next, reason string, attrs ...any) {
	attrs = append([]any{"request_id", c.GetString(ctxRequestID), "reason", reason, "status", status}, attrs...)
	s.log.Warn("single sign-on refused", attrs...)
	si := s.sso.signIn()
	si.Password = !s.cfg.OIDC.Only
	s.ssoPage(c, si)
	form := views.AuthForm{Message: msg, Next: next}
	if s.cfg.OIDC.Only {
		s.render(c, status, views.Page{Title: "Log in"}, views.SSOOnlyLoginView(form))
		return
	}
	s.render(c, status, views.Page{Title: "Log in"}, views.LoginView(form))
}
