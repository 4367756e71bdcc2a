package labs

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

// WithRequestID returns ctx carrying the id of the request it serves, so a
// lab's log lines can name it (labhttp.WithRequestID).
func WithRequestID(ctx context.Context, id string) context.Context {
	return labhttp.WithRequestID(ctx, id)
}

// RequestID is the id WithRequestID put in ctx, or "".
func RequestID(ctx context.Context) string { return labhttp.RequestID(ctx) }

// Failure logs err, a failure of Redis or the database while serving a
// request, with the request's id, and returns what the learner reads
// instead: the sentence msg and where the details are. Error texts carry
// SQL, table names and addresses, which are the operator's to read.
func Failure(ctx context.Context, log *slog.Logger, msg string, err error) string {
	id := RequestID(ctx)
	if ctx.Err() != nil {
		return "The request was cancelled."
	}
	if log != nil {
		log.Error("lab request failed", "request_id", id, "what", msg, "err", err)
	}
	if id == "" {
		return msg + " The details are in the server log."
	}
	return msg + " The details are in the server log under request " + id + "."
}

// WriteFailure answers a lab route whose Redis or database failed with 503
// and the sentence Failure returns.
func WriteFailure(w http.ResponseWriter, r *http.Request, log *slog.Logger, msg string, err error) {
	WriteError(w, http.StatusServiceUnavailable, "", Failure(r.Context(), log, msg, err))
}
