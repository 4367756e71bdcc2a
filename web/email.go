package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/mail"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/web/views"
)

const (
	// resetTTL is how long a password reset link works.
	resetTTL = 30 * time.Minute
	// verifyTTL is how long an address confirmation link works.
	verifyTTL = 48 * time.Hour
	// mailQueueSize bounds the emails waiting to go out; beyond it a
	// request is told to try later.
	mailQueueSize = 200
	// mailWorkers is how many emails go out at once.
	mailWorkers = 2
	// mailTimeout bounds one delivery attempt to the mail server.
	mailTimeout = 30 * time.Second
)

// newMailQueue returns the queue emails leave by, or nil when no mail
// server is configured.
func newMailQueue(cfg config.Config, log *slog.Logger) (*mail.Queue, error) {
	if !cfg.SMTP.Enabled() {
		return nil, nil
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	sender, err := mail.NewSender(mail.Options{
		Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, Username: cfg.SMTP.Username, Password: cfg.SMTP.Password,
		Security: cfg.SMTP.Security, From: cfg.MailFrom, Hello: u.Hostname(), Timeout: mailTimeout,
	})
	if err != nil {
		return nil, err
	}
	return mail.NewQueue(sender, log, mailQueueSize, mailWorkers), nil
}

// FlushMail lets queued emails go out until ctx ends, then logs the rest as
// not sent. The server calls it on shutdown.
func (s *Server) FlushMail(ctx context.Context) error {
	if s.mail == nil {
		return nil
	}
	return s.mail.Close(ctx)
}

// emailToken matches what auth.NewToken makes, so anything else is turned
// away before the database is asked.
func emailToken(c *gin.Context) (string, bool) {
	t := c.Param("token")
	if len(t) != 43 {
		return "", false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return "", false
		}
	}
	return t, true
}

// linkHeaders keep a page whose address holds a token out of Referer
// headers and caches.
func linkHeaders(c *gin.Context) {
	c.Header("Referrer-Policy", "no-referrer")
	c.Header("Cache-Control", "no-store")
}

// linkURL is the absolute address of an emailed link. It is built from
// WORKBOOK_BASE_URL, never from the request's Host header, which a client
// chooses.
func (s *Server) linkURL(path, token string) string { return s.cfg.BaseURL + path + token }

func (s *Server) forgotForm(c *gin.Context) {
	s.render(c, http.StatusOK, views.Page{Title: "Forgot your password?"},
		views.ForgotView(views.ForgotPage{MailEnabled: s.mail != nil}))
}

// forgot queues a reset link. Whatever the address, the answer and the
// work done during the request are the same: the account is looked up by
// the queue's worker, after the answer, so neither the page nor its timing
// tells whether an account exists.
func (s *Server) forgot(c *gin.Context) {
	if s.mail == nil {
		s.forgotForm(c)
		return
	}
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	const title = "Forgot your password?"
	m := views.ForgotPage{MailEnabled: true, Email: strings.TrimSpace(c.Request.PostForm.Get("email")), ValidFor: "30 minutes"}
	email, msg := auth.NormaliseEmail(m.Email)
	if msg != "" {
		m.Errors = views.FormErrors{"email": msg}
		s.render(c, http.StatusUnprocessableEntity, views.Page{Title: title}, views.ForgotView(m))
		return
	}
	m.Email = email
	ctx := c.Request.Context()
	limits := auth.ResetLimits(email, c.ClientIP())
	wait, err := s.limiter.Take(ctx, limits...)
	if err != nil {
		s.fail(c, apperr.Wrap(err, apperr.Unavailable, "Password resets are unavailable right now. Please try again shortly."))
		return
	}
	if wait > 0 {
		c.Header("Retry-After", strconv.Itoa(int(wait.Seconds()+0.999)))
		m.Message = "We have sent several links for this address or from your network recently. " + strings.TrimPrefix(retryMessage(wait), "Too many attempts. ")
		s.render(c, http.StatusTooManyRequests, views.Page{Title: title}, views.ForgotView(m))
		return
	}
	reqID := c.GetString(ctxRequestID)
	err = s.mail.Enqueue(mail.Task{Kind: "password reset", RequestID: reqID, Build: func(ctx context.Context) (*mail.Message, error) {
		u, err := s.store.UserByEmail(ctx, email)
		if apperr.Is(err, apperr.NotFound) {
			s.log.Info("password reset asked for an address without an account", "request_id", reqID)
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		token := auth.NewToken()
		if _, err := s.store.CreateEmailToken(ctx, u.ID, store.TokenReset, auth.TokenID(token), resetTTL, s.now()); err != nil {
			return nil, err
		}
		s.log.Info("password reset link made", "request_id", reqID, "user_id", u.ID)
		return s.resetMessage(u.Email, token), nil
	}})
	if err != nil {
		// Nothing will be sent, whether or not the address has an account:
		// the request goes back to the limits and the person tries later.
		if gerr := s.limiter.GiveBack(context.WithoutCancel(ctx), auth.Keys(limits...)...); gerr != nil {
			s.log.Warn("reset limit unavailable", "err", gerr)
		}
		s.log.Error("password reset not queued", "request_id", reqID, "err", err)
		c.Header("Retry-After", "300")
		m.Message = "We cannot send email right now. Please try again in a few minutes."
		s.render(c, http.StatusServiceUnavailable, views.Page{Title: title}, views.ForgotView(m))
		return
	}
	m.Sent = true
	s.render(c, http.StatusOK, views.Page{Title: title}, views.ForgotView(m))
}

func (s *Server) siteName() string {
	u, err := url.Parse(s.cfg.BaseURL)
	if err != nil {
		return s.cfg.BaseURL
	}
	return u.Host
}

func (s *Server) resetMessage(to, token string) *mail.Message {
	return &mail.Message{
		To:      to,
		Subject: "Choose a new password for System Design Workbook",
		Text: fmt.Sprintf(`Hello,

Someone, we hope you, asked to reset the password of the System Design Workbook account %s on %s.

To choose a new password, open this link within 30 minutes:

%s

The link works once. Setting a new password signs the account out everywhere.

If you did not ask for this, you can ignore this email: your password stays as it is, and nobody can change it without the link.
`, to, s.siteName(), s.linkURL("/reset/", token)),
	}
}

func (s *Server) verifyMessage(to, token string) *mail.Message {
	return &mail.Message{
		To:      to,
		Subject: "Confirm your email address for System Design Workbook",
		Text: fmt.Sprintf(`Hello,

Please confirm that %s is your address for your System Design Workbook account on %s by opening this link within 2 days:

%s

If you did not make this account, you can ignore this email.
`, to, s.siteName(), s.linkURL("/verify/", token)),
	}
}

// badLink answers a link that does not work: unknown, used or expired look
// alike.
func (s *Server) badLink(c *gin.Context, reset bool) {
	s.render(c, http.StatusNotFound, views.Page{Title: "This link does not work"}, views.BadLinkView(views.BadLinkPage{Reset: reset}))
}

// liveLink reads an emailed link's token and finds the account whose
// live link of purpose it is. A link that does not work is answered
// here (badLink, or the store's failure) and ok is false.
func (s *Server) liveLink(c *gin.Context, purpose string) (token string, u store.User, ok bool) {
	linkHeaders(c)
	reset := purpose == store.TokenReset
	token, ok = emailToken(c)
	if !ok {
		s.badLink(c, reset)
		return "", u, false
	}
	_, u, err := s.store.LiveEmailToken(c.Request.Context(), auth.TokenID(token), purpose, s.now())
	if apperr.Is(err, apperr.NotFound) {
		s.badLink(c, reset)
		return "", u, false
	}
	if err != nil {
		s.fail(c, err)
		return "", u, false
	}
	return token, u, true
}

func (s *Server) resetForm(c *gin.Context) {
	token, u, ok := s.liveLink(c, store.TokenReset)
	if !ok {
		return
	}
	s.render(c, http.StatusOK, views.Page{Title: "Choose a new password"}, views.ResetView(views.ResetPage{Token: token, Email: u.Email}))
}

// reset sets the new password from a live link, ends every session of the
// account, and sends the person to log in with it.
func (s *Server) reset(c *gin.Context) {
	if err := s.parseForm(c); err != nil {
		linkHeaders(c)
		s.fail(c, err)
		return
	}
	token, u, ok := s.liveLink(c, store.TokenReset)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	hash := auth.TokenID(token)
	const title = "Choose a new password"
	m := views.ResetPage{Token: token, Email: u.Email}
	creds, errs := auth.ParseRegistration(u.Email, c.Request.PostForm.Get("password"))
	if msg := errs["password"]; msg != "" {
		m.Errors = views.FormErrors{"password": msg}
		s.render(c, http.StatusUnprocessableEntity, views.Page{Title: title}, views.ResetView(m))
		return
	}
	pw, err := s.hasher.Hash(creds.Password)
	if errors.Is(err, auth.ErrBusy) {
		c.Header("Retry-After", strconv.Itoa(busyRetrySeconds))
		m.Message = busyMessage
		s.render(c, http.StatusServiceUnavailable, views.Page{Title: title}, views.ResetView(m))
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	u, err = s.store.ResetPassword(ctx, hash, pw, s.now())
	if apperr.Is(err, apperr.NotFound) {
		s.badLink(c, true) // spent by another request meanwhile
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	s.log.Info("password reset by emailed link", "request_id", c.GetString(ctxRequestID), "user_id", u.ID)
	// The owner proved who they are: their earlier failed logins from this
	// address no longer count against them.
	attempt := s.loginLimits.For(u.Email, c.ClientIP())
	if err := s.limiter.Reset(context.WithoutCancel(ctx), attempt.Pair.Key, attempt.Account.Key); err != nil {
		s.log.Warn("login limit unavailable", "err", err)
	}
	s.sessions.endCurrent(c)
	s.flash(c, "success", "Your password is changed, and every device that was signed in is signed out. Log in with the new password.")
	c.Redirect(http.StatusSeeOther, "/login")
}

func (s *Server) verifyForm(c *gin.Context) {
	token, u, ok := s.liveLink(c, store.TokenVerify)
	if !ok {
		return
	}
	s.render(c, http.StatusOK, views.Page{Title: "Confirm your email address"}, views.VerifyView(views.VerifyPage{Token: token, Email: u.Email}))
}

// verify confirms the address. It asks for a press of a button first
// (verifyForm): a mail scanner that opens links must not confirm, or use
// up, the link on its own.
func (s *Server) verify(c *gin.Context) {
	linkHeaders(c)
	token, ok := emailToken(c)
	if !ok {
		s.badLink(c, false)
		return
	}
	u, err := s.store.VerifyEmail(c.Request.Context(), auth.TokenID(token), s.now())
	if apperr.Is(err, apperr.NotFound) {
		s.badLink(c, false)
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	s.log.Info("email address confirmed", "request_id", c.GetString(ctxRequestID), "user_id", u.ID)
	s.flash(c, "success", "Thank you: "+u.Email+" is confirmed.")
	if cu := currentUser(c); cu != nil && cu.ID == u.ID {
		c.Redirect(http.StatusSeeOther, "/account")
		return
	}
	c.Redirect(http.StatusSeeOther, "/")
}

// queueVerification sends a new account's owner a link to confirm the
// address. It reports whether the email is on its way.
func (s *Server) queueVerification(c *gin.Context, u *store.User) bool {
	if s.mail == nil {
		return false
	}
	reqID := c.GetString(ctxRequestID)
	userID := u.ID
	err := s.mail.Enqueue(mail.Task{Kind: "address confirmation", RequestID: reqID, Attrs: []any{"user_id", userID},
		Build: func(ctx context.Context) (*mail.Message, error) {
			u, err := s.store.UserByID(ctx, userID)
			if err != nil {
				return nil, err
			}
			if u.EmailVerified() {
				return nil, nil
			}
			token := auth.NewToken()
			if _, err := s.store.CreateEmailToken(ctx, u.ID, store.TokenVerify, auth.TokenID(token), verifyTTL, s.now()); err != nil {
				return nil, err
			}
			return s.verifyMessage(u.Email, token), nil
		}})
	if err != nil {
		s.log.Error("address confirmation not queued", "request_id", reqID, "user_id", userID, "err", err)
		return false
	}
	return true
}

// welcome is the message a new account's first page shows.
func (s *Server) welcome(c *gin.Context, u *store.User) string {
	switch {
	case s.mail == nil:
		return "Welcome! Your account is ready."
	case s.queueVerification(c, u):
		return "Welcome! Your account is ready. We have sent a link to " + u.Email + " to confirm the address."
	default:
		return "Welcome! Your account is ready. We could not send the email to confirm your address just now; send it again from your account page later."
	}
}

// resendVerification sends the signed-in user a new confirmation link, a
// few times an hour at most.
func (s *Server) resendVerification(c *gin.Context) {
	u := currentUser(c)
	switch {
	case s.mail == nil:
		s.flash(c, "error", "This server does not send email, so addresses cannot be confirmed here.")
		c.Redirect(http.StatusSeeOther, "/account")
		return
	case u.EmailVerified():
		s.flash(c, "info", "Your address is already confirmed.")
		c.Redirect(http.StatusSeeOther, "/account")
		return
	}
	ctx := c.Request.Context()
	limit := auth.VerifyResendLimit(u.ID)
	wait, err := s.limiter.Take(ctx, limit)
	if err != nil {
		s.fail(c, apperr.Wrap(err, apperr.Unavailable, "Email is unavailable right now. Please try again shortly."))
		return
	}
	status, msg := 0, ""
	switch {
	case wait > 0:
		c.Header("Retry-After", strconv.Itoa(int(wait.Seconds()+0.999)))
		status, msg = http.StatusTooManyRequests, "We have sent several links recently. "+strings.TrimPrefix(retryMessage(wait), "Too many attempts. ")
	case !s.queueVerification(c, u):
		if gerr := s.limiter.GiveBack(context.WithoutCancel(ctx), limit.Key); gerr != nil {
			s.log.Warn("verification limit unavailable", "err", gerr)
		}
		c.Header("Retry-After", "300")
		status, msg = http.StatusServiceUnavailable, "We cannot send email right now. Please try again in a few minutes."
	}
	if status != 0 {
		m, err := s.accountModel(c)
		if err != nil {
			s.fail(c, err)
			return
		}
		m.Mail.Message = msg
		s.render(c, status, views.Page{Title: "Your account", Section: "account"}, views.AccountView(m))
		return
	}
	s.flash(c, "success", "We have sent a new link to "+u.Email+". It works for 2 days.")
	c.Redirect(http.StatusSeeOther, "/account")
}
