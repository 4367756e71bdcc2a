package web

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/web/views"
)

// maxFormBytes bounds every form body.
const maxFormBytes = 64 << 10

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// maxNext bounds a post-login redirect target.
const maxNext = 512

// safeNext keeps a post-login redirect on this site: an absolute path of
// printable ASCII without backslashes, whose second character is no slash,
// before or after percent-decoding. Browsers drop tabs and newlines from a
// Location and read a backslash as a slash, so "/<TAB>/host", "/\\host" or
// "//host" would leave the site; anything doubtful becomes "/".
func safeNext(next string) string {
	if len(next) > maxNext || !pathOnly(next) {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Opaque != "" || u.User != nil || u.Host != "" || !pathOnly(u.Path) {
		return "/"
	}
	return next
}

// pathOnly reports whether p is "/" followed by printable ASCII other than
// a backslash, and does not start with two slashes.
func pathOnly(p string) bool {
	if p == "" || p[0] != '/' || len(p) > 1 && p[1] == '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

func (s *Server) parseForm(c *gin.Context) error {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxFormBytes)
	if err := c.Request.ParseForm(); err != nil {
		if strings.Contains(err.Error(), "too large") {
			return err
		}
		return apperr.Wrap(err, apperr.Invalid, "The form could not be read.")
	}
	return nil
}

func (s *Server) loginForm(c *gin.Context) {
	if currentUser(c) != nil {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	s.render(c, http.StatusOK, views.Page{Title: "Log in"}, views.LoginView(views.AuthForm{Next: safeNext(c.Query("next"))}))
}

func retryMessage(wait time.Duration) string {
	mins := int(math.Ceil(wait.Minutes()))
	if mins <= 1 {
		return "Too many attempts. Please wait a minute and try again."
	}
	return fmt.Sprintf("Too many attempts. Please wait %d minutes and try again.", mins)
}

// busyRetrySeconds is the Retry-After of a 503 when password hashing is at
// capacity: its line clears in well under a second.
const busyRetrySeconds = 2

// busyMessage is shown when password hashing is at capacity.
const busyMessage = "Many people are signing in right now. Please try again in a few seconds."

// tooMany re-renders a form with the wait for a spent limit.
func (s *Server) tooMany(c *gin.Context, wait time.Duration, title string, view func(views.AuthForm) templ.Component, form views.AuthForm) {
	c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	form.Message = retryMessage(wait)
	s.render(c, http.StatusTooManyRequests, views.Page{Title: title}, view(form))
}

// busy re-renders a form saying that password hashing is at capacity.
func (s *Server) busy(c *gin.Context, title string, view func(views.AuthForm) templ.Component, form views.AuthForm) {
	c.Header("Retry-After", strconv.Itoa(busyRetrySeconds))
	form.Message = busyMessage
	s.render(c, http.StatusServiceUnavailable, views.Page{Title: title}, view(form))
}

// login counts the attempt before checking the password, so at most the
// limit's number of passwords is ever checked, however many arrive at once.
func (s *Server) login(c *gin.Context) {
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	rawEmail := c.Request.PostForm.Get("email")
	form := views.AuthForm{Email: strings.TrimSpace(rawEmail), Next: safeNext(c.Request.PostForm.Get("next"))}
	creds, errs := auth.ParseLogin(rawEmail, c.Request.PostForm.Get("password"))
	if len(errs) > 0 {
		form.Errors = errs
		s.render(c, http.StatusUnprocessableEntity, views.Page{Title: "Log in"}, views.LoginView(form))
		return
	}
	form.Email = creds.Email
	attempt := s.loginLimits.For(creds.Email, c.ClientIP())
	wait, err := s.limiter.Take(ctx, attempt.Limits()...)
	if err != nil {
		s.fail(c, apperr.Wrap(err, apperr.Unavailable, "Logging in is unavailable right now. Please try again shortly."))
		return
	}
	if wait > 0 {
		s.tooMany(c, wait, "Log in", views.LoginView, form)
		return
	}
	user, err := s.store.UserByEmail(ctx, creds.Email)
	ok := false
	switch {
	case apperr.Is(err, apperr.NotFound):
		err = s.hasher.VerifyNothing(creds.Password) // same cost as a real check
	case err == nil:
		ok, err = s.hasher.Verify(user.PasswordHash, creds.Password)
	}
	if err != nil {
		// No password was checked: the attempt goes back to the limits.
		if gerr := s.limiter.GiveBack(context.WithoutCancel(ctx), attempt.Pair.Key, attempt.Account.Key, attempt.IP.Key); gerr != nil {
			s.log.Warn("login limit unavailable", "err", gerr)
		}
		if errors.Is(err, auth.ErrBusy) {
			s.busy(c, "Log in", views.LoginView, form)
			return
		}
		s.fail(c, err)
		return
	}
	if !ok {
		form.Message = "That email and password do not match an account."
		s.render(c, http.StatusUnauthorized, views.Page{Title: "Log in"}, views.LoginView(form))
		return
	}
	if !s.passwordLoginAllowed(string(user.Role)) {
		form.Message = "This workbook signs you in with " + s.cfg.OIDC.Name + " only; passwords are for administrators."
		s.render(c, http.StatusForbidden, views.Page{Title: "Log in"}, views.LoginView(form))
		return
	}
	// The right password forgives this account's earlier mistakes from this
	// address and takes nothing from the address's budget; a guesser
	// elsewhere keeps the failures counted against their own address.
	bg := context.WithoutCancel(ctx)
	if err := s.limiter.Reset(bg, attempt.Pair.Key, attempt.Account.Key); err != nil {
		s.log.Warn("login limit unavailable", "err", err)
	}
	if err := s.limiter.GiveBack(bg, attempt.IP.Key); err != nil {
		s.log.Warn("login limit unavailable", "err", err)
	}
	if err := s.sessions.start(c, user.ID); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, form.Next)
}

func (s *Server) logout(c *gin.Context) {
	s.sessions.endCurrent(c)
	s.flash(c, "info", "You are logged out.")
	c.Redirect(http.StatusSeeOther, "/")
}
