// The reference solution of the limiter build exercise: an exact sliding
// log per client in Redis, decided by one Lua script on the Redis clock,
// with every Redis call bounded so a Redis that does not answer costs a
// request at most a quarter of a second, and then lets it through (fail
// open).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// slidingLog keeps one sorted set per client: the times (Redis clock, ms)
// of the requests it let through in the last window. Removing the old
// entries, counting, and adding the new one happen in one step, so
// concurrent requests on any replica cannot all see the same count.
// It returns {allowed, remaining, retry after ms, now ms}.
var slidingLog = redis.NewScript(`
local key    = KEYS[1]
local limit  = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t   = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local n = redis.call('ZCARD', key)
if n < limit then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, window)
  return {1, limit - n - 1, 0, now}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {0, 0, tonumber(oldest[2]) + window - now, now}
`)

type service struct {
	rdb     *redis.Client
	limit   int
	window  int
	replica string
}

type answer struct {
	Allowed      bool   `json:"allowed"`
	Key          string `json:"key"`
	Replica      string `json:"replica"`
	Remaining    int64  `json:"remaining"`
	Limit        int    `json:"limit"`
	RetryAfterMS int64  `json:"retry_after_ms,omitempty"`
	DecidedAtMS  int64  `json:"decided_at_ms,omitempty"`
	FailOpen     bool   `json:"fail_open,omitempty"`
}

func main() {
	limit, window := envInt("QUOTA_LIMIT", 20), envInt("QUOTA_WINDOW_MS", 2000)
	opt, err := redis.ParseURL(os.Getenv("REDIS_URL"))
	if err != nil {
		log.Fatalf("REDIS_URL: %v", err)
	}
	// A paused Redis would otherwise hold each request for the default
	// 3 s read timeout, three retries over.
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 250*time.Millisecond, 250*time.Millisecond, 250*time.Millisecond
	opt.PoolTimeout, opt.MaxRetries, opt.ContextTimeoutEnabled = time.Second, -1, true
	opt.PoolSize = 64
	s := &service{rdb: redis.NewClient(opt), limit: limit, window: window, replica: os.Getenv("REPLICA_ID")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("POST /request", s.request)
	addr := "0.0.0.0:" + os.Getenv("PORT")
	log.Printf("replica %s: %d requests per %d ms, listening on %s", s.replica, limit, window, addr)
	log.Fatal(http.ListenAndServe(addr, mux))
}

func (s *service) request(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("key")
	if msg := checkKey(key); msg != "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]string{"field": "key", "message": msg}})
		return
	}
	a := answer{Key: key, Replica: s.replica, Limit: s.limit}
	ctx, cancel := context.WithTimeout(r.Context(), 300*time.Millisecond)
	defer cancel()
	v, err := slidingLog.Run(ctx, s.rdb, []string{"rl:{" + key + "}"}, s.limit, s.window, member()).Int64Slice()
	if err != nil {
		// Fail open: the limiter is a safety net in front of an API, and
		// a Redis outage must not become an outage of the API.
		log.Printf("replica %s: key %s: Redis did not decide, letting the request through: %v", s.replica, key, err)
		a.Allowed, a.FailOpen = true, true
		writeJSON(w, http.StatusOK, a)
		return
	}
	a.Allowed, a.Remaining, a.RetryAfterMS, a.DecidedAtMS = v[0] == 1, v[1], v[2], v[3]
	w.Header().Set("RateLimit-Limit", strconv.Itoa(s.limit))
	w.Header().Set("RateLimit-Remaining", strconv.FormatInt(a.Remaining, 10))
	if a.Allowed {
		writeJSON(w, http.StatusOK, a)
		return
	}
	// Whole seconds, rounded up: a client that waits this long gets in.
	w.Header().Set("Retry-After", strconv.FormatInt(max(1, (a.RetryAfterMS+999)/1000), 10))
	writeJSON(w, http.StatusTooManyRequests, a)
}

// member names one admitted request uniquely, so two in the same
// millisecond are two entries.
func member() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

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
