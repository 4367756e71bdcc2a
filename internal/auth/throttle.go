package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Throttle counts events (failed logins, registrations) per key in Redis so
// every replica sees the same counts, and blocks a key that reached Max
// within Window until its window ends.
type Throttle struct {
	rdb    *goredis.Client
	Max    int64
	Window time.Duration
}

// NewThrottle allows max events per window per key.
func NewThrottle(rdb *goredis.Client, max int64, window time.Duration) *Throttle {
	return &Throttle{rdb: rdb, Max: max, Window: window}
}

// One atomic step: count the event and start the window on the first one.
// (INCR and EXPIRE as two commands could leave a counter that never expires.)
var addScript = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`)

// LoginKeys are the keys a login attempt counts against: the account and
// the client's IP. The email is hashed so Redis holds no addresses.
func LoginKeys(email, ip string) (account, client string) {
	h := sha256.Sum256([]byte(email))
	return "throttle:login:acct:" + hex.EncodeToString(h[:12]), "throttle:login:ip:" + ip
}

// Wait reports how long until none of keys is blocked; zero means go ahead.
func (t *Throttle) Wait(ctx context.Context, keys ...string) (time.Duration, error) {
	pipe := t.rdb.Pipeline()
	counts := make([]*goredis.StringCmd, len(keys))
	ttls := make([]*goredis.DurationCmd, len(keys))
	for i, k := range keys {
		counts[i] = pipe.Get(ctx, k)
		ttls[i] = pipe.PTTL(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return 0, err
	}
	var wait time.Duration
	for i := range keys {
		n, err := counts[i].Int64()
		if err != nil || n < t.Max {
			continue // redis.Nil: no events counted yet
		}
		d := ttls[i].Val()
		if d <= 0 {
			d = time.Second // expiring right now
		}
		wait = max(wait, d)
	}
	return wait, nil
}

// Add counts one event against each key.
func (t *Throttle) Add(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if err := addScript.Run(ctx, t.rdb, []string{k}, t.Window.Milliseconds()).Err(); err != nil {
			return err
		}
	}
	return nil
}

// Reset forgets the events counted against keys.
func (t *Throttle) Reset(ctx context.Context, keys ...string) error {
	return t.rdb.Del(ctx, keys...).Err()
}
