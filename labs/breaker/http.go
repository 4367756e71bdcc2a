package breaker

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labhttp"
)

// maxBody bounds a PUT downstream body; the settings fit in far less.
const maxBody = 16 << 10

// routes are the breaker's endpoints under the instance (the contract in
// doc.go).
func (i *instance) routes() *labhttp.Router {
	rt := labhttp.NewRouter(i.env.Log)
	rt.HandleFunc("POST /call", i.handleCall)
	rt.HandleFunc("GET /state", i.handleState)
	rt.HandleFunc("PUT /downstream", i.handleDownstream)
	rt.HandleFunc("GET /waits", i.handleWaits)
	return rt
}

// Handler serves the breaker's routes.
func (i *instance) Handler() http.Handler { return i.router }

// writeJSON answers with v; no answer of the lab may be cached, as each
// one reports a moment of a breaker that keeps moving.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Cache-Control", "no-store")
	labhttp.WriteJSON(w, status, v)
}

// Hit is one client call; key is unused, as there is one downstream.
func (i *instance) Hit(ctx context.Context, _ string) (int, error) {
	res := i.call(ctx)
	if res.Result == "cancelled" {
		if err := ctx.Err(); err != nil {
			return res.Status, err
		}
		return res.Status, errors.New("breaker lab: instance stopped")
	}
	return res.Status, nil
}

func (i *instance) handleCall(w http.ResponseWriter, r *http.Request) {
	res := i.call(r.Context())
	if res.Result == "rejected" {
		if at, ok := i.br.HalfOpenAt(); ok {
			secs := int(math.Ceil(at.Sub(i.now()).Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		}
	}
	writeJSON(w, res.Status, res)
}

// StateView is GET state's answer and the instance's State.
type StateView struct {
	State State `json:"state"`
	// DownstreamCalls is counted by the downstream itself.
	DownstreamCalls int64 `json:"downstream_calls"`
	ClientCalls     int64 `json:"client_calls"`
	// Outcomes of attempts that reached the downstream: Successes (200),
	// Failures (502), Timeouts (504, which the breaker also counts as
	// failures) and Cancelled (the caller left first; not counted by the
	// breaker). They add up to DownstreamCalls once no call is in flight.
	Successes int64 `json:"successes"`
	Failures  int64 `json:"failures"`
	Timeouts  int64 `json:"timeouts"`
	Cancelled int64 `json:"cancelled"`
	// Rejected client calls failed fast (503) without reaching the
	// downstream.
	Rejected int64 `json:"rejected"`
	// Retries made (each one a downstream call), and retries wanted but
	// refused by the budget or by the breaker.
	Retries                int64 `json:"retries"`
	RetriesDeniedByBudget  int64 `json:"retries_denied_by_budget"`
	RetriesDeniedByBreaker int64 `json:"retries_denied_by_breaker"`
	// LockWaits counts calls that waited for the lock of a breaker that
	// holds it across calls (breaker holds_lock).
	LockWaits int64 `json:"lock_waits"`
	// DownstreamLoad is how busy a downstream with a capacity is.
	DownstreamLoad LoadView `json:"downstream_load"`
	// Transitions are the last MaxTransitions state changes, oldest first.
	Transitions []Transition `json:"transitions"`
	Breaker     Counts       `json:"breaker"`
	RetryBudget BudgetView   `json:"retry_budget"`
	Design      labs.Design  `json:"design"`
	Downstream  Settings     `json:"downstream"`
}

// BudgetView is the retry budget's window.
type BudgetView struct {
	Ratio         float64 `json:"ratio"`
	WindowSeconds int     `json:"window_seconds"`
	FirstAttempts int     `json:"first_attempts"`
	Retries       int     `json:"retries"`
}

func (i *instance) view() StateView {
	s := i.br.Snapshot()
	reqs, rets := i.budget.Usage()
	return StateView{
		State: s.State, DownstreamCalls: i.down.Calls(), ClientCalls: i.clientCalls.Load(),
		Successes: i.successes.Load(), Failures: i.failures.Load(), Timeouts: i.timeouts.Load(), Cancelled: i.cancelled.Load(),
		Rejected: i.rejected.Load(), Retries: i.retried.Load(),
		RetriesDeniedByBudget: i.deniedByBudget.Load(), RetriesDeniedByBreaker: i.deniedByBreaker.Load(),
		LockWaits: i.lockWaits.Load(), DownstreamLoad: i.down.Load(),
		Transitions: s.Transitions,
		Breaker:     s.Counts,
		RetryBudget: BudgetView{Ratio: i.design.Float("retry_budget"), WindowSeconds: int(BudgetWindow / time.Second),
			FirstAttempts: reqs, Retries: rets},
		Design:     i.design,
		Downstream: i.down.Settings(),
	}
}

func (i *instance) State(context.Context) (any, error) { return i.view(), nil }

func (i *instance) handleState(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, i.view())
}

// handleDownstream applies a partial update of the downstream's settings:
// a body that is not one JSON object is a 400, and every field of the
// wrong type, unknown or out of range is named in one 422.
func (i *instance) handleDownstream(w http.ResponseWriter, r *http.Request) {
	var raw map[string]json.RawMessage
	if err := labhttp.DecodeJSON(r, &raw, maxBody); err != nil {
		var e *labhttp.Error
		if errors.As(err, &e) && e.Status == http.StatusBadRequest {
			err = labhttp.BadRequest("body", "The body must be a JSON object of downstream settings, such as %s.", settingsExample)
		}
		labhttp.WriteError(w, r, err)
		return
	}
	if raw == nil { // the body was null
		labhttp.WriteError(w, r, labhttp.BadRequest("body", "The body must be a JSON object of downstream settings, such as %s.", settingsExample))
		return
	}
	u, errs := parseUpdate(raw)
	// Name every bad field at once: those of the wrong type and, among the
	// well-typed ones, those out of range.
	for k, v := range u.Validate() {
		errs[k] = v
	}
	var s Settings
	if len(errs) == 0 {
		s, errs = i.down.Update(u)
	}
	if len(errs) > 0 {
		labhttp.WriteError(w, r, &labhttp.Error{Status: http.StatusUnprocessableEntity, Code: labhttp.CodeInvalid,
			Message: "Please correct the named fields.", Fields: errs})
		return
	}
	i.env.Metrics.Eventf("info", "downstream set: %s", s)
	writeJSON(w, http.StatusOK, s)
}

// Close stops in-flight calls and pauses and sweeps the instance's Redis
// prefix. The lab has no goroutines of its own and no database rows.
func (i *instance) Close(ctx context.Context) error {
	i.stop()
	return labs.DeleteKeys(ctx, i.env.Redis, i.env.Prefix)
}

// Release stops in-flight calls and pauses and leaves the breaker's state
// in Redis to the replica that holds the instance now.
func (i *instance) Release(context.Context) error {
	i.stop()
	return nil
}
