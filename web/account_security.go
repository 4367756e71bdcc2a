package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/web/views"
)

// sessionHandle names a session in pages and URLs without its id: the id
// is the hash of a cookie, and is kept out of HTML all the same.
func sessionHandle(id string) string {
	sum := sha256.Sum256([]byte("session-handle:" + id))
	return hex.EncodeToString(sum[:8])
}

// sessionRows are the account's sessions as the account page lists them.
func (s *Server) sessionRows(c *gin.Context) ([]views.SessionRow, error) {
	rows, err := s.store.SessionsOf(c.Request.Context(), currentUser(c).ID)
	if err != nil {
		return nil, err
	}
	current := currentSession(c)
	out := make([]views.SessionRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, views.SessionRow{
			Handle: sessionHandle(r.ID), CreatedAt: r.CreatedAt, LastSeenAt: r.LastSeenAt,
			Browser: browserName(r.UserAgent), UserAgent: r.UserAgent, Current: r.ID == current,
		})
	}
	return out, nil
}

// renderAccount shows the account page with status, after a form on it.
func (s *Server) renderAccount(c *gin.Context, status int, m views.AccountPage) {
	s.render(c, status, views.Page{Title: "Your account", Section: "account"}, views.AccountView(m))
}

// changePassword sets a new password when the current one is given. The
// attempt counts against the login limits before the current password is
// checked, so this form is no better for guessing than the login form.
// Every session of the account ends; this browser gets a fresh one.
func (s *Server) changePassword(c *gin.Context) {
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	u := currentUser(c)
	m, err := s.accountModel(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	current, next := c.Request.PostForm.Get("current_password"), c.Request.PostForm.Get("new_password")
	m.PasswordErrors = passwordChangeErrors(u.Email, current, next)
	if len(m.PasswordErrors) > 0 {
		s.renderAccount(c, http.StatusUnprocessableEntity, m)
		return
	}
	if !s.checkCurrentPassword(c, &m, current) {
		return
	}
	hash, err := s.hasher.Hash(next)
	if errors.Is(err, auth.ErrBusy) {
		s.passwordBusy(c, m)
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	if err := s.store.SetPassword(c.Request.Context(), u.ID, hash); err != nil {
		s.fail(c, err)
		return
	}
	s.log.Info("password changed", "user_id", u.ID)
	if err := s.sessions.start(c, u.ID); err != nil {
		s.fail(c, err)
		return
	}
	s.flash(c, "success", "Your password is changed. Every other session of your account is logged out.")
	c.Redirect(http.StatusSeeOther, "/account")
}

// passwordChangeErrors are the form's mistakes, beside their fields.
func passwordChangeErrors(email, current, next string) views.FormErrors {
	errs := views.FormErrors{}
	switch {
	case current == "":
		errs["current_password"] = "Enter your current password."
	case len(current) > 4*auth.MaxPasswordLen:
		errs["current_password"] = "That password is too long."
	}
	if _, perr := auth.ParseRegistration(email, next); perr["password"] != "" {
		errs["new_password"] = perr["password"]
	} else if next == current {
		errs["new_password"] = "Choose a password different from the current one."
	}
	return errs
}

// checkCurrentPassword counts the attempt against the login limits and
// verifies the current password; a right one clears the account's
// failures. When it is not ok, the account page is answered.
func (s *Server) checkCurrentPassword(c *gin.Context, m *views.AccountPage, current string) bool {
	ctx := c.Request.Context()
	u := currentUser(c)
	attempt := s.loginLimits.For(u.Email, c.ClientIP())
	wait, err := s.limiter.Take(ctx, attempt.Limits()...)
	if err != nil {
		s.fail(c, apperr.Wrap(err, apperr.Unavailable, "Changing passwords is unavailable right now. Please try again shortly."))
		return false
	}
	if wait > 0 {
		c.Header("Retry-After", fmt.Sprint(int(wait.Seconds()+0.999)))
		m.PasswordMessage = retryMessage(wait)
		s.renderAccount(c, http.StatusTooManyRequests, *m)
		return false
	}
	bg := context.WithoutCancel(ctx)
	ok, err := s.hasher.Verify(u.PasswordHash, current)
	if err != nil {
		if gerr := s.limiter.GiveBack(bg, attempt.Pair.Key, attempt.Account.Key, attempt.IP.Key); gerr != nil {
			s.log.Warn("login limit unavailable", "err", gerr)
		}
		if errors.Is(err, auth.ErrBusy) {
			s.passwordBusy(c, *m)
			return false
		}
		s.fail(c, err)
		return false
	}
	if !ok {
		m.PasswordErrors = views.FormErrors{"current_password": "That is not your current password."}
		s.renderAccount(c, http.StatusUnprocessableEntity, *m)
		return false
	}
	if err := s.limiter.Reset(bg, attempt.Pair.Key, attempt.Account.Key); err != nil {
		s.log.Warn("login limit unavailable", "err", err)
	}
	if err := s.limiter.GiveBack(bg, attempt.IP.Key); err != nil {
		s.log.Warn("login limit unavailable", "err", err)
	}
	return true
}

// passwordBusy answers when no password can be hashed right now.
func (s *Server) passwordBusy(c *gin.Context, m views.AccountPage) {
	c.Header("Retry-After", fmt.Sprint(busyRetrySeconds))
	m.PasswordMessage = busyMessage
	s.renderAccount(c, http.StatusServiceUnavailable, m)
}

// endSession logs out one of the account's sessions, named by its handle;
// a handle that is not one of the account's sessions is a 404.
func (s *Server) endSession(c *gin.Context) {
	ctx := c.Request.Context()
	u := currentUser(c)
	rows, err := s.store.SessionsOf(ctx, u.ID)
	if err != nil {
		s.fail(c, err)
		return
	}
	handle := c.Param("sid")
	for _, r := range rows {
		if sessionHandle(r.ID) != handle {
			continue
		}
		if r.ID == currentSession(c) {
			s.sessions.endCurrent(c)
			s.flash(c, "info", "You are logged out.")
			c.Redirect(http.StatusSeeOther, "/")
			return
		}
		if err := s.store.DeleteSessionOf(ctx, u.ID, r.ID); err != nil && !apperr.Is(err, apperr.NotFound) {
			s.fail(c, err)
			return
		}
		s.log.Info("session ended by its owner", "user_id", u.ID)
		s.flash(c, "success", "That session is logged out.")
		c.Redirect(http.StatusSeeOther, "/account#sessions-h")
		return
	}
	s.notFound(c)
}

// endOtherSessions logs out every session of the account but this one.
func (s *Server) endOtherSessions(c *gin.Context) {
	u := currentUser(c)
	n, err := s.store.DeleteSessionsOf(c.Request.Context(), u.ID, currentSession(c))
	if err != nil {
		s.fail(c, err)
		return
	}
	s.log.Info("other sessions ended", "user_id", u.ID, "count", n)
	msg := fmt.Sprintf("%d other sessions are logged out.", n)
	switch n {
	case 0:
		msg = "There were no other sessions to log out."
	case 1:
		msg = "1 other session is logged out."
	}
	s.flash(c, "success", msg)
	c.Redirect(http.StatusSeeOther, "/account#sessions-h")
}

// browserName describes a User-Agent briefly, like "Firefox on Linux".
func browserName(ua string) string {
	if ua == "" {
		return "Unknown browser"
	}
	has := func(s string) bool { return strings.Contains(ua, s) }
	browser := "Unknown browser"
	switch {
	case has("Edg/"):
		browser = "Edge"
	case has("OPR/"):
		browser = "Opera"
	case has("Firefox/"):
		browser = "Firefox"
	case has("HeadlessChrome/"):
		browser = "Headless Chrome"
	case has("Chromium/"):
		browser = "Chromium"
	case has("Chrome/"), has("CriOS/"):
		browser = "Chrome"
	case has("Safari/"):
		browser = "Safari"
	case strings.HasPrefix(ua, "curl/"):
		return "curl"
	case strings.HasPrefix(ua, "Go-http-client/"):
		return "a Go program"
	}
	system := ""
	switch {
	case has("iPhone"), has("iPad"):
		system = "iOS"
	case has("Android"):
		system = "Android"
	case has("Windows"):
		system = "Windows"
	case has("Mac OS X"), has("Macintosh"):
		system = "macOS"
	case has("CrOS"):
		system = "ChromeOS"
	case has("Linux"):
		system = "Linux"
	}
	if system == "" {
		return browser
	}
	return browser + " on " + system
}

// tokenDayChoices are the expiries a new token may have, in days.
var tokenDayChoices = []int{7, 30, 90, 365}

// parseTokenOptions reads a new token's expiry (days) and scope as the
// form sends them; an empty field takes the form's default (90 days,
// read-only). A value that is not offered is an error naming its field,
// and its result is zero.
func parseTokenOptions(daysField, scopeField string) (days int, scope store.TokenScope, errs views.FormErrors) {
	errs = views.FormErrors{}
	days = defaultTokenDays
	if daysField != "" {
		days = 0
		for _, d := range tokenDayChoices {
			if daysField == strconv.Itoa(d) {
				days = d
			}
		}
		if days == 0 {
			errs["expires_days"] = "Choose when the token expires: in 7, 30, 90 or 365 days."
		}
	}
	scope = store.ScopeReadOnly
	if scopeField != "" {
		var ok bool
		if scope, ok = store.ParseTokenScope(scopeField); !ok {
			errs["scope"] = "Choose read-only or read-write."
		}
	}
	return days, scope, errs
}
