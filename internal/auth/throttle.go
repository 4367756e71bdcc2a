package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Limit is a budget of Max attempts per Window counted under Key.
type Limit struct {
	Key    string
	Max    int64
	Window time.Duration
}

// Limiter counts attempts (logins, registrations) in Redis, so every
// replica sees the same counts. An attempt is counted before the work it
// guards (a password hash), in one atomic step, so a concurrent burst
// cannot slip past a limit while earlier attempts are still being checked.
type Limiter struct {
	rdb     *goredis.Client
	refused func(action string)
}

// OnRefused has f told of every attempt Take refuses, with the action its
// limits guard (the second part of the key: "login", "register", "reset",
// "verify", "sso"…), for the operator's metrics. Call it before use.
func (l *Limiter) OnRefused(f func(action string)) { l.refused = f }

// action is the action a limit's key guards: "login" for
// "throttle:login:pair:…".
func action(key string) string {
	parts := strings.SplitN(key, ":", 3)
	if len(parts) < 3 || parts[0] != "throttle" {
		return "other"
	}
	return parts[1]
}

// NewLimiter counts in rdb.
func NewLimiter(rdb *goredis.Client) *Limiter { return &Limiter{rdb: rdb} }

// takeScript checks every key and, only if none is spent, counts the
// attempt against all of them: one script, so no other attempt runs
// between the check and the count. A window starts with its key's first
// attempt. It returns 0 when counted, else the milliseconds until the
// longest-blocked key renews. ARGV holds max and window (ms) per key.
var takeScript = goredis.NewScript(`
local wait = 0
for i, key in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', key) or '0')
  if n >= tonumber(ARGV[2*i-1]) then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      -- a counter without an expiry would block forever: give it one
      ttl = tonumber(ARGV[2*i])
      redis.call('PEXPIRE', key, ttl)
    end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, ARGV[2*i]) end
end
return 0`)

// giveBackScript takes one attempt off each key that still counts one;
// a key that expired meanwhile is left alone rather than made negative or
// created without an expiry.
var giveBackScript = goredis.NewScript(`
for _, key in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', key) or '0')
  if n > 0 then redis.call('DECR', key) end
end
return 0`)

// Take counts one attempt against every limit, unless one of them is
// already spent: then it counts nothing and returns how long until the
// spent limits renew. Zero means the attempt was counted; go ahead.
func (l *Limiter) Take(ctx context.Context, limits ...Limit) (time.Duration, error) {
	keys := make([]string, len(limits))
	args := make([]any, 0, 2*len(limits))
	for i, lim := range limits {
		keys[i] = lim.Key
		args = append(args, lim.Max, lim.Window.Milliseconds())
	}
	ms, err := takeScript.Run(ctx, l.rdb, keys, args...).Int64()
	if err != nil {
		return 0, err
	}
	if ms > 0 && l.refused != nil && len(keys) > 0 {
		l.refused(action(keys[0]))
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// GiveBack returns one counted attempt to each key, for an attempt that
// turned out not to spend what the limit guards (it was never checked, or
// it proved the password right).
func (l *Limiter) GiveBack(ctx context.Context, keys ...string) error {
	return giveBackScript.Run(ctx, l.rdb, keys).Err()
}

// Reset forgets every attempt counted against keys.
func (l *Limiter) Reset(ctx context.Context, keys ...string) error {
	return l.rdb.Del(ctx, keys...).Err()
}

// LoginLimits are the budgets of login attempts, all per Window. PerPair
// is strict and is what stops a guesser; PerAccount and PerIP are loose
// backstops, so one client cannot lock someone else's account and a
// classroom behind one address is not locked by one learner's typos.
type LoginLimits struct {
	PerPair    int64 // one account from one IP
	PerAccount int64 // one account from anywhere
	PerIP      int64 // all accounts from one IP
	Window     time.Duration
}

// DefaultLoginLimits: 10 guesses per account and address per 15 minutes;
// an account locks only when 10 addresses have used up theirs; an address
// may spend 100 attempts across accounts (a class of 30 with typos fits).
var DefaultLoginLimits = LoginLimits{PerPair: 10, PerAccount: 100, PerIP: 100, Window: 15 * time.Minute}

// LoginAttempt is what one login attempt counts against.
type LoginAttempt struct {
	Pair, Account, IP Limit
}

// For returns the limits a login for email from ip counts against. Emails
// are hashed so Redis holds no addresses.
func (ll LoginLimits) For(email, ip string) LoginAttempt {
	h := sha256.Sum256([]byte(email))
	acct := hex.EncodeToString(h[:12])
	return LoginAttempt{
		Pair:    Limit{Key: "throttle:login:pair:" + acct + ":" + ip, Max: ll.PerPair, Window: ll.Window},
		Account: Limit{Key: "throttle:login:acct:" + acct, Max: ll.PerAccount, Window: ll.Window},
		IP:      Limit{Key: "throttle:login:ip:" + ip, Max: ll.PerIP, Window: ll.Window},
	}
}

// Limits lists the attempt's limits for Take.
func (a LoginAttempt) Limits() []Limit { return []Limit{a.Pair, a.Account, a.IP} }

// RegisterLimit is the budget of registration attempts from one IP: 20 an
// hour. Every attempt that gets as far as a password hash counts, whether
// or not the address is taken.
func RegisterLimit(ip string) Limit {
	return Limit{Key: "throttle:register:ip:" + ip, Max: 20, Window: time.Hour}
}
