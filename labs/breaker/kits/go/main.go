// Command breaker-service is the starter kit of the breaker-build
// exercise. It builds, starts and answers the contract, and it makes the
// two classic mistakes of a client of a flaky dependency:
//
//   - it calls the dependency with no timeout: http.Get uses Go's default
//     client, whose zero Timeout means wait forever, so a dependency that
//     hangs holds every caller ("slow calls cut at the timeout" fails);
//   - it has no circuit breaker: when the dependency is down, every call
//     still goes to it ("opens after the threshold", "fails fast while
//     open", the half-open check and the trial-call check fail).
//
// It makes no retries, so it stays within the retry budget. Read the
// contract on the exercise's page, then fix both (see the TODOs).
package main

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"time"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func main() {
	// The contract's numbers: use them.
	// FAILURE_THRESHOLD (5), OPEN_MS (2000), CALL_TIMEOUT_MS (300) and
	// RETRY_BUDGET (0.1) are in the environment too.
	port := env("PORT", "8080")
	downstream := strings.TrimSuffix(env("DOWNSTREAM_URL", "http://downstream"), "/")

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("POST /call", func(w http.ResponseWriter, r *http.Request) {
		// TODO: ask a circuit breaker first; while it is open, answer 503
		// at once without calling the dependency.
		quote, err := fetchQuote(downstream)
		if err != nil {
			// TODO: tell a timeout (504) from a failure (502), and count
			// both as failures in the breaker.
			writeJSON(w, http.StatusBadGateway, map[string]string{"error": "The dependency failed."})
			return
		}
		writeJSON(w, http.StatusOK, map[string]json.RawMessage{"quote": quote})
	})
	srv := &http.Server{Addr: "0.0.0.0:" + port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("listening on %s, dependency %s", srv.Addr, downstream)
	log.Fatal(srv.ListenAndServe())
}

// fetchQuote calls the dependency once.
func fetchQuote(downstream string) (json.RawMessage, error) {
	// TODO: no timeout here. Give each attempt a deadline of
	// CALL_TIMEOUT_MS (context.WithTimeout and http.NewRequestWithContext).
	resp, err := http.Get(downstream + "/quote")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK || !json.Valid(body) {
		return nil, &statusError{resp.StatusCode}
	}
	return body, nil
}

type statusError struct{ status int }

func (e *statusError) Error() string { return "the dependency answered " + http.StatusText(e.status) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
