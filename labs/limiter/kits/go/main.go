// A starter for the limiter build exercise: a service that answers the
// whole contract and builds offline on the workbook's Go image.
//
// It counts each client's requests in Redis the way many first attempts
// do, and that is not good enough yet. Run the checks, read what fails,
// and fix it:
//
//   - INCR, then EXPIRE, in two round trips, is a fixed window that
//     starts at a client's first request. A client can use its quota at
//     the end of one window and again at the start of the next: up to
//     twice the quota within 2 s ("no more than the limit in any sliding
//     span"). And if the process dies between the two commands, the key
//     never expires.
//   - The Redis client keeps its defaults: 3 s to wait for an answer and
//     3 retries. While Redis does not answer, every request waits for
//     all of that ("Redis paused").
package main

import (
	"context"
	"encoding/json"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

type service struct {
	rdb     *redis.Client
	limit   int64
	window  time.Duration
	replica string
}

func main() {
	limit, windowMS := envInt("QUOTA_LIMIT", 20), envInt("QUOTA_WINDOW_MS", 2000)
	opt, err := redis.ParseURL(os.Getenv("REDIS_URL"))
	if err != nil {
		log.Fatalf("REDIS_URL: %v", err)
	}
	s := &service{rdb: redis.NewClient(opt), limit: int64(limit),
		window: time.Duration(windowMS) * time.Millisecond, replica: os.Getenv("REPLICA_ID")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("POST /request", s.request)
	addr := "0.0.0.0:" + os.Getenv("PORT")
	log.Printf("replica %s: %d requests per %d ms, listening on %s", s.replica, limit, windowMS, addr)
	log.Fatal(http.ListenAndServe(addr, mux))
}

// request decides one request of the client named by ?key=.
func (s *service) request(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("key")
	if msg := checkKey(key); msg != "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]string{"field": "key", "message": msg}})
		return
	}
	allowed, retryAfter, err := s.allow(r.Context(), key)
	if err != nil {
		// Fail open: when Redis cannot decide, let the request through.
		log.Printf("replica %s: key %s: Redis did not decide, letting the request through: %v", s.replica, key, err)
		writeJSON(w, http.StatusOK, map[string]any{"allowed": true, "key": key, "replica": s.replica, "fail_open": true})
		return
	}
	body := map[string]any{"allowed": allowed, "key": key, "replica": s.replica}
	if allowed {
		writeJSON(w, http.StatusOK, body)
		return
	}
	// Whole seconds, rounded up, at least 1.
	secs := max(1, int64((retryAfter+time.Second-1)/time.Second))
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	body["retry_after_ms"] = retryAfter.Milliseconds()
	writeJSON(w, http.StatusTooManyRequests, body)
}

// allow counts the request in the client's current window and says
// whether it is within the limit, and if not, how long until the window
// ends.
func (s *service) allow(ctx context.Context, key string) (bool, time.Duration, error) {
	k := "rl:" + key
	n, err := s.rdb.Incr(ctx, k).Result()
	if err != nil {
		return false, 0, err
	}
	if n == 1 {
		// The first request of a window starts its clock.
		if err := s.rdb.Expire(ctx, k, s.window).Err(); err != nil {
			return false, 0, err
		}
	}
	if n <= s.limit {
		return true, 0, nil
	}
	ttl, err := s.rdb.PTTL(ctx, k).Result()
	if err != nil {
		return false, 0, err
	}
	return false, max(ttl, time.Millisecond), nil
}

// checkKey says what is wrong with a client key, or "".
func checkKey(k string) string {
	if k == "" || len(k) > 200 {
		return "key must be 1 to 200 characters"
	}
	for _, c := range []byte(k) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return "key may hold only A-Z, a-z, 0-9, '.', '_', ':' and '-'"
		}
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// envInt reads a positive whole number from the environment.
func envInt(name string, def int) int {
	v, err := strconv.Atoi(os.Getenv(name))
	if err != nil || v < 1 {
		if os.Getenv(name) != "" {
			log.Printf("%s=%q is not a positive number; using %d", name, os.Getenv(name), def)
		}
		return def
	}
	return v
}
