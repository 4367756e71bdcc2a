package cache

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labhttp"
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
	// deadRedis fails every command; redis() hands it out while redisDown
	// (PUT /redis) makes the lab's Redis fail.
	deadRedis *goredis.Client
	redisDown atomic.Bool
	// mem is the memory budget (max_items).
	mem *memory
	// clock is the time the instance decides by: entry expiry, the
	// database's simulated latency, load timeouts, the flusher's ticks.
	// Live labs run on the real clock; a check suite may hand in a manual
	// one (see redisTTL and activity).
	clock labs.Clock
	// router serves the lab's routes (see doc.go), built once.
	router *labhttp.Router

	// acked[id-1] is the newest version of item id whose write has been
	// acknowledged: the yardstick for stale reads.
	acked []atomic.Int64

	flights  singleflight.Group // per instance, per key: never one global lock
	fallback chan struct{}

	// rng draws load-run items (zipf) and XFetch's early refreshes. On a
	// manual clock it starts from gradingSeed, so that a grading draws the
	// same numbers every time.
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
	stopOnce  sync.Once
	closeErr  error
}

// gradingSeed seeds the random draws of an instance on a manual clock.
const gradingSeed = 7

func newInstance(ctx context.Context, env labs.Env, cfg config) (*instance, error) {
	in := &instance{env: env, cfg: cfg, rdb: env.Redis, deadRedis: newDeadRedis(), mem: newMemory(cfg.maxItems), clock: env.Clocked(), acked: make([]atomic.Int64, CatalogueSize),
		fallback: make(chan struct{}, fallbackSlots)}
	seed := uint64(time.Now().UnixNano()) // randomness, not time: any value will do
	if _, manual := env.Clock.(*labs.ManualClock); manual {
		seed = gradingSeed
	}
	in.pcg = rand.NewPCG(seed, seed>>1|1)
	in.rng = rand.New(in.pcg)
	in.zipf = rand.NewZipf(in.rng, labs.ZipfS, 1, CatalogueSize-1)
	in.router = in.routes()
	if err := in.open(ctx); err != nil {
		_ = in.deadRedis.Close()
		return nil, err
	}
	if cfg.redisErrors == RedisErrorsMiss {
		env.Metrics.Eventf("warn", "redis_errors miss: the module's code; a Redis error is taken for a miss, so a Redis outage sends every read to the database")
	}
	if cfg.strategy == StrategyWriteBehind {
		wb, err := newWriteBehind(ctx, in)
		if err != nil {
			_ = in.dbDeleteRows(context.WithoutCancel(ctx))
			_ = in.deadRedis.Close()
			return nil, err
		}
		in.wb = wb
	}
	return in, nil
}

// open finds the instance's catalogue or seeds a fresh one. An instance
// started again under the same id after a halt (a restart, see Halt)
// finds its rows and its Redis keys as a restarted process finds its
// database and cache, and takes them over: the newest committed versions
// become its yardstick for stale reads. Otherwise leftovers under the id
// (an instance whose Close failed) are cleared and 1,000 items seeded.
func (in *instance) open(ctx context.Context) error {
	for i := range in.acked {
		in.acked[i].Store(1)
	}
	if err := in.env.CreateTables(ctx, createTable); err != nil {
		return fmt.Errorf("cache: create the catalogue table: %w", err)
	}
	committed, err := in.dbVersions(ctx)
	if err != nil {
		return fmt.Errorf("cache: read the catalogue: %w", err)
	}
	if len(committed) == CatalogueSize {
		for id, v := range committed {
			in.acked[id-1].Store(v)
		}
		return nil
	}
	if err := labs.DeleteKeys(ctx, in.env.Redis, in.env.Prefix); err != nil {
		return fmt.Errorf("cache: clear old keys: %w", err)
	}
	if err := in.seed(ctx); err != nil {
		return fmt.Errorf("cache: seed catalogue: %w", err)
	}
	return nil
}

// Halt stops the instance as a killed process stops: the write-behind
// flusher dies mid-whatever with the writes it held in memory, and the
// rows and Redis keys stay for the instance started after it (a
// labs.Halter: checks restart a design through their target).
func (in *instance) Halt(context.Context) error {
	if in.wb != nil {
		in.wb.close()
	}
	return nil
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
	case errors.Is(err, errOverloaded), errors.Is(err, errFillTimeout), errors.Is(err, errCacheDown), errors.Is(err, errExpire),
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
	// RedisDown says the lab is making Redis fail (PUT /redis).
	RedisDown       bool   `json:"redis_down"`
	RedisErrorsMode string `json:"redis_errors_mode"`
	// CachedItems counts the items cached now, PeakCachedItems the most at
	// once, Evictions those dropped to keep within max_items.
	CachedItems     int   `json:"cached_items"`
	PeakCachedItems int   `json:"peak_cached_items"`
	Evictions       int64 `json:"evictions"`
	// WriteBehind is present for the write_behind strategy.
	WriteBehind *WriteBehindState `json:"write_behind,omitempty"`
}

// State reports the instance's counters since launch.
func (in *instance) State(ctx context.Context) (any, error) {
	s := State{Strategy: in.cfg.strategy, Invalidation: in.cfg.invalidation, Stampede: in.cfg.stampede,
		FillGuard: in.cfg.guard, TTLMS: in.cfg.ttl.Milliseconds(), DBLatencyMS: in.cfg.dbLatency.Milliseconds(),
		Items: CatalogueSize, Hits: in.hits.Load(), Misses: in.misses.Load(), DBReads: in.dbReads.Load(),
		DBWrites: in.dbWrites.Load(), StaleReads: in.staleReads.Load(), RedisErrors: in.redisErrors.Load(),
		EarlyRefreshes: in.earlyRefreshes.Load(), FillsRefused: in.fillsRefused.Load(), LockTimeouts: in.lockTimeouts.Load(),
		RedisDown: in.redisDown.Load(), RedisErrorsMode: in.cfg.redisErrors}
	s.CachedItems, s.PeakCachedItems, s.Evictions = in.mem.usage(in.now())
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

// Release stops the flusher and leaves the keys and rows (the queued
// writes among them) to the replica that holds the instance now.
func (in *instance) Release(context.Context) error {
	in.stopWork()
	return nil
}

func (in *instance) stopWork() {
	in.stopOnce.Do(func() {
		if in.wb != nil {
			in.wb.close()
		}
	})
}

// Close stops the flusher and removes the instance's keys and rows.
func (in *instance) Close(ctx context.Context) error {
	in.closeOnce.Do(func() {
		in.stopWork()
		in.closeErr = errors.Join(labs.DeleteKeys(ctx, in.env.Redis, in.env.Prefix), in.dbDeleteRows(ctx))
		_ = in.deadRedis.Close() // it never connected; nothing to report
	})
	return in.closeErr
}
