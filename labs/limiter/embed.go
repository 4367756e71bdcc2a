package limiter

import (
	"context"
	"fmt"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// Limiter is one rate limit decided by this lab's Redis scripts, for other
// labs to apply to their own traffic (the shortener limits link creation
// with it). It has no replicas, no timeout of its own and no failure mode:
// the caller bounds ctx and decides what a Redis failure means.
type Limiter struct {
	store *redisStore
}

// New builds a limiter that lets limit requests per windowMS through for
// each key with algorithm (FixedWindow, SlidingLog, SlidingWindow,
// TokenBucket or GCRA, with no burst). Its Redis keys live under
// env.Prefix, so whoever owns that prefix removes them (labs.DeleteKeys);
// Close releases its connections. When env carries a check suite's clock
// it decides by that clock, as the lab's own instances do; otherwise by
// Redis TIME.
func New(ctx context.Context, env labs.Env, algorithm string, limit, windowMS int) (*Limiter, error) {
	if scripts[algorithm] == nil {
		return nil, fmt.Errorf("limiter: unknown algorithm %q", algorithm)
	}
	if limit < 1 || windowMS < 1 {
		return nil, fmt.Errorf("limiter: limit %d per %d ms: both must be at least 1", limit, windowMS)
	}
	if algorithm == SlidingLog && limit > maxSlidingLog {
		return nil, fmt.Errorf("limiter: sliding_log allows a limit of at most %d", maxSlidingLog)
	}
	cfg := config{algorithm: algorithm, limit: int64(limit), window: int64(windowMS), replicas: 1,
		storage: StorageRedis, onError: FailOpen, timeout: time.Second}
	st, err := newRedisStore(ctx, cfg, env, "rl:", nil)
	if err != nil {
		return nil, err
	}
	return &Limiter{store: st}, nil
}

// Allow decides one request for key (1 to 200 characters of A-Z, a-z,
// 0-9, '.', '_', ':' and '-'): whether it may pass and, when it may not,
// how long until one would. An error means no decision was made.
func (l *Limiter) Allow(ctx context.Context, key string) (allowed bool, retryAfter time.Duration, err error) {
	if msg := checkKey(key); msg != "" {
		return false, 0, fmt.Errorf("limiter: key %q: %s", key, msg)
	}
	d, err := l.store.decide(ctx, 0, key)
	if err != nil {
		return false, 0, err
	}
	return d.allowed, time.Duration(d.retryMS) * time.Millisecond, nil
}

// Close releases the limiter's Redis connections.
func (l *Limiter) Close() { l.store.close() }
