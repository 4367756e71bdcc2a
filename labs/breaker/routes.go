package breaker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// maxBody bounds a PUT downstream body; the settings fit in far less.
const maxBody = 16 << 10

func (i *instance) Routes() []labs.Route {
	return []labs.Route{
		{Method: http.MethodPost, Path: "call", Handle: i.handleCall},
		{Method: http.MethodGet, Path: "state", Handle: i.handleState},
		{Method: http.MethodPut, Path: "downstream", Handle: i.handleDownstream},
	}
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

func (i *instance) handleCall(w http.ResponseWriter, r *http.Request, _ labs.Params) {
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
		Transitions: s.Transitions,
		Breaker:     s.Counts,
		RetryBudget: BudgetView{Ratio: i.design.Float("retry_budget"), WindowSeconds: int(BudgetWindow / time.Second),
			FirstAttempts: reqs, Retries: rets},
		Design:     i.design,
		Downstream: i.down.Settings(),
	}
}

func (i *instance) State(context.Context) (any, error) { return i.view(), nil }

func (i *instance) handleState(w http.ResponseWriter, _ *http.Request, _ labs.Params) {
	writeJSON(w, http.StatusOK, i.view())
}

// handleDownstream applies a partial update of the downstream's settings.
func (i *instance) handleDownstream(w http.ResponseWriter, r *http.Request, _ labs.Params) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig) || len(body) > maxBody:
		writeError(w, http.StatusRequestEntityTooLarge, "The body is larger than this endpoint accepts.", nil)
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "The body could not be read: "+err.Error(), nil)
		return
	}
	u, errs, msg := parseUpdate(body)
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg, nil)
		return
	}
	// Name every bad field at once: those of the wrong type and, among the
	// well-typed ones, those out of range.
	for k, v := range u.Validate() {
		errs[k] = v
	}
	if len(errs) > 0 {
		writeError(w, http.StatusUnprocessableEntity, "Please correct the named fields.", errs)
		return
	}
	s, errs := i.down.Update(u)
	if len(errs) > 0 {
		writeError(w, http.StatusUnprocessableEntity, "Please correct the named fields.", errs)
		return
	}
	i.env.Metrics.Eventf("info", "downstream set: %s", s)
	writeJSON(w, http.StatusOK, s)
}

const settingsExample = `{"error_rate": 0.5, "latency_ms": 20, "latency": "uniform", "outage": false}`

// parseUpdate decodes a partial settings update. A body that is not one
// JSON object gives msg (400); fields of the wrong type or unknown fields
// give errs (422). Ranges are checked by SettingsUpdate.Validate.
func parseUpdate(body []byte) (u SettingsUpdate, errs labs.FieldErrors, msg string) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil || raw == nil {
		return u, nil, "The body must be a JSON object of downstream settings, such as " + settingsExample + "."
	}
	errs = labs.FieldErrors{}
	for k, v := range raw {
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			errs[k] = "Must not be null; leave the field out to keep its value."
			continue
		}
		switch k {
		case "error_rate":
			var f float64
			if json.Unmarshal(v, &f) != nil {
				errs[k] = "Must be a number between 0 and 1."
				continue
			}
			u.ErrorRate = &f
		case "latency_ms":
			var f float64
			if json.Unmarshal(v, &f) != nil || f != math.Trunc(f) || f < 0 || f > MaxLatencyMS {
				// Range checked here too: a huge number does not fit an int.
				errs[k] = fmt.Sprintf("Must be a whole number of milliseconds between 0 and %d.", MaxLatencyMS)
				continue
			}
			n := int(f)
			u.LatencyMS = &n
		case "latency":
			var s string
			if json.Unmarshal(v, &s) != nil {
				errs[k] = "Must be one of fixed, uniform, long_tail."
				continue
			}
			u.Latency = &s
		case "outage":
			var b bool
			if json.Unmarshal(v, &b) != nil {
				errs[k] = "Must be true or false."
				continue
			}
			u.Outage = &b
		default:
			errs[k] = "Unknown field; the downstream's settings are error_rate, latency_ms, latency and outage."
		}
	}
	return u, errs, ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may have gone; nothing to do then
}

// writeError answers in the app's error shape.
func writeError(w http.ResponseWriter, status int, msg string, fields labs.FieldErrors) {
	e := map[string]any{"code": "invalid", "message": msg}
	if len(fields) > 0 {
		e["fields"] = fields
	}
	writeJSON(w, status, map[string]any{"error": e})
}

// Close stops in-flight calls and pauses and sweeps the instance's Redis
// prefix. The lab has no goroutines of its own and no database rows.
func (i *instance) Close(ctx context.Context) error {
	i.stop()
	return labs.DeleteKeys(ctx, i.env.Redis, i.env.Prefix)
}
