package web

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/web/views"
)

// maxFormBytes bounds every form body.
const maxFormBytes = 64 << 10

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") || len(next) > 512 {
		return "/"
	}
	return next
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

func (s *Server) registerForm(c *gin.Context) {
	if currentUser(c) != nil {
		c.Redirect(http.StatusSeeOther, "/")
		return
	}
	s.render(c, http.StatusOK, views.Page{Title: "Create account"}, views.RegisterView(views.AuthForm{}))
}

func retryMessage(wait time.Duration) string {
	mins := int(math.Ceil(wait.Minutes()))
	if mins <= 1 {
		return "Too many attempts. Please wait a minute and try again."
	}
	return fmt.Sprintf("Too many attempts. Please wait %d minutes and try again.", mins)
}

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
	acctKey, ipKey := auth.LoginKeys(creds.Email, c.ClientIP())
	wait, err := s.loginThrottle.Wait(ctx, acctKey, ipKey)
	if err != nil {
		s.fail(c, apperr.Wrap(err, apperr.Unavailable, "Logging in is unavailable right now. Please try again shortly."))
		return
	}
	if wait > 0 {
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		form.Message = retryMessage(wait)
		s.render(c, http.StatusTooManyRequests, views.Page{Title: "Log in"}, views.LoginView(form))
		return
	}
	user, err := s.store.UserByEmail(ctx, creds.Email)
	ok := false
	switch {
	case apperr.Is(err, apperr.NotFound):
		auth.VerifyNothing(creds.Password) // same cost as a real check
	case err != nil:
		s.fail(c, err)
		return
	default:
		ok, err = auth.VerifyPassword(user.PasswordHash, creds.Password)
		if err != nil {
			s.fail(c, err)
			return
		}
	}
	if !ok {
		if err := s.loginThrottle.Add(ctx, acctKey, ipKey); err != nil {
			s.log.Warn("login throttle unavailable", "err", err)
		}
		form.Message = "That email and password do not match an account."
		s.render(c, http.StatusUnauthorized, views.Page{Title: "Log in"}, views.LoginView(form))
		return
	}
	_ = s.loginThrottle.Reset(ctx, acctKey)
	if err := s.sessions.start(c, user.ID); err != nil {
		s.fail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, form.Next)
}

func (s *Server) register(c *gin.Context) {
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	rawEmail := c.Request.PostForm.Get("email")
	form := views.AuthForm{Email: strings.TrimSpace(rawEmail)}
	creds, errs := auth.ParseRegistration(rawEmail, c.Request.PostForm.Get("password"))
	if len(errs) > 0 {
		form.Errors = errs
		s.render(c, http.StatusUnprocessableEntity, views.Page{Title: "Create account"}, views.RegisterView(form))
		return
	}
	form.Email = creds.Email
	ipKey := "throttle:register:ip:" + c.ClientIP()
	wait, err := s.signupLimit.Wait(ctx, ipKey)
	if err != nil {
		s.fail(c, apperr.Wrap(err, apperr.Unavailable, "Registration is unavailable right now. Please try again shortly."))
		return
	}
	if wait > 0 {
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		form.Message = retryMessage(wait)
		s.render(c, http.StatusTooManyRequests, views.Page{Title: "Create account"}, views.RegisterView(form))
		return
	}
	hash, err := auth.HashPassword(creds.Password)
	if err != nil {
		s.fail(c, err)
		return
	}
	user, err := s.store.CreateUser(ctx, creds.Email, hash, "")
	if apperr.Is(err, apperr.Conflict) {
		form.Errors = views.FormErrors{"email": "An account with this email already exists. Log in instead?"}
		s.render(c, http.StatusConflict, views.Page{Title: "Create account"}, views.RegisterView(form))
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.signupLimit.Add(ctx, ipKey); err != nil {
		s.log.Warn("registration limit unavailable", "err", err)
	}
	s.log.Info("account created", "user_id", user.ID, "role", user.Role)
	if err := s.sessions.start(c, user.ID); err != nil {
		s.fail(c, err)
		return
	}
	s.flash(c, "success", "Welcome! Your account is ready.")
	c.Redirect(http.StatusSeeOther, "/")
}

func (s *Server) logout(c *gin.Context) {
	s.sessions.endCurrent(c)
	s.flash(c, "info", "You are logged out.")
	c.Redirect(http.StatusSeeOther, "/")
}
