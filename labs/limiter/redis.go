package limiter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/labs"
)

// Every script starts the same way: the time, in milliseconds, comes from
// Redis itself (TIME), so every replica decides on one clock and no
// application server's clock matters. The one exception is a check suite
// that runs the limiter on a clock of its own (see redisStore.clock): it
// hands the time in as ARGV[1], so that a burst takes no time at all on the
// clock the decisions are made by, however busy the machine is. The
// helpers divide integers exactly (a Lua number is a double, and
// math.floor(a / b) can be off by one when a / b rounds onto an integer).
//
// Every key gets a TTL of when its state stops mattering plus slack ms: a
// key that lives a little longer costs nothing (its state is then the same
// as no key), while one that vanished early would forget requests, which
// can happen after a failover to a primary whose clock is ahead, and on the
// embedded server, whose TTLs count down in steps. On a suite's clock the
// TTLs still count down in Redis's real time, which has nothing to do with
// the suite's: there the slack is an hour, far longer than any check, and
// the instance removes its keys when it closes.
//
// ARGV[1] is the suite's time in Unix ms, or empty for Redis TIME; each
// script's own arguments follow. Every script returns {allowed (0/1),
// remaining, reset ms, retry-after ms, now ms}: reset is how long until the
// key's allowance is fully back, retry-after (0 when allowed) how long until
// the next request would pass.
const prelude = `
local now, slack
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  slack = 1000
else
  now = tonumber(ARGV[1])
  slack = 3600000
end

local function floor_div(a, b)
  local q = math.floor(a / b)
  if q * b > a then q = q - 1 elseif (q + 1) * b <= a then q = q + 1 end
  return q
end

local function ceil_div(a, b)
  return -floor_div(-a, b)
end
`

// fixedWindowLua counts requests per window index: window i covers
// [i × window, (i + 1) × window) in Unix ms. The key's name holds the index,
// so it depends on the time and the script derives it from KEYS[1]; the braces
// in KEYS[1] keep it in the same cluster slot.
//
// KEYS[1] key base; ARGV after the time: limit, window ms.
const fixedWindowLua = prelude + `
local limit  = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local idx    = math.floor(now / window)
local key    = KEYS[1] .. ':' .. string.format('%.0f', idx)
local reset  = (idx + 1) * window - now

local n = tonumber(redis.call('GET', key) or '0')
if n >= limit then
  return {0, 0, reset, reset, now}
end
n = redis.call('INCR', key)
-- INCR and PEXPIRE in one script: the counter can never live forever.
redis.call('PEXPIRE', key, reset + slack)
return {1, limit - n, reset, 0, now}
`

// slidingLogLua keeps the time of every admitted request of the last window
// in a sorted set and admits a request only if fewer than limit are in
// (now − window, now]: exact, at one entry per request.
//
// KEYS[1] sorted set; ARGV after the time: limit, window ms, a member unique to the request
// (two requests in the same millisecond must be two entries).
const slidingLogLua = prelude + `
local key    = KEYS[1]
local limit  = tonumber(ARGV[2])
local window = tonumber(ARGV[3])

redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local n = redis.call('ZCARD', key)
if n < limit then
  redis.call('ZADD', key, now, now .. ':' .. ARGV[4])
  -- Every entry is older than a window once the newest one is.
  redis.call('PEXPIRE', key, window + slack)
  return {1, limit - n - 1, window, 0, now}
end
local oldest = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2])
local newest = tonumber(redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2])
-- The next request passes when the oldest entry leaves the window.
return {0, 0, newest + window - now, oldest + window - now, now}
`

// slidingWindowLua keeps the fixed window's counters and estimates the
// count in the sliding window ending now by assuming the previous window's
// requests were spread evenly:
//
//	estimate = previous × (window − elapsed) / window + current
//
// A request passes if the estimate including it stays within the limit. The
// comparison is multiplied through by window so it is exact in integers.
//
// KEYS[1] key base; ARGV after the time: limit, window ms.
const slidingWindowLua = prelude + `
local limit    = tonumber(ARGV[2])
local window   = tonumber(ARGV[3])
local idx      = math.floor(now / window)
local cur_key  = KEYS[1] .. ':' .. string.format('%.0f', idx)
local prev_key = KEYS[1] .. ':' .. string.format('%.0f', idx - 1)
local elapsed  = now - idx * window

local cur  = tonumber(redis.call('GET', cur_key) or '0')
local prev = tonumber(redis.call('GET', prev_key) or '0')
local weighted = prev * (window - elapsed)  -- previous count still inside, × window

if weighted + (cur + 1) * window <= limit * window then
  cur = redis.call('INCR', cur_key)
  -- The counter is the previous window's until the next window ends.
  redis.call('PEXPIRE', cur_key, 2 * window - elapsed + slack)
  local remaining = floor_div(limit * window - weighted - cur * window, window)
  return {1, remaining, 2 * window - elapsed, 0, now}
end

local retry
if cur < limit then
  -- Wait in this window until the previous window's weight has fallen far
  -- enough: prev × (window − e) + (cur + 1) × window <= limit × window.
  retry = window - floor_div((limit - cur - 1) * window, prev) - elapsed
else
  -- This window is full; in the next one its count becomes the previous.
  retry = window - elapsed + window - floor_div((limit - 1) * window, cur)
end
local reset = window - elapsed
if cur > 0 then reset = reset + window end
return {0, 0, reset, retry, now}
`

// tokenBucketLua keeps one hash per key: the bucket's level and the time it
// was computed. The level refills continuously at limit per window up to
// capacity (limit + burst), and a request takes one token.
//
// To keep every value an exact integer, the level is counted in units of
// 1 / window of a token: a millisecond adds limit units, a request costs
// window units, and a full bucket holds capacity × window. (In whole tokens,
// limit / window per ms is a fraction such as 0.003, and the rounding errors
// would add up.) So "tokens" = 9000 with a 1000 ms window is 9 tokens.
//
// KEYS[1] hash {tokens, ts}; ARGV after the time: capacity, limit, window ms.
const tokenBucketLua = prelude + `
local key      = KEYS[1]
local capacity = tonumber(ARGV[2])
local limit    = tonumber(ARGV[3])
local window   = tonumber(ARGV[4])
local full     = capacity * window

local state  = redis.call('HMGET', key, 'tokens', 'ts')
local tokens = tonumber(state[1]) or full
local last   = tonumber(state[2]) or now
-- Clamp elapsed time at zero: after a failover the clock may be behind.
-- Clamp it at full too, so the product stays small; it fills the bucket anyway.
local elapsed = math.min(math.max(0, now - last), full)
tokens = math.min(full, tokens + elapsed * limit)

local allowed, retry = 0, 0
if tokens >= window then
  tokens = tokens - window
  allowed = 1
else
  retry = ceil_div(window - tokens, limit)
end
redis.call('HSET', key, 'tokens', string.format('%.0f', tokens), 'ts', string.format('%.0f', now))
-- A full bucket is the same as no key: let it vanish once refilled.
local reset = ceil_div(full - tokens, limit)
redis.call('PEXPIRE', key, reset + slack)
return {allowed, floor_div(tokens, window), reset, retry, now}
`

// gcraLua keeps one number per key, the theoretical arrival time (TAT):
// when the key's allowance would be used up if requests came exactly at the
// sustained rate. The emission interval is window / limit; a request passes
// if, after adding one interval, the TAT is at most capacity intervals ahead
// of now; that is, GCRA's tolerance is (capacity − 1) intervals, and it
// admits exactly what a token bucket of that capacity admits.
//
// Time is counted in ticks of 1 / limit ms since the instance's epoch, so the
// interval is exactly window ticks and every value is an integer a double
// holds exactly. (In milliseconds, 1000 / 3 is a fraction, and a TAT near
// 1.7e12 ms has no room left for it.)
//
// KEYS[1] string; ARGV after the time: capacity, limit, window ms, epoch ms.
const gcraLua = prelude + `
local key      = KEYS[1]
local capacity = tonumber(ARGV[2])
local limit    = tonumber(ARGV[3])
local window   = tonumber(ARGV[4])
local nowt     = (now - tonumber(ARGV[5])) * limit

local tat      = tonumber(redis.call('GET', key)) or nowt
local new_tat  = math.max(tat, nowt) + window
local allow_at = new_tat - capacity * window

if nowt < allow_at then
  return {0, 0, ceil_div(math.max(tat - nowt, 0), limit), ceil_div(allow_at - nowt, limit), now}
end
local reset = ceil_div(new_tat - nowt, limit)
redis.call('SET', key, string.format('%.0f', new_tat), 'PX', reset + slack)
return {1, floor_div(nowt - allow_at, window), reset, 0, now}
`

var scripts = map[string]*goredis.Script{
	FixedWindow:             goredis.NewScript(fixedWindowLua),
	SlidingLog:              goredis.NewScript(slidingLogLua),
	SlidingWindow:           goredis.NewScript(slidingWindowLua),
	TokenBucket:             goredis.NewScript(tokenBucketLua),
	GCRA:                    goredis.NewScript(gcraLua),
	TokenBucketWholeSeconds: wholeSecondsScript,
	// Two commands, no script; this one only checks that Redis runs Lua.
	FixedWindowTwoCommands: goredis.NewScript(prelude + "return {1, 0, 0, 0, now}"),
}

// poolSize bounds an instance's connections: decisions are short, and
// Redis runs one command at a time anyway.
const poolSize = 8

// redisStore decides in Redis: every replica shares one state per key.
type redisStore struct {
	rdb    *goredis.Client
	script *goredis.Script
	prefix string
	args   []any // the script's arguments, the same for every decision
	seq    atomic.Uint64
	log    bool // sliding_log: add a unique member
	// two: the two-command fixed window instead of a script.
	two bool
	// faults are the lab's fault controls, which every command passes.
	faults *faults
	// clock is a check suite's clock, whose time the scripts take instead
	// of Redis TIME; nil on the real clock.
	clock labs.Clock
}

func newRedisStore(ctx context.Context, cfg config, env labs.Env, space string, f *faults) (*redisStore, error) {
	script := scripts[cfg.algorithm]
	if script == nil {
		return nil, fmt.Errorf("limiter: unknown algorithm %q", cfg.algorithm)
	}
	// The limiter bounds every decision by timeout_ms. go-redis applies a
	// context's deadline to the socket only with ContextTimeoutEnabled, so
	// the instance talks to the same server through its own small pool
	// with that option on; otherwise a slow Redis would hold each request
	// for the client's read timeout (seconds) whatever the context says.
	opt := *env.Redis.Options()
	opt.ContextTimeoutEnabled = true
	opt.PoolSize = poolSize
	opt.MinIdleConns = 0
	opt.ConnMaxIdleTime = time.Minute
	clock := suiteClock(env)
	if clock != nil {
		// On a suite's clock timeout_ms does not apply (see
		// instance.decisionContext): only the backstop bounds a decision,
		// in the pool's queue and on the socket alike.
		opt.PoolTimeout, opt.ReadTimeout, opt.WriteTimeout = decisionBackstop, decisionBackstop, decisionBackstop
	}
	s := &redisStore{rdb: goredis.NewClient(&opt), script: script, prefix: env.Prefix + space, clock: clock, faults: f,
		two: cfg.algorithm == FixedWindowTwoCommands}
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()
	switch cfg.algorithm {
	case FixedWindow, SlidingWindow, FixedWindowTwoCommands:
		s.args = []any{cfg.limit, cfg.window}
	case SlidingLog:
		s.args = []any{cfg.limit, cfg.window}
		s.log = true
	case TokenBucket, TokenBucketWholeSeconds:
		s.args = []any{cfg.capacity(), cfg.limit, cfg.window}
	case GCRA:
		epoch, err := s.now(ctx)
		if err != nil {
			return nil, err
		}
		s.args = []any{cfg.capacity(), cfg.limit, cfg.window, epoch}
	}
	// Load the script up front so even the first decision is one EVALSHA.
	if err := s.script.Load(ctx, s.rdb).Err(); err != nil {
		return nil, fmt.Errorf("limiter: loading the %s script: %w", cfg.algorithm, err)
	}
	if f != nil {
		s.rdb.AddHook(faultHook{f})
	}
	ok = true
	return s, nil
}

func (s *redisStore) decide(ctx context.Context, _ int, key string) (decision, error) {
	crash := s.faults != nil && s.faults.takeCrash()
	if s.two {
		return s.decideTwoCommands(ctx, key, crash)
	}
	if crash {
		// A script runs whole in Redis or not at all: the replica died
		// before sending it.
		return decision{}, errCrashed
	}
	keys := []string{s.prefix + "{" + key + "}"}
	args := make([]any, 0, len(s.args)+2)
	if s.clock != nil {
		args = append(args, s.clock.Now().UnixMilli())
	} else {
		args = append(args, "") // Redis TIME
	}
	args = append(args, s.args...)
	if s.log {
		args = append(args, strconv.FormatUint(s.seq.Add(1), 36))
	}
	v, err := s.script.Run(ctx, s.rdb, keys, args...).Int64Slice()
	switch {
	case errors.Is(err, goredis.Nil):
		return decision{}, errors.New("limiter: the script returned nothing")
	case err != nil:
		return decision{}, fmt.Errorf("limiter: redis: %w", err)
	case len(v) != 5:
		return decision{}, fmt.Errorf("limiter: the script returned %d values, want 5", len(v))
	}
	return decision{allowed: v[0] == 1, remaining: v[1], resetMS: v[2], retryMS: v[3], at: v[4]}, nil
}

func (s *redisStore) now(ctx context.Context) (int64, error) {
	if s.clock != nil {
		return s.clock.Now().UnixMilli(), nil
	}
	t, err := s.rdb.Time(ctx).Result()
	if err != nil {
		return 0, fmt.Errorf("limiter: redis TIME: %w", err)
	}
	return t.UnixMilli(), nil
}

func (s *redisStore) close() {
	// Closing a pool only fails if it is already closed.
	_ = s.rdb.Close()
}
