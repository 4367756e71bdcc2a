// Package apperr is the application's one error type. Code says what kind of
// failure it is, Message is safe to show a user, and Fields names the input
// fields at fault. The web layer maps codes to HTTP statuses in one place;
// anything that is not an *Error is internal and its details only reach logs.
package apperr

import (
	"errors"
	"fmt"
)

// Code classifies an application error.
type Code string

// The codes the application uses.
const (
	Invalid       Code = "invalid"       // bad input: 400/422
	NotFound      Code = "not_found"     // missing, or not yours: 404
	Conflict      Code = "conflict"      // unique constraint and the like: 409
	Reconfiguring Code = "reconfiguring" // being replaced right now, try again: 409
	Unauthorized  Code = "unauthorized"  // not logged in: 401
	Forbidden     Code = "forbidden"     // logged in, wrong role: 403
	TooMany       Code = "too_many"      // throttled: 429
	Unavailable   Code = "unavailable"   // a dependency is down: 503
	Internal      Code = "internal"      // anything else: 500
)

// Error is an application error.
type Error struct {
	Code    Code
	Message string
	// Fields maps an input field name to what is wrong with it.
	Fields map[string]string
	// RetryAfterSeconds is set with TooMany.
	RetryAfterSeconds int
	// Err is the underlying cause, for logs only.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error with a code and a user-facing message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap attaches a code and message to a cause.
func Wrap(err error, code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// Fields returns an Invalid error naming the fields at fault.
func Fields(fields map[string]string) *Error {
	return &Error{Code: Invalid, Message: "Please correct the highlighted fields.", Fields: fields}
}

// CodeOf returns the code of err, or Internal for errors that are not ours.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Is reports whether err is an application error with the given code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }

// As returns err as an *Error if it is one.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
