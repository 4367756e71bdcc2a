package limiter

import (
	"context"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The module's own flawed limiters, as designs a learner can pick: each
// fails for the reason its lesson gives.
const (
	// FixedWindowTwoCommands is the module's first limiter: INCR the
	// window's counter, then, on the window's first request, EXPIRE it, as
	// two commands. A replica that crashes between them leaves a counter
	// with no TTL, which stays in Redis for ever.
	FixedWindowTwoCommands = "fixed_window_two_commands"
	// TokenBucketWholeSeconds is the module's token bucket script: it
	// reads TIME in whole seconds, so the bucket refills a second's worth
	// of tokens at once at each second boundary, and an emptied bucket
	// lets a burst through at the top of every second.
	TokenBucketWholeSeconds = "token_bucket_whole_seconds"
)

// redisOnly reports whether an algorithm exists only as Redis commands.
func redisOnly(alg string) bool {
	return alg == FixedWindowTwoCommands || alg == TokenBucketWholeSeconds
}

// wholeSecondsLua is the module's token bucket: the time in whole seconds
// (TIME's first field), a refill of limit per window computed per second
// elapsed, capacity limit + burst.
//
// KEYS[1] hash {tokens, ts}; ARGV after the time: capacity, limit, window ms.
const wholeSecondsLua = prelude + `
local key      = KEYS[1]
local capacity = tonumber(ARGV[2])
local limit    = tonumber(ARGV[3])
local window   = tonumber(ARGV[4])
local rate     = limit * 1000 / window  -- tokens a second
local sec      = floor_div(now, 1000)

local state  = redis.call('HMGET', key, 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local last   = tonumber(state[2]) or sec
tokens = math.min(capacity, tokens + math.max(0, sec - last) * rate)

local allowed, retry = 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = (sec + math.ceil((1 - tokens) / rate)) * 1000 - now
end
redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', string.format('%.0f', sec))
local reset = math.ceil((capacity - tokens) / rate) * 1000
redis.call('PEXPIRE', key, reset + 1000 + slack)
return {allowed, math.floor(tokens), reset, retry, now}
`

// decideTwoCommands is the module's fixed window: INCR, then PEXPIRE on
// the window's first request, each its own round trip. crash stops the
// replica after the INCR.
func (s *redisStore) decideTwoCommands(ctx context.Context, key string, crash bool) (decision, error) {
	now, err := s.now(ctx)
	if err != nil {
		return decision{}, err
	}
	limit, window := s.args[0].(int64), s.args[1].(int64)
	idx := floorDiv(now, window)
	k := s.prefix + "{" + key + "}:" + strconv.FormatInt(idx, 10)
	n, err := s.rdb.Incr(ctx, k).Result()
	if err != nil {
		return decision{}, fmt.Errorf("limiter: redis INCR: %w", err)
	}
	if crash {
		return decision{}, errCrashed
	}
	reset := (idx+1)*window - now
	if n == 1 {
		slack := int64(1000)
		if s.clock != nil {
			slack = 3600000
		}
		if err := s.rdb.PExpire(ctx, k, msDuration(reset+slack)).Err(); err != nil {
			return decision{}, fmt.Errorf("limiter: redis PEXPIRE: %w", err)
		}
	}
	if n > limit {
		return decision{remaining: 0, resetMS: reset, retryMS: reset, at: now}, nil
	}
	return decision{allowed: true, remaining: limit - n, resetMS: reset, at: now}, nil
}

var wholeSecondsScript = goredis.NewScript(wholeSecondsLua)

func msDuration(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }
