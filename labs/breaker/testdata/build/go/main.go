// Command breaker-service is a reference solution of the breaker-build
// exercise: POST /call calls the dependency at $DOWNSTREAM_URL/quote
// through a circuit breaker, cuts each attempt at CALL_TIMEOUT_MS, and
// retries a failed attempt once when the retry budget allows it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// config is the contract's environment.
type config struct {
	port        string
	downstream  string
	threshold   int
	open        time.Duration
	callTimeout time.Duration
	budget      float64
}

func load() (config, error) {
	c := config{port: env("PORT", "8080"), downstream: strings.TrimSuffix(env("DOWNSTREAM_URL", "http://downstream"), "/")}
	var errs []error
	num := func(name, def string) float64 {
		v, err := strconv.ParseFloat(env(name, def), 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		return v
	}
	c.threshold = int(num("FAILURE_THRESHOLD", "5"))
	c.open = time.Duration(num("OPEN_MS", "2000")) * time.Millisecond
	c.callTimeout = time.Duration(num("CALL_TIMEOUT_MS", "300")) * time.Millisecond
	c.budget = num("RETRY_BUDGET", "0.1")
	return c, errors.Join(errs...)
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func main() {
	cfg, err := load()
	if err != nil {
		log.Fatal(err)
	}
	s := &service{
		cfg:    cfg,
		br:     &breaker{threshold: cfg.threshold, openFor: cfg.open},
		budget: &retryBudget{ratio: cfg.budget, window: 10 * time.Second},
		// No client-wide timeout: each attempt has its own deadline.
		client: &http.Client{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("POST /call", s.handleCall)
	srv := &http.Server{Addr: "0.0.0.0:" + cfg.port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("listening on %s, dependency %s", srv.Addr, cfg.downstream)
	log.Fatal(srv.ListenAndServe())
}

// maxRetries is how many times one call may retry, budget permitting.
const maxRetries = 1

type service struct {
	cfg    config
	br     *breaker
	budget *retryBudget
	client *http.Client
}

// outcome is how one attempt on the dependency ended.
type outcome int

const (
	succeeded outcome = iota
	failed
	timedOut
)

func (s *service) handleCall(w http.ResponseWriter, r *http.Request) {
	ok, trial := s.br.allow()
	if !ok {
		writeJSON(w, http.StatusServiceUnavailable, errorBody("The breaker is open: failed fast without calling the dependency."))
		return
	}
	s.budget.first()
	for retries := 0; ; retries++ {
		quote, out := s.attempt(r.Context())
		s.br.done(trial, out == succeeded)
		switch out {
		case succeeded:
			writeJSON(w, http.StatusOK, map[string]json.RawMessage{"quote": quote})
			return
		case timedOut:
			// Not retried: a timed-out attempt has used the caller's time.
			writeJSON(w, http.StatusGatewayTimeout, errorBody("The dependency did not answer within CALL_TIMEOUT_MS."))
			return
		}
		if retries == maxRetries || !s.budget.retry() {
			writeJSON(w, http.StatusBadGateway, errorBody("The dependency failed."))
			return
		}
		if !sleep(r.Context(), rand.N(50*time.Millisecond)) {
			return
		}
		if ok, trial = s.br.allow(); !ok {
			writeJSON(w, http.StatusBadGateway, errorBody("The dependency failed, and the breaker refused a retry."))
			return
		}
	}
}

// attempt makes one call to the dependency, cut at the call timeout.
func (s *service) attempt(ctx context.Context) (json.RawMessage, outcome) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.downstream+"/quote", nil)
	if err != nil {
		return nil, failed
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, classify(ctx)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case err != nil:
		return nil, classify(ctx)
	case resp.StatusCode != http.StatusOK || !json.Valid(body):
		return nil, failed
	}
	return body, succeeded
}

// classify tells a timeout from another failure.
func classify(ctx context.Context) outcome {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return timedOut
	}
	return failed
}

// sleep waits d unless ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func errorBody(msg string) map[string]string { return map[string]string{"error": msg} }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// The breaker's states.
type state int

const (
	closed state = iota
	open
	halfOpen
)

// breaker opens after threshold consecutive failed attempts, fails calls
// fast for openFor, then lets one trial call through. Its lock is never
// held while a call runs.
type breaker struct {
	threshold int
	openFor   time.Duration

	mu       sync.Mutex
	state    state
	failures int
	openedAt time.Time
	trialOut bool
}

// allow admits an attempt, and says whether it is half-open's trial call.
func (b *breaker) allow() (ok, trial bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case closed:
		return true, false
	case open:
		if time.Since(b.openedAt) < b.openFor {
			return false, false
		}
		b.state, b.trialOut = halfOpen, false
	}
	if b.trialOut {
		return false, false
	}
	b.trialOut = true
	return true, true
}

// done records how an admitted attempt ended.
func (b *breaker) done(trial, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case trial && b.state == halfOpen:
		b.trialOut = false
		if ok {
			b.state, b.failures = closed, 0
		} else {
			b.trip()
		}
	case trial || b.state != closed:
		// The outcome of an attempt admitted in an earlier state.
	case ok:
		b.failures = 0
	default:
		b.failures++
		if b.failures >= b.threshold {
			b.trip()
		}
	}
}

func (b *breaker) trip() { b.state, b.openedAt, b.failures = open, time.Now(), 0 }

// retryBudget allows a retry while the retries of the last window stay
// within ratio of the first attempts of the last window.
type retryBudget struct {
	ratio  float64
	window time.Duration

	mu              sync.Mutex
	firsts, retries []time.Time
}

func (b *retryBudget) first() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.prune()
	b.firsts = append(b.firsts, time.Now())
}

func (b *retryBudget) retry() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.prune()
	if float64(len(b.retries)+1) > b.ratio*float64(len(b.firsts)) {
		return false
	}
	b.retries = append(b.retries, time.Now())
	return true
}

// prune drops what has left the window.
func (b *retryBudget) prune() {
	keep := func(ts []time.Time) []time.Time {
		i := 0
		for i < len(ts) && time.Since(ts[i]) >= b.window {
			i++
		}
		return ts[i:]
	}
	b.firsts, b.retries = keep(b.firsts), keep(b.retries)
}
