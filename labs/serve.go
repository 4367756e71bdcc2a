package labs

import (
	"context"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

// RoutesOf lists the routes inst serves, as method and pattern: those of
// its handler when it is a router that lists them (a *labhttp.Router).
func RoutesOf(inst Instance) []labhttp.Route {
	if r, ok := inst.Handler().(interface{ Routes() []labhttp.Route }); ok {
		return r.Routes()
	}
	return nil
}

// WithRequestID returns ctx carrying the id of the request it serves, so a
// lab's log lines can name it (labhttp.WithRequestID).
func WithRequestID(ctx context.Context, id string) context.Context {
	return labhttp.WithRequestID(ctx, id)
}

// RequestID is the id WithRequestID put in ctx, or "".
func RequestID(ctx context.Context) string { return labhttp.RequestID(ctx) }
