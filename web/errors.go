package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/web/views"
)

// statusOf is the one place application error codes become HTTP statuses.
func statusOf(code apperr.Code) int {
	switch code {
	case apperr.Invalid:
		return http.StatusUnprocessableEntity
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.Conflict, apperr.Reconfiguring:
		return http.StatusConflict
	case apperr.Unauthorized:
		return http.StatusUnauthorized
	case apperr.Forbidden:
		return http.StatusForbidden
	case apperr.TooMany:
		return http.StatusTooManyRequests
	case apperr.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

var titles = map[int]string{
	http.StatusBadRequest:            "That request could not be read",
	http.StatusUnauthorized:          "Please log in",
	http.StatusForbidden:             "You cannot open this page",
	http.StatusNotFound:              "Page not found",
	http.StatusMethodNotAllowed:      "Method not allowed",
	http.StatusConflict:              "That conflicts with what is there",
	http.StatusRequestEntityTooLarge: "That request is too large",
	http.StatusUnprocessableEntity:   "Please check your input",
	http.StatusTooManyRequests:       "Slow down a little",
	http.StatusInternalServerError:   "Something went wrong on our side",
	http.StatusServiceUnavailable:    "A service we depend on is unavailable",
}

// wantsJSON reports whether the client should get JSON rather than a page.
func wantsJSON(c *gin.Context) bool { return requestWantsJSON(c.Request) }

// requestWantsJSON: the API, or a client that asks for JSON (a script
// fetching an export with Accept: application/json).
func requestWantsJSON(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || strings.Contains(r.Header.Get("Accept"), "application/json")
}

// fail answers with err: a JSON error for API clients, the error page for
// browsers. Messages of application errors are shown; anything else is
// logged and replaced by a generic message.
func (s *Server) fail(c *gin.Context, err error) {
	if apperr.CodeOf(err) == apperr.Internal && dependencyDown(err) {
		err = apperr.Wrap(err, apperr.Unavailable, unavailableMessage)
	}
	code := apperr.CodeOf(err)
	status := statusOf(code)
	var maxBytes *http.MaxBytesError
	if errors.As(err, &maxBytes) {
		status, code = http.StatusRequestEntityTooLarge, apperr.Invalid
	}
	msg := "We have logged the problem. Please try again in a moment."
	var fields map[string]string
	if e, ok := apperr.As(err); ok && code != apperr.Internal {
		msg = e.Message
		fields = e.Fields
		if e.RetryAfterSeconds > 0 {
			c.Header("Retry-After", strconv.Itoa(e.RetryAfterSeconds))
		}
	}
	if status >= 500 || code == apperr.Reconfiguring {
		_ = c.Error(err) // the request log line carries the detail
	}
	if status == http.StatusRequestEntityTooLarge {
		msg = "The request body is larger than this endpoint accepts."
	}
	s.failWith(c, status, string(code), msg, fields)
}

func (s *Server) failWith(c *gin.Context, status int, code, msg string, fields map[string]string) {
	if wantsJSON(c) {
		body := gin.H{"code": code, "message": msg}
		if len(fields) > 0 {
			body["fields"] = fields
		}
		c.AbortWithStatusJSON(status, gin.H{"error": body})
		return
	}
	title := titles[status]
	if title == "" {
		title = http.StatusText(status)
	}
	s.render(c, status, views.Page{Title: title}, views.ErrorView(views.ErrorPage{
		Status: status, Title: title, Message: msg, RequestID: c.GetString(ctxRequestID),
	}))
	c.Abort()
}

// failOr404 answers a NotFound error with the one 404 page, which says
// nothing of whether the thing exists, and any other error with fail.
func (s *Server) failOr404(c *gin.Context, err error) {
	if apperr.Is(err, apperr.NotFound) {
		s.notFound(c)
		return
	}
	s.fail(c, err)
}

func (s *Server) notFound(c *gin.Context) {
	s.failWith(c, http.StatusNotFound, string(apperr.NotFound), "There is nothing at this address. It may have moved, or it may not be yours to see.", nil)
}

func (s *Server) methodNotAllowed(c *gin.Context) {
	s.failWith(c, http.StatusMethodNotAllowed, string(apperr.Invalid), "This address does not accept that kind of request.", nil)
}
