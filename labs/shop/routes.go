package shop

import (
	"bufio"
	"errors"
	"io"
	"net/http"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

// Bounds of the routes' input.
const (
	maxBodyBytes = 4 << 10
	maxKeyLen    = 255
	maxOrderID   = 24
	maxReplays   = 20
	maxListed    = 500
)

// handler is a route that answers itself, or returns the error to answer
// with (a *labhttp.Error, or any other error as a 500).
type handler func(w http.ResponseWriter, r *http.Request) error

// routes are the shop's endpoints under the instance: its HTTP contract
// (doc.go), in the order the lab's page lists them.
func (in *instance) routes() *labhttp.Router {
	rt := labhttp.NewRouter(in.env.Log)
	for _, r := range []struct {
		pattern string
		h       handler
	}{
		{"POST /orders", in.handlePlace},
		{"GET /orders", in.handleList},
		{"GET /orders/{order_id}", in.handleOrder},
		{"POST /orders/{order_id}/callback", in.handleReplay},
		{"POST /orders/{order_id}/redeliver", in.handleRedeliver},
		{"GET /inventory", in.handleStock},
		{"GET /inventory/{product_id}", in.handleProduct},
		{"POST /burst", in.handleBurst},
		{"GET /payment", in.handlePaymentGet},
		{"PUT /payment", in.handlePaymentPut},
		{"GET /consumers", in.handleConsumers},
		{"POST /consumers/{service}/kill", in.handleKill},
		{"POST /consumers/{service}/restart", in.handleRestart},
		{"GET /invariant", in.handleInvariant},
		{"GET /outbox", in.handleOutbox},
		{"POST /relay/stop", in.handleRelay("stop")},
		{"POST /relay/start", in.handleRelay("start")},
		{"POST /relay/crash", in.handleRelay("crash")},
		{"POST /crash-after-commit", in.handleCrashAfterCommit},
		{"POST /poison", in.handlePoison},
		{"GET /dead-letters", in.handleDeadLetters},
		{"GET /stats", in.handleStats},
		{"GET /inbox", in.handleInbox},
		{"GET /clock", in.handleClock},
		{"POST /clock/step", in.handleClockStep},
	} {
		h := r.h
		rt.HandleFunc(r.pattern, func(w http.ResponseWriter, req *http.Request) {
			if err := h(w, req); err != nil {
				labhttp.WriteError(w, req, err)
			}
		})
	}
	return rt
}

// Handler serves the shop's routes.
func (in *instance) Handler() http.Handler { return in.router }

// failure is a failure of Redis or the database while the shop tried to
// do what: the learner reads a sentence, the log gets err.
func failure(what string, err error) *labhttp.Error {
	return labhttp.Unavailable(err, "The shop could not %s.", what)
}

// notFound is a 404 naming the path's field at fault.
func notFound(field, format string, args ...any) *labhttp.Error {
	e := labhttp.NotFound(format, args...)
	e.Fields = map[string]string{field: e.Message}
	return e
}

// decodeOptional reads a JSON body into v as labhttp.DecodeJSON does, but
// an empty body leaves v as it is: every field takes its default.
func decodeOptional(r *http.Request, v any) error {
	if r.Body == nil {
		return nil
	}
	br := bufio.NewReader(r.Body)
	if _, err := br.Peek(1); errors.Is(err, io.EOF) {
		return nil
	}
	r.Body = io.NopCloser(br)
	return labhttp.DecodeJSON(r, v, maxBodyBytes)
}

// orderID reads and checks the order id of the path.
func orderID(r *http.Request) (string, error) {
	id := r.PathValue("order_id")
	ok := len(id) >= 2 && len(id) <= maxOrderID && id[0] == 'o'
	for i := 1; ok && i < len(id); i++ {
		ok = id[i] >= '0' && id[i] <= '9'
	}
	if !ok {
		return "", labhttp.BadRequest("order_id", "%q is not an order id; ids look like o17.", clip(id, 40))
	}
	return id, nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
