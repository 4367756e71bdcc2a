package cache

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/sdworkbook/workbook/labs"
)

// Errors a read or write can end with; statusOf maps them to HTTP.
var (
	errOverloaded  = errors.New("Redis is failing and the database fallback is saturated")
	errFillTimeout = errors.New("timed out waiting for the lock holder to fill the cache")
	errCacheDown   = errors.New("Redis is failing; write-behind cannot accept writes without its cache")
	errQueueFull   = errors.New("the write-behind queue is full; the flusher is not keeping up")
)

const (
	srcCache = "cache"
	srcDB    = "db"

	// fallbackSlots bounds database reads made because Redis failed: a
	// cache outage must not become an unbounded load test of the database.
	fallbackSlots = 50
	// lockStripes serialise write-behind writes per item (see writeBehind).
	lockStripes = 64
)

// instance is a running cache lab.
type instance struct {
	env labs.Env
	cfg config
	rdb *goredis.Client // env.Redis; a field so a test can hand it a failing client
	// clock is the time the instance decides by: entry expiry, the
	// database's simulated latency, load timeouts, the flusher's ticks.
	// Live labs run on the real clock; a check suite may hand in a manual
	// one (see redisTTL and activity).
	clock labs.Clock

	// acked[id-1] is the newest version of item id whose write has been
	// acknowledged: the yardstick for stale reads.
	acked []atomic.Int64

	flights  singleflight.Group // per instance, per key: never one global lock
	fallback chan struct{}

	// rng draws load-run items (zipf) and XFetch's early refreshes; a
	// check seeds it so that a grading draws the same numbers every time.
	rngMu sync.Mutex
	pcg   *rand.PCG
	rng   *rand.Rand
	zipf  *rand.Zipf

	stampedeMu sync.Mutex // one stampede demonstration at a time
	wb         *writeBehind

	hits, misses, dbReads, dbWrites, staleReads, redisErrors atomic.Int64
	earlyRefreshes, fillsRefused, lockTimeouts               atomic.Int64
	lastRedisLog                                             atomic.Int64 // unix ms, to rate-limit the event log

	closeOnce sync.Once
	closeErr  error

	// afterLoad, when set by a test, runs after a reader's database read and
	// before its cache fill: it lets a test place a write exactly there.
	afterLoad atomic.Pointer[func(id int)]
}

func newInstance(ctx context.Context, env labs.Env, cfg config) (*instance, error) {
	in := &instance{env: env, cfg: cfg, rdb: env.Redis, clock: env.Clocked(), acked: make([]atomic.Int64, CatalogueSize),
		fallback: make(chan struct{}, fallbackSlots)}
	for i := range in.acked {
		in.acked[i].Store(1)
	}
	seed := uint64(time.Now().UnixNano()) // randomness, not time: any value will do
	in.pcg = rand.NewPCG(seed, seed>>1|1)
	in.rng = rand.New(in.pcg)
	in.zipf = rand.NewZipf(in.rng, labs.ZipfS, 1, CatalogueSize-1)
	// Leftovers of an earlier run under this id (a crash, or the instance
	// this one replaces) would otherwise be served as cached items.
	if err := labs.DeleteKeys(ctx, env.Redis, env.Prefix); err != nil {
		return nil, fmt.Errorf("cache: clear old keys: %w", err)
	}
	if err := in.seed(ctx); err != nil {
		return nil, fmt.Errorf("cache: seed catalogue: %w", err)
	}
	if cfg.strategy == StrategyWriteBehind {
		wb, err := newWriteBehind(ctx, in)
		if err != nil {
			_ = in.dbDeleteRows(context.WithoutCancel(ctx))
			return nil, err
		}
		in.wb = wb
	}
	return in, nil
}

// dbReadCounter, carried in a context, counts the database reads made on
// behalf of one operation (a stampede), including a singleflight load that
// other readers shared.
type dbReadCounter struct{ n atomic.Int64 }

type counterKey struct{}

func (in *instance) countDBRead(ctx context.Context) {
	in.env.Metrics.Count("db_reads", 1)
	in.dbReads.Add(1)
	if c, ok := ctx.Value(counterKey{}).(*dbReadCounter); ok {
		c.n.Add(1)
	}
}

// redisError counts a Redis failure and logs it, at most once a second so
// an outage under load does not drown the event log.
func (in *instance) redisError(what string, err error) {
	in.env.Metrics.Count("redis_errors", 1)
	n := in.redisErrors.Add(1)
	now := in.now().UnixMilli()
	last := in.lastRedisLog.Load()
	if now-last >= 1000 && in.lastRedisLog.CompareAndSwap(last, now) {
		in.env.Metrics.Eventf("error", "Redis error on %s (%d so far): %v", what, n, err)
	}
}

// ack records that a write of version v has been acknowledged.
func (in *instance) ack(id int, v int64) {
	a := &in.acked[id-1]
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

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
		if err := in.rdb.Del(ctx, in.itemKey(id)).Err(); err != nil {
			in.redisError("deleting an undecodable entry", err)
		}
		in.miss()
		return in.load(ctx, id)
	default:
		if ctx.Err() != nil {
			return Item{}, "", ctx.Err()
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
	if f := in.afterLoad.Load(); f != nil {
		(*f)(id)
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
		won, err := in.rdb.SetNX(ctx, lock, token, in.redisTTL(ttl)).Result()
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
		if err := releaseScript.Run(rctx, in.rdb, []string{lock}, token).Err(); err != nil {
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

// writeResult is the answer to PUT items/{item}.
type writeResult struct {
	Item
	Strategy string `json:"strategy"`
	// Cache says what happened to the cache: deleted, updated, left to the
	// TTL, queued (write-behind), none, or the failure.
	Cache string `json:"cache"`
}

// write changes an item's price (and name) by the configured strategy and
// acknowledges the new version.
func (in *instance) write(ctx context.Context, id int, price int64, name *string) (writeResult, error) {
	if id < 1 || id > CatalogueSize {
		return writeResult{}, errNoItem
	}
	if in.cfg.strategy == StrategyWriteBehind {
		it, err := in.wb.write(ctx, id, price, name)
		if err != nil {
			return writeResult{}, err
		}
		in.ack(id, it.Version)
		return writeResult{Item: it, Strategy: in.cfg.strategy, Cache: "updated; write queued for the database"}, nil
	}
	it, err := in.dbWrite(ctx, id, price, name)
	if err != nil {
		return writeResult{}, err
	}
	// The database has committed: the write is acknowledged whatever
	// happens to the cache, and a cache failure is reported, not hidden.
	res := writeResult{Item: it, Strategy: in.cfg.strategy, Cache: "none"}
	switch {
	case in.cfg.strategy == StrategyCacheAside && in.cfg.invalidation == InvalidateDelete:
		res.Cache = "deleted"
		if err := in.cacheInvalidate(ctx, id, it.Version); err != nil {
			in.redisError("invalidation", err)
			res.Cache = "delete failed: " + err.Error() + "; readers may see the old value until the TTL"
		}
	case in.cfg.strategy == StrategyCacheAside:
		res.Cache = "left to the TTL"
	case in.cfg.strategy == StrategyWriteThrough:
		stored, err := in.cacheWrite(ctx, in.newEntry(it, 0))
		switch {
		case err != nil:
			in.redisError("write-through update", err)
			res.Cache = "update failed: " + err.Error() + "; readers may see the old value until the TTL"
		case !stored:
			res.Cache = "not updated: a newer version is already cached"
		default:
			res.Cache = "updated"
		}
	}
	in.ack(id, it.Version)
	return res, nil
}

// pick maps a load run's key to an item: a stable hash, so a run over K
// keys reads K items; an empty key draws from a Zipf distribution, so a
// few items are hot as in a real catalogue.
func (in *instance) pick(key string) int {
	if key == "" {
		in.rngMu.Lock()
		defer in.rngMu.Unlock()
		return int(in.zipf.Uint64()) + 1
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key)) // hash.Hash.Write never fails
	return int(h.Sum32()%CatalogueSize) + 1
}

// uniform draws from (0, 1] for XFetch.
func (in *instance) uniform() float64 {
	in.rngMu.Lock()
	defer in.rngMu.Unlock()
	return 1 - in.rng.Float64()
}

// reseed makes the instance's random draws repeatable.
func (in *instance) reseed(seed uint64) {
	in.rngMu.Lock()
	defer in.rngMu.Unlock()
	in.pcg.Seed(seed, seed>>1|1)
}

// now is the time on the instance's clock.
func (in *instance) now() time.Time { return in.clock.Now() }

// sleep waits d on the instance's clock, or until ctx ends. Inside an
// operation a manual clock's driver follows, it is one of its waits.
func (in *instance) sleep(ctx context.Context, d time.Duration) error {
	if a := activityOf(ctx); a != nil {
		return a.sleep(ctx, d)
	}
	return labs.Sleep(ctx, in.clock, d)
}

// withTimeout is context.WithTimeout on the instance's clock. On a manual
// clock the context ends when the clock passes d from now, and it has no
// Deadline: Redis and database clients read a context's deadline as the
// machine's time, and a manual clock's time is not that.
func (in *instance) withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, real := in.clock.(labs.RealClock); real {
		return context.WithTimeout(ctx, d)
	}
	inner, cancel := context.WithCancelCause(ctx)
	t := in.clock.NewTimer(d)
	go func() {
		select {
		case <-t.C():
			cancel(context.DeadlineExceeded)
		case <-inner.Done():
			t.Stop()
		}
	}()
	return clockTimeout{inner}, func() { cancel(context.Canceled) }
}

// clockTimeout says it timed out as context.WithTimeout's context does.
type clockTimeout struct{ context.Context }

func (c clockTimeout) Err() error {
	err := c.Context.Err()
	if err != nil && errors.Is(context.Cause(c.Context), context.DeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return err
}

// keyBackstop is how long Redis keeps a key after its life on a clock other
// than the real one has ended.
const keyBackstop = 10 * time.Minute

// redisTTL is the expiry Redis is given for a key that lives d on the
// instance's clock. On the real clock that is d: Redis expires cached items
// and locks as the lesson says. On a manual clock Redis's own time would
// decide by the machine's speed, so the clock decides instead (an entry
// carries its expiry and a read past it is a miss; a lock's waiters give up
// at their deadline) and Redis drops the key only long after, so that a
// grading that never closed its instance leaves nothing behind.
func (in *instance) redisTTL(d time.Duration) time.Duration {
	if _, real := in.clock.(labs.RealClock); real {
		return d
	}
	return d + keyBackstop
}

// Hit is one read for a load run.
func (in *instance) Hit(ctx context.Context, key string) (int, error) {
	_, err := in.read(ctx, in.pick(key))
	return statusOf(err), err
}

// statusOf is the HTTP status of a read or write's outcome.
func statusOf(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, errNoItem):
		return http.StatusNotFound
	case errors.Is(err, errOverloaded), errors.Is(err, errFillTimeout), errors.Is(err, errCacheDown),
		errors.Is(err, errQueueFull), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// State is what GET …/instances/{id} shows.
type State struct {
	Strategy       string  `json:"strategy"`
	Invalidation   string  `json:"invalidation"`
	Stampede       string  `json:"stampede"`
	FillGuard      string  `json:"fill_guard"`
	TTLMS          int64   `json:"ttl_ms"`
	DBLatencyMS    int64   `json:"db_latency_ms"`
	Items          int     `json:"items"`
	Hits           int64   `json:"hits"`
	Misses         int64   `json:"misses"`
	HitRatio       float64 `json:"hit_ratio"`
	DBReads        int64   `json:"db_reads"`
	DBWrites       int64   `json:"db_writes"`
	StaleReads     int64   `json:"stale_reads"`
	RedisErrors    int64   `json:"redis_errors"`
	EarlyRefreshes int64   `json:"early_refreshes"`
	FillsRefused   int64   `json:"fills_refused"`
	LockTimeouts   int64   `json:"lock_timeouts"`
	// WriteBehind is present for the write_behind strategy.
	WriteBehind *WriteBehindState `json:"write_behind,omitempty"`
}

// State reports the instance's counters since launch.
func (in *instance) State(ctx context.Context) (any, error) {
	s := State{Strategy: in.cfg.strategy, Invalidation: in.cfg.invalidation, Stampede: in.cfg.stampede,
		FillGuard: in.cfg.guard, TTLMS: in.cfg.ttl.Milliseconds(), DBLatencyMS: in.cfg.dbLatency.Milliseconds(),
		Items: CatalogueSize, Hits: in.hits.Load(), Misses: in.misses.Load(), DBReads: in.dbReads.Load(),
		DBWrites: in.dbWrites.Load(), StaleReads: in.staleReads.Load(), RedisErrors: in.redisErrors.Load(),
		EarlyRefreshes: in.earlyRefreshes.Load(), FillsRefused: in.fillsRefused.Load(), LockTimeouts: in.lockTimeouts.Load()}
	if n := s.Hits + s.Misses; n > 0 {
		s.HitRatio = float64(s.Hits) / float64(n)
	}
	if in.wb != nil {
		wbs, err := in.wb.state(ctx)
		if err != nil {
			return nil, err
		}
		s.WriteBehind = &wbs
	}
	return s, nil
}

// Close stops the flusher and removes the instance's keys and rows.
func (in *instance) Close(ctx context.Context) error {
	in.closeOnce.Do(func() {
		if in.wb != nil {
			in.wb.close()
		}
		in.closeErr = errors.Join(labs.DeleteKeys(ctx, in.env.Redis, in.env.Prefix), in.dbDeleteRows(ctx))
	})
	return in.closeErr
}
