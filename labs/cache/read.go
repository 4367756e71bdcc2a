package cache

import (
	"context"
	"errors"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// readResult is the answer to GET items/{item}.
type readResult struct {
	Item
	Source    string  `json:"source"`
	Stale     bool    `json:"stale"`
	LatencyMS float64 `json:"latency_ms"`
}

// read is one read of an item by the configured strategy. It is stale when
// it returns a version older than the newest write acknowledged before it
// began.
func (in *instance) read(ctx context.Context, id int) (readResult, error) {
	if id < 1 || id > CatalogueSize {
		return readResult{}, errNoItem
	}
	start := in.now()
	newest := in.acked[id-1].Load()
	it, src, err := in.fetch(ctx, id)
	d := in.now().Sub(start)
	if err != nil {
		return readResult{}, err
	}
	in.env.Metrics.Latency("read", d)
	r := readResult{Item: it, Source: src, LatencyMS: float64(d.Microseconds()) / 1000}
	if it.Version < newest {
		r.Stale = true
		in.staleReads.Add(1)
		in.env.Metrics.Count("stale_reads", 1)
	}
	return r, nil
}

func (in *instance) fetch(ctx context.Context, id int) (Item, string, error) {
	if in.cfg.strategy == StrategyNone {
		it, err := in.dbRead(ctx, id)
		return it, srcDB, err
	}
	e, err := in.cacheGet(ctx, id)
	switch {
	case err == nil:
		in.mem.touch(id, in.now())
		in.hits.Add(1)
		in.env.Metrics.Count("hits", 1)
		if in.cfg.stampede == StampedeEarly && shouldRefresh(e, 1, in.now().UnixMilli(), in.uniform()) {
			in.earlyRefreshes.Add(1)
			if it, err := in.loadAndFill(ctx, id); err == nil {
				return it, srcDB, nil
			} else if ctx.Err() != nil {
				return Item{}, "", err
			}
			// The early refresh failed, but the entry has not expired: serve it.
		}
		return e.Item, srcCache, nil
	case errors.Is(err, goredis.Nil):
		in.miss()
		return in.load(ctx, id)
	case errors.Is(err, errCorrupt):
		in.redisError("decoding item "+strconv.Itoa(id), err)
		if err := in.redis().Del(ctx, in.itemKey(id)).Err(); err != nil {
			in.redisError("deleting an undecodable entry", err)
		}
		in.miss()
		return in.load(ctx, id)
	default:
		if ctx.Err() != nil {
			return Item{}, "", ctx.Err()
		}
		if in.cfg.redisErrors == RedisErrorsMiss {
			return in.missOnError(ctx, id, err)
		}
		// Redis itself failed: not a miss. Read the database through the
		// bounded gate and do not try to fill a cache that is failing.
		in.redisError("cache read", err)
		return in.fallbackRead(ctx, id)
	}
}

func (in *instance) miss() {
	in.misses.Add(1)
	in.env.Metrics.Count("misses", 1)
}

// load serves a miss according to the stampede mode.
func (in *instance) load(ctx context.Context, id int) (Item, string, error) {
	switch in.cfg.stampede {
	case StampedeSingleflight:
		return in.loadShared(ctx, id)
	case StampedeLock:
		return in.loadLocked(ctx, id)
	default: // none; early_expiration only acts before expiry, so a true miss loads
		it, err := in.loadAndFill(ctx, id)
		return it, srcDB, err
	}
}

// loadAndFill reads the database and caches the row, timing the read for
// XFetch. A fill failure is counted and the row served anyway.
func (in *instance) loadAndFill(ctx context.Context, id int) (Item, error) {
	start := in.now()
	it, err := in.dbRead(ctx, id)
	if err != nil {
		return Item{}, err
	}
	stored, err := in.cacheFill(ctx, in.newEntry(it, in.now().Sub(start)))
	switch {
	case err != nil && ctx.Err() == nil:
		in.redisError("cache fill", err)
	case err == nil && !stored:
		in.fillsRefused.Add(1) // a writer committed a newer version meanwhile
	}
	return it, nil
}

// loadTimeout bounds a load others wait on, and the stampede lock's TTL.
func (in *instance) loadTimeout() time.Duration { return in.cfg.dbLatency + 5*time.Second }

type loaded struct {
	it  Item
	src string
}

// loadShared lets concurrent misses on one key in this process share one
// load. The load runs on its own context: the first caller giving up must
// not fail everybody waiting on it.
func (in *instance) loadShared(ctx context.Context, id int) (Item, string, error) {
	act, key := activityOf(ctx), strconv.Itoa(id)
	ch := in.flights.DoChan(key, func() (any, error) {
		act.flightStart(key)
		defer act.flightEnd(key)
		fctx, cancel := in.withTimeout(context.WithoutCancel(ctx), in.loadTimeout())
		defer cancel()
		// A flight that starts just after the previous one finished finds
		// its fill here instead of reading the database again.
		e, err := in.cacheGet(fctx, id)
		if err == nil {
			return loaded{e.Item, srcCache}, nil
		}
		if !errors.Is(err, goredis.Nil) && !errors.Is(err, errCorrupt) {
			in.redisError("cache re-check", err)
		}
		it, err := in.loadAndFill(fctx, id)
		return loaded{it, srcDB}, err
	})
	act.ride(key)
	select {
	case <-ctx.Done():
		act.alight(key)
		return Item{}, "", ctx.Err()
	case r := <-ch:
		act.alight(key)
		if r.Err != nil {
			return Item{}, "", r.Err
		}
		l := r.Val.(loaded)
		return l.it, l.src, nil
	}
}

// loadLocked lets one reader across all processes load a missing key: it
// takes SET lock token NX PX; the others poll the cache until the holder
// fills it, and give up after the lock's TTL.
func (in *instance) loadLocked(ctx context.Context, id int) (Item, string, error) {
	lock, token, ttl := in.lockKey(id), newToken(), in.loadTimeout()
	deadline := in.now().Add(ttl)
	poll := min(max(in.cfg.dbLatency/5, 5*time.Millisecond), 50*time.Millisecond)
	for {
		won, err := in.redis().SetNX(ctx, lock, token, in.redisTTL(ttl)).Result()
		if err != nil {
			if ctx.Err() != nil {
				return Item{}, "", ctx.Err()
			}
			in.redisError("stampede lock", err)
			return in.fallbackRead(ctx, id)
		}
		if won {
			return in.loadHoldingLock(ctx, id, lock, token)
		}
		if in.now().After(deadline) {
			in.lockTimeouts.Add(1)
			in.env.Metrics.Eventf("warn", "item %d: gave up after %s waiting for the lock holder to fill the cache", id, ttl)
			return Item{}, "", errFillTimeout
		}
		if err := in.sleep(ctx, poll); err != nil {
			return Item{}, "", err
		}
		e, err := in.cacheGet(ctx, id)
		switch {
		case err == nil:
			return e.Item, srcCache, nil
		case errors.Is(err, goredis.Nil), errors.Is(err, errCorrupt):
			// Not filled yet: try the lock again (the holder may have failed).
		default:
			if ctx.Err() != nil {
				return Item{}, "", ctx.Err()
			}
			in.redisError("cache poll", err)
			return in.fallbackRead(ctx, id)
		}
	}
}

func (in *instance) loadHoldingLock(ctx context.Context, id int, lock, token string) (Item, string, error) {
	defer func() {
		// Release even if the reader's request was cancelled.
		rctx, cancel := in.withTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if err := releaseScript.Run(rctx, in.redis(), []string{lock}, token).Err(); err != nil {
			in.redisError("stampede lock release", err)
		}
	}()
	// The previous holder fills before it releases, so whoever takes the
	// lock next finds the item here and does not read the database again.
	e, err := in.cacheGet(ctx, id)
	if err == nil {
		return e.Item, srcCache, nil
	}
	if !errors.Is(err, goredis.Nil) && !errors.Is(err, errCorrupt) {
		in.redisError("cache re-check", err)
	}
	it, err := in.loadAndFill(ctx, id)
	return it, srcDB, err
}

// fallbackRead reads the database when Redis fails, at most fallbackSlots
// at a time; beyond that it fails fast.
func (in *instance) fallbackRead(ctx context.Context, id int) (Item, string, error) {
	select {
	case in.fallback <- struct{}{}:
		defer func() { <-in.fallback }()
		it, err := in.dbRead(ctx, id)
		return it, srcDB, err
	default:
		return Item{}, "", errOverloaded
	}
}
