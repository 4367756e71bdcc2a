package web

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/labs"
)

const ctxRequestID = "request_id"

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestLog gives every request an id (kept from X-Request-ID when it is
// sane) and logs its method, path, status and latency once it is done.
func (s *Server) requestLog(c *gin.Context) {
	start := time.Now()
	id := c.GetHeader("X-Request-ID")
	if !validRequestID.MatchString(id) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Set(ctxRequestID, id)
	ctx, queries := store.CountQueries(labs.WithRequestID(c.Request.Context(), id)) // the request id for the labs' log lines
	c.Request = c.Request.WithContext(ctx)
	c.Header("X-Request-ID", id)
	c.Next()
	took := time.Since(start)
	s.metrics.HTTP.Observe(c.FullPath(), c.Request.Method, c.Writer.Status(), took,
		c.Writer.Header().Get("Content-Type") == "text/event-stream")
	if c.Request.URL.Path == "/healthz" {
		return // probes every few seconds would drown the log
	}
	// Typed attributes in a fixed array: no value is boxed, and the slice
	// stays on the stack (the request line is written on every request).
	var buf [10]slog.Attr
	attrs := append(buf[:0],
		slog.String("request_id", id),
		slog.String("method", c.Request.Method),
		slog.String("path", logPath(c.Request.URL.Path)),
		slog.Int("status", c.Writer.Status()),
		slog.Float64("duration_ms", float64(took.Microseconds())/1000),
		slog.String("ip", c.ClientIP()),
		slog.Int("bytes", c.Writer.Size()),
		slog.Int64("queries", queries.Load()),
	)
	if u := currentUser(c); u != nil {
		attrs = append(attrs, slog.Int64("user_id", u.ID))
	}
	if len(c.Errors) > 0 {
		attrs = append(attrs, slog.String("err", c.Errors.String()))
	}
	level := slog.LevelInfo
	switch st := c.Writer.Status(); {
	case st >= 500:
		level = slog.LevelError
	case st >= 400 && st != http.StatusNotFound && st != http.StatusUnauthorized && !labLimited(c, st):
		level = slog.LevelWarn
	}
	s.log.LogAttrs(c.Request.Context(), level, "request", attrs...)
}

// labLimited reports a lab instance's 429: a rate limiter lab saying no
// is the lab working, not a request gone wrong, and a learner's load run
// makes thousands a second (a warning is written before the request ends).
func labLimited(c *gin.Context, status int) bool {
	if status != http.StatusTooManyRequests {
		return false
	}
	_, ok := c.Get(ctxInstance)
	return ok
}

// logPath is the path as the log shows it: the token of an emailed link
// is a password for a while, so it is left out.
func logPath(p string) string {
	for _, prefix := range []string{"/reset/", "/verify/"} {
		if strings.HasPrefix(p, prefix) && len(p) > len(prefix) {
			return prefix + "…"
		}
	}
	return p
}

// recoverPanics turns a panic in a handler into a logged error and a 500 page.
func (s *Server) recoverPanics(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v) // the client went away; let net/http handle it
			}
			s.log.Error("panic", "request_id", c.GetString(ctxRequestID), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if !c.Writer.Written() {
				s.fail(c, fmt.Errorf("panic: %v", v))
			}
			c.Abort()
		}
	}()
	c.Next()
}

// contentSecurityPolicy allows only our own scripts and styles: no inline
// script, no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// The security headers' values, built once: every response carries them.
var (
	cspValue            = []string{contentSecurityPolicy}
	nosniffValue        = []string{"nosniff"}
	referrerPolicyValue = []string{"strict-origin-when-cross-origin"}
	frameOptionsValue   = []string{"DENY"}
	openerPolicyValue   = []string{"same-origin"}
	permissionsValue    = []string{"camera=(), microphone=(), geolocation=()"}
	hstsValue           = []string{"max-age=31536000"}
)

// securityHeaders sets the headers every response carries. The values
// are shared, read-only slices (Header.Set would build each one again);
// a handler that changes one replaces it with Set or Del, which never
// writes into the slice.
func securityHeaders(h http.Header) {
	h["Content-Security-Policy"] = cspValue
	h["X-Content-Type-Options"] = nosniffValue
	h["Referrer-Policy"] = referrerPolicyValue
	h["X-Frame-Options"] = frameOptionsValue
	h["Cross-Origin-Opener-Policy"] = openerPolicyValue
	h["Permissions-Policy"] = permissionsValue
}

func (s *Server) secureHeaders(c *gin.Context) {
	securityHeaders(c.Writer.Header())
	if s.cfg.SecureCookies() {
		c.Writer.Header()["Strict-Transport-Security"] = hstsValue
	} else if forwardedHTTPS(c.Request) {
		s.warnPlainBaseURL.Do(func() {
			s.log.Warn(plainBaseURLWarning, "base_url", s.cfg.BaseURL, "request_id", c.GetString(ctxRequestID))
		})
	}
	c.Next()
}

// plainBaseURLWarning is logged once when a proxy says it took a request
// over https while the public URL is not https.
const plainBaseURLWarning = "requests arrive over https (X-Forwarded-Proto) but WORKBOOK_BASE_URL is not an https URL: " +
	"cookies are not Secure and no Strict-Transport-Security is sent; set WORKBOOK_BASE_URL=https://your.host"

// forwardedHTTPS reports whether the first proxy says the client used https.
func forwardedHTTPS(r *http.Request) bool {
	p, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(p), "https")
}
