package limiter

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

// maxKeyLen bounds a client key.
const maxKeyLen = 200

// routes are the limiter's endpoints under the instance (see the contract
// in doc.go).
func (in *instance) routes() *labhttp.Router {
	rt := labhttp.NewRouter(in.env.Log)
	rt.HandleFunc("POST /request", in.handleRequest)
	rt.HandleFunc("POST /boundary-burst", in.handleBoundaryBurst)
	rt.HandleFunc("GET /stats", in.handleStats)
	rt.HandleFunc("POST /fault", in.handleFault)
	rt.HandleFunc("POST /crash", in.handleCrash)
	rt.HandleFunc("GET /keys", in.handleKeys)
	return rt
}

// Handler serves the limiter's routes.
func (in *instance) Handler() http.Handler { return in.router }

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

// keyOf reads the key query parameter; empty is allowed when optional.
func keyOf(r *http.Request, optional bool) (string, error) {
	q, err := labhttp.Query(r)
	if err != nil {
		return "", err
	}
	key := q.Get("key")
	if key == "" && optional {
		return "", nil
	}
	if msg := checkKey(key); msg != "" {
		return "", labhttp.BadRequest("key", "The key is not valid. %s", msg)
	}
	return key, nil
}

// ipOf reads the optional ip query parameter: the client's address for
// the per-IP limit, in the same characters as a key.
func ipOf(r *http.Request) (string, error) {
	q, err := labhttp.Query(r)
	if err != nil {
		return "", err
	}
	ip := q.Get("ip")
	if ip == "" {
		return "", nil
	}
	if msg := checkKey(ip); msg != "" {
		return "", labhttp.BadRequest("ip", "The ip is not valid. %s", msg)
	}
	return ip, nil
}

// Response is the body of POST /request.
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

func (in *instance) handleRequest(w http.ResponseWriter, r *http.Request) {
	key, err := keyOf(r, false)
	if err != nil {
		labhttp.WriteError(w, r, err)
		return
	}
	ip, err := ipOf(r)
	if err != nil {
		labhttp.WriteError(w, r, err)
		return
	}
	res := in.decideFrom(r.Context(), key, ip)
	status := res.status(in.cfg)
	body := Response{Allowed: res.allowed, Key: key, Replica: res.replica, Remaining: res.remaining, Limit: in.cfg.capacity(),
		ResetMS: res.resetMS, DecidedAtMS: res.at, Algorithm: in.cfg.algorithm, Storage: in.cfg.storage}
	h := w.Header()
	switch {
	case errors.Is(res.err, errCrashed):
		body.StoreError = "The replica crashed in the middle of the decision (the lab's crash control)."
		body.Message = body.StoreError
	case res.err != nil:
		// The store did not decide: there is no allowance to report.
		body.StoreError = storeErrorText(res.err)
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
	labhttp.WriteJSON(w, status, body)
}

// ceilSeconds rounds milliseconds up to whole seconds, as the headers carry.
func ceilSeconds(ms int64) int64 { return ceilDiv(max(ms, 0), 1000) }

func (in *instance) handleStats(w http.ResponseWriter, _ *http.Request) {
	labhttp.WriteJSON(w, http.StatusOK, in.state())
}
