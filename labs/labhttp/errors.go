package labhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
)

// The codes of error answers, as the rest of the API uses them.
const (
	CodeInvalid     = "invalid"     // the request is wrong: 400, 405, 413, 422
	CodeNotFound    = "not_found"   // 404
	CodeConflict    = "conflict"    // 409
	CodeTooMany     = "too_many"    // 429
	CodeUnavailable = "unavailable" // Redis or the database failed: 503
	CodeInternal    = "internal"    // a bug: 500
)

// Error is an error answer: a status, a code, a sentence a learner reads
// and the input fields at fault. Err, when set, is the cause, for the log
// only.
type Error struct {
	Status  int
	Code    string
	Message string
	Fields  map[string]string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %s: %v", e.Status, e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf is an error answer with status and code.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// BadRequest is a 400 naming field: the request could not be read as
// the route expects (not a number, not JSON, a malformed key).
func BadRequest(field, format string, args ...any) *Error {
	return withField(http.StatusBadRequest, CodeInvalid, field, format, args...)
}

// Invalid is a 422 naming field: the value was read and is not allowed
// (out of range, unknown, missing).
func Invalid(field, format string, args ...any) *Error {
	return withField(http.StatusUnprocessableEntity, CodeInvalid, field, format, args...)
}

// NotFound is a 404: the object the path names does not exist.
func NotFound(format string, args ...any) *Error {
	return Errorf(http.StatusNotFound, CodeNotFound, format, args...)
}

// Conflict is a 409 naming field ("" for none).
func Conflict(field, format string, args ...any) *Error {
	return withField(http.StatusConflict, CodeConflict, field, format, args...)
}

// Unavailable is a 503 for a failure of Redis or the database: the
// sentence is shown, err goes to the log.
func Unavailable(err error, format string, args ...any) *Error {
	e := Errorf(http.StatusServiceUnavailable, CodeUnavailable, format, args...)
	e.Err = err
	return e
}

func withField(status int, code, field, format string, args ...any) *Error {
	e := Errorf(status, code, format, args...)
	if field != "" {
		e.Fields = map[string]string{field: e.Message}
	}
	return e
}

// Body is an error answer's JSON: {"error": {"code", "message", "fields"}}.
type Body struct {
	Error Detail `json:"error"`
}

// Detail is the inside of Body.
type Detail struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// WriteJSON answers with v as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(Body{Detail{Code: CodeInternal, Message: "The answer could not be written."}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n')) // the client may have gone; nothing to do
}

// WriteError answers with err. An *Error (anywhere in the chain) is
// answered as it says; any other error is a bug or a failure the handler
// did not name, answered 500. When a 5xx has a cause, the cause goes to
// the request's log (see WithLogger) under the request's id (see
// WithRequestID), and the learner reads the sentence and where the details
// are, never the cause: error texts carry SQL, table names and addresses.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Code: CodeInternal,
			Message: "Something went wrong in the lab.", Err: err}
	}
	msg := e.Message
	if r != nil && e.Status >= 500 && e.Err != nil {
		msg = logged(r, e)
	}
	WriteJSON(w, e.Status, Body{Detail{Code: e.Code, Message: msg, Fields: e.Fields}})
}

// logged logs a 5xx's cause and says where it is.
func logged(r *http.Request, e *Error) string {
	ctx := r.Context()
	if ctx.Err() != nil || errors.Is(e.Err, context.Canceled) {
		return "The request was cancelled."
	}
	id := RequestID(ctx)
	Logger(ctx).Error("lab request failed", "request_id", id, "method", r.Method, "path", r.URL.Path,
		"status", e.Status, "what", e.Message, "err", e.Err)
	if id == "" {
		return e.Message + " The details are in the server log."
	}
	return e.Message + " The details are in the server log under request " + id + "."
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of the request it serves, so
// what a lab logs names it.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID is the id WithRequestID put in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

type loggerKey struct{}

// WithLogger returns ctx carrying log, which WriteError logs to: the web
// app hands a lab's handler a logger with the request's id.
func WithLogger(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, log)
}

// Logger is the logger ctx carries, or slog's default.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return slog.Default()
}
