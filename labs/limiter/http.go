package limiter

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/sdworkbook/workbook/labs"
)

// maxKeyLen bounds a client key.
const maxKeyLen = 200

// Routes are the limiter's endpoints under the instance.
func (in *instance) Routes() []labs.Route {
	return []labs.Route{
		{Method: http.MethodPost, Path: "request", Handle: in.handleRequest},
		{Method: http.MethodPost, Path: "boundary-burst", Handle: in.handleBoundaryBurst},
		{Method: http.MethodGet, Path: "stats", Handle: in.handleStats},
	}
}

// checkKey says what is wrong with a client key, or "".
func checkKey(k string) string {
	if k == "" {
		return "Required: the client to limit, 1 to 200 characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'."
	}
	if len(k) > maxKeyLen {
		return "At most 200 characters."
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return "Only A-Z, a-z, 0-9, '.', '_', ':' and '-' are allowed."
		}
	}
	return ""
}

// Response is the body of POST request.
type Response struct {
	Allowed      bool   `json:"allowed"`
	Key          string `json:"key"`
	Replica      int    `json:"replica"`
	Remaining    int64  `json:"remaining"`
	Limit        int64  `json:"limit"` // as RateLimit-Limit: limit, or limit + burst for token_bucket and gcra
	ResetMS      int64  `json:"reset_ms"`
	RetryAfterMS int64  `json:"retry_after_ms,omitempty"`
	DecidedAtMS  int64  `json:"decided_at_ms,omitempty"` // the limiter's clock (Redis TIME), Unix ms
	Algorithm    string `json:"algorithm"`
	Storage      string `json:"storage"`
	Message      string `json:"message,omitempty"`
	StoreError   string `json:"store_error,omitempty"`
}

func (in *instance) handleRequest(w http.ResponseWriter, r *http.Request, _ labs.Params) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, "The query string could not be read.", "query", err.Error())
		return
	}
	key := q.Get("key")
	if msg := checkKey(key); msg != "" {
		writeError(w, http.StatusBadRequest, "The key is not valid.", "key", msg)
		return
	}
	res := in.decide(r.Context(), key)
	status := res.status(in.cfg)
	body := Response{Allowed: res.allowed, Key: key, Replica: res.replica, Remaining: res.remaining, Limit: in.cfg.capacity(),
		ResetMS: res.resetMS, DecidedAtMS: res.at, Algorithm: in.cfg.algorithm, Storage: in.cfg.storage}
	h := w.Header()
	switch {
	case res.err != nil:
		// The store did not decide: there is no allowance to report.
		body.StoreError = res.err.Error()
		body.Message = "The limiter could not decide in time; on_store_error is " + in.cfg.onError + "."
	default:
		h.Set("RateLimit-Limit", strconv.FormatInt(in.cfg.capacity(), 10))
		h.Set("RateLimit-Remaining", strconv.FormatInt(res.remaining, 10))
		h.Set("RateLimit-Reset", strconv.FormatInt(ceilSeconds(res.resetMS), 10))
		if !res.allowed {
			body.RetryAfterMS = res.retryMS
			h.Set("Retry-After", strconv.FormatInt(max(1, ceilSeconds(res.retryMS)), 10))
			body.Message = "Rate limit exceeded: " + strconv.FormatInt(in.cfg.limit, 10) + " per " +
				strconv.FormatInt(in.cfg.window, 10) + " ms with " + in.cfg.algorithm + "."
		}
	}
	writeJSON(w, status, body)
}

// ceilSeconds rounds milliseconds up to whole seconds, as the headers carry.
func ceilSeconds(ms int64) int64 { return ceilDiv(max(ms, 0), 1000) }

func (in *instance) handleStats(w http.ResponseWriter, _ *http.Request, _ labs.Params) {
	writeJSON(w, http.StatusOK, in.state())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"encoding the response failed"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// apiError is the app's JSON error shape: {"error":{"code","message","fields"}}.
type apiError struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields,omitempty"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg, field, fieldMsg string) {
	var e apiError
	e.Error.Code = "invalid"
	switch status {
	case http.StatusConflict:
		e.Error.Code = "conflict"
	case http.StatusServiceUnavailable:
		e.Error.Code = "unavailable"
	}
	e.Error.Message = msg
	if field != "" {
		e.Error.Fields = map[string]string{field: fieldMsg}
	}
	writeJSON(w, status, e)
}
