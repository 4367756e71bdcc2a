package shortener

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/labs"
)

// Tiers a lookup can be served by.
const (
	tierLocal = "local"
	tierRedis = "redis"
	tierDB    = "database"
)

// entry is what a lookup found: a link, or that there is none.
type entry struct {
	found     bool
	url       string
	expiresMS int64
}

func (e entry) expired(now int64) bool { return e.found && e.expiresMS != 0 && now >= e.expiresMS }

func (in *instance) cacheKey(code string) string { return in.env.Prefix + "c:" + code }

// Redis values: "1|<cached until ms>|<expires ms>|<url>" for a link,
// "0|<cached until ms>" for no link. The cached-until time is on the
// instance's clock, and a lookup past it is a miss whatever Redis still
// holds: Redis's own TTL runs on the machine's clock, which a check that
// moves the lab's clock by hand does not move.
func encodeEntry(e entry, until int64) string {
	u := strconv.FormatInt(until, 10)
	if !e.found {
		return "0|" + u
	}
	return "1|" + u + "|" + strconv.FormatInt(e.expiresMS, 10) + "|" + e.url
}

func decodeEntry(s string) (e entry, until int64, ok bool) {
	kind, rest, ok := strings.Cut(s, "|")
	if !ok {
		return entry{}, 0, false
	}
	switch kind {
	case "0":
		until, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			return entry{}, 0, false
		}
		return entry{}, until, true
	case "1":
		u, rest, ok := strings.Cut(rest, "|")
		if !ok {
			return entry{}, 0, false
		}
		exp, url, ok := strings.Cut(rest, "|")
		if !ok {
			return entry{}, 0, false
		}
		until, err := strconv.ParseInt(u, 10, 64)
		if err != nil {
			return entry{}, 0, false
		}
		ms, err := strconv.ParseInt(exp, 10, 64)
		if err != nil {
			return entry{}, 0, false
		}
		return entry{found: true, url: url, expiresMS: ms}, until, true
	}
	return entry{}, 0, false
}

// ttlOf is how long e may stay cached: the cache TTL, and at most
// maxNegativeTTL for "no such code".
func (in *instance) ttlOf(e entry) time.Duration {
	if !e.found {
		return min(in.cfg.cacheTTL, maxNegativeTTL)
	}
	return in.cfg.cacheTTL
}

// redisTTL is the TTL Redis keeps a cached entry for. On the machine's
// clock it is the entry's own TTL, so Redis evicts it as the lesson says.
// On a clock a check moves by hand the stored cached-until time decides
// alone, and Redis keeps the key long enough for any check (the instance
// removes its keys when it closes; this only bounds a key it never did).
func (in *instance) redisTTL(d time.Duration) time.Duration {
	switch in.env.Clocked().(type) {
	case labs.RealClock, *labs.RealClock:
		return d
	}
	return max(d, clockedRedisTTL)
}

// lookup finds code through the tiers: process memory, Redis, then the
// shard. A Redis failure is not a miss: it is counted, and the database
// answers without refilling a cache that is failing.
func (in *instance) lookup(ctx context.Context, code string) (entry, string, error) {
	now := in.nowMS()
	if in.local != nil {
		if e, ok := in.local.get(code, now); ok {
			return e, tierLocal, nil
		}
	}
	redisOK := in.cfg.cache != CacheNone
	if redisOK {
		v, err := in.rdb.Get(ctx, in.cacheKey(code)).Result()
		switch {
		case err == nil:
			if e, until, ok := decodeEntry(v); ok && now < until {
				if in.local != nil {
					// Only for what is left of its TTL: an entry is
					// never cached longer than the TTL across the tiers.
					in.local.put(code, e, until)
				}
				return e, tierRedis, nil
			}
			// Undecodable, or cached for longer than the TTL on the
			// instance's clock: read the database and overwrite it.
		case errors.Is(err, goredis.Nil):
		default:
			if ctx.Err() != nil {
				return entry{}, "", ctx.Err()
			}
			in.redisError("cache read", err)
			redisOK = false
		}
	}
	// One database read per code at a time in this process: a viral link
	// that is not cached yet costs one read, not one per waiting redirect.
	// The read runs on its own context so the first caller giving up does
	// not fail the others. Its timeout is on the machine's clock: it bounds
	// a database that stopped answering, not anything the design decides.
	ch := in.flights.DoChan(code, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		l, found, err := in.read(fctx, code)
		if err != nil {
			return entry{}, err
		}
		e := entry{found: found, url: l.URL, expiresMS: l.ExpiresMS}
		ttl := in.ttlOf(e)
		until := in.nowMS() + ttl.Milliseconds()
		if redisOK {
			if err := in.rdb.Set(fctx, in.cacheKey(code), encodeEntry(e, until), in.redisTTL(ttl)).Err(); err != nil {
				in.redisError("cache fill", err)
			}
		}
		if in.local != nil {
			in.local.put(code, e, until)
		}
		return e, nil
	})
	select {
	case <-ctx.Done():
		return entry{}, "", ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return entry{}, "", r.Err
		}
		return r.Val.(entry), tierDB, nil
	}
}

func (in *instance) redisError(what string, err error) {
	in.redisErrors.Add(1)
	if n, ok := in.warnR.Ready(); ok {
		in.env.Metrics.Eventf("error", "Redis failed on %s: %v%s", what, err, labs.Held(n))
	}
}

// outcome is what a redirect answers.
type outcome struct {
	status int
	url    string
	entry  entry
	tier   string
}

// redirectStatus is 302 when clicks are counted (every click must come
// back), else 301.
func (in *instance) redirectStatus() int {
	if in.cfg.analytics {
		return http.StatusFound
	}
	return http.StatusMovedPermanently
}

// redirect resolves code as GET r/{code} does; with count it is a real
// redirect: measured, counted per tier, and a click when analytics are on.
func (in *instance) redirect(ctx context.Context, code string, count bool) (outcome, error) {
	start := time.Now()
	var o outcome
	if checkCode(code) {
		e, tier, err := in.lookup(ctx, code)
		if err != nil {
			return outcome{status: http.StatusServiceUnavailable}, err
		}
		o.entry, o.tier = e, tier
	}
	switch {
	case !o.entry.found:
		o.status = http.StatusNotFound
	case o.entry.expired(in.nowMS()):
		o.status = http.StatusGone
	default:
		o.status, o.url = in.redirectStatus(), o.entry.url
	}
	if !count {
		return o, nil
	}
	m := in.env.Metrics
	switch o.tier {
	case tierLocal:
		in.localHits.Add(1)
		m.Count("local_hits", 1)
	case tierRedis:
		in.redisHits.Add(1)
		m.Count("redis_hits", 1)
	case tierDB:
		in.dbHits.Add(1)
		m.Count("db_hits", 1)
	}
	switch o.status {
	case http.StatusNotFound:
		in.notFound.Add(1)
		m.Count("not_found", 1)
	case http.StatusGone:
		in.gone.Add(1)
		m.Count("gone", 1)
	default:
		in.redirects.Add(1)
		m.Count("redirects", 1)
		if in.clicks != nil {
			in.clicks.add(ctx, code)
		}
	}
	m.Latency("redirect", time.Since(start))
	return o, nil
}

// codeForKey maps a load run's key to a code: "k<n>" is demo link n (mod
// 1,000), anything else is taken as a code.
func (in *instance) codeForKey(key string) string {
	if rest, ok := strings.CutPrefix(key, "k"); ok && len(in.hot) > 0 {
		if n, err := strconv.Atoi(rest); err == nil && n >= 0 {
			return in.hot[n%len(in.hot)]
		}
	}
	return key
}
