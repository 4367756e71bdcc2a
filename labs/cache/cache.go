package cache

import (
	"context"
	"fmt"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// Design field values.
const (
	StrategyNone         = "none"
	StrategyCacheAside   = "cache_aside"
	StrategyWriteThrough = "write_through"
	StrategyWriteBehind  = "write_behind"

	InvalidateTTL    = "ttl"
	InvalidateDelete = "delete_on_write"

	StampedeNone         = "none"
	StampedeSingleflight = "singleflight"
	StampedeLock         = "lock"
	StampedeEarly        = "early_expiration"

	QueueMemory = "memory"
	QueueStream = "redis_stream"

	GuardNone    = "none"
	GuardVersion = "version"
)

// CatalogueSize is how many items New seeds: ids 1 to CatalogueSize.
const CatalogueSize = 1000

// Lab is the cache lab.
var Lab labs.Lab = lab{}

type lab struct{}

func (lab) Info() labs.Info {
	return labs.Info{
		ID:      "cache",
		Title:   "Cache",
		Summary: "A product catalogue in the database behind Redis: cache-aside, write-through and write-behind, invalidation, stampedes and lost writes.",
		Lesson:  "caching",
		Explain: "Each instance seeds a catalogue of 1,000 items (id, name, price, version) in the database, where every read " +
			"pays a deliberate delay (db_latency_ms), and puts a Redis cache in front of it. Reads follow the strategy: " +
			"cache-aside reads Redis and, on a true miss, reads the database and fills the cache with the TTL; a Redis failure " +
			"is not a miss: it is counted and the read falls back to the database through a small gate without filling. " +
			"Writes bump the item's version: cache-aside writes the database and deletes the key (or leaves it to the TTL), " +
			"write-through writes the database and then the cache, write-behind writes only the cache and queues the write " +
			"for a flusher. Every read is checked against the newest version acknowledged before it began, so stale reads " +
			"are counted, not guessed. When a hot key expires, the stampede mode decides how many of the waiting readers " +
			"reach the database: all of them, one per process (singleflight), one across processes (a Redis lock released " +
			"by compare-and-delete), or nobody notices because a reader refreshed the key early (XFetch).",
		Try: []string{
			"GET items/1 twice: the first read comes from the database (source db, about db_latency_ms), the second from the cache. Then run a load and read the hit ratio and database reads on the charts.",
			"With invalidation=ttl, GET items/7, PUT items/7 with {\"price\": 999}, and GET it again: the cache serves the old version and the Stale reads chart counts it until the TTL runs out. Switch to delete_on_write and repeat.",
			"POST stampede with stampede=none and count db_reads (close to 200); relaunch with singleflight, then with lock, and count again (1).",
			"Set fill_guard=none and db_latency_ms=2000, GET an uncached item and, while that read is still waiting (within a second), PUT it: the reader caches the row it read before the write, and the next GETs are stale until the TTL. With fill_guard=version the fill is refused.",
			"Switch to write_behind with flush_interval_ms=10000, PUT a few items, and POST crash-flusher before the flush: it lists the acknowledged writes the database never received. Relaunch with write_behind_queue=redis_stream and crash again: nothing is lost.",
			"Make Redis fail (PUT redis {\"down\": true}) and run a load of 2,000 at concurrency 100: with redis_errors fallback, database reads stay at 50 at a time and the rest get 503; relaunch with redis_errors miss (the module's code) and every read reaches the database. PUT redis {\"down\": false} to end it.",
			"With stampede=early_expiration and ttl_ms=2000, run a long load on a few keys: readers refresh hot keys shortly before they expire, so misses stay near zero.",
			"From a fresh instance, run 500 requests over 1,000 keys with key choice uniform and read the hit ratio (about 20%: nearly every key is new). Relaunch and run the same with zipf: about two reads in three hit, because a few items are hot, which is why real catalogues cache so well.",
		},
		Pokes: pokes(),
		Key:   &labs.KeyNumber{Label: "Hit ratio", Kind: labs.KeyRatio, Of: []string{"hits"}, Rest: []string{"misses"}},
		Charts: []labs.Chart{
			{Title: "Cache per 100 ms", Series: []string{"hits", "misses"}, Kind: "count"},
			{Title: "Database per 100 ms", Series: []string{"db_reads", "db_writes"}, Kind: "count"},
			{Title: "Stale reads", Series: []string{"stale_reads"}, Kind: "count"},
			{Title: "Read latency", Series: []string{"read_p50", "read_p99"}, Kind: "latency"},
			{Title: "Redis errors, database reads and evictions per 100 ms", Series: []string{"redis_errors", "db_reads", "evictions"}, Kind: "count"},
		},
	}
}

func (lab) Fields() []labs.Field {
	ttlLo, ttlHi := labs.Range(100, 3600000)
	dbLo, dbHi := labs.Range(0, 2000)
	flLo, flHi := labs.Range(50, 60000)
	miLo, miHi := labs.Range(0, CatalogueSize)
	return []labs.Field{
		{Name: "strategy", Label: "Strategy", Type: labs.Enum, Default: StrategyCacheAside,
			Options: []string{StrategyNone, StrategyCacheAside, StrategyWriteThrough, StrategyWriteBehind},
			Help: "none: every read goes to the database. cache_aside: read Redis, fill from the database on a miss. " +
				"write_through: a write updates the database, then the cache. write_behind: a write updates the cache and is flushed to the database later."},
		{Name: "ttl_ms", Label: "TTL", Type: labs.Int, Default: 30000, Min: ttlLo, Max: ttlHi, Unit: "ms",
			Help: "How long a cached item lives: the most staleness you accept when every other invalidation fails."},
		{Name: "invalidation", Label: "Invalidation (cache-aside)", Type: labs.Enum, Default: InvalidateDelete,
			Options: []string{InvalidateTTL, InvalidateDelete},
			Help:    "delete_on_write: after the database commit, delete the cached item. ttl: leave it; readers see the old value until it expires."},
		{Name: "stampede", Label: "Stampede protection", Type: labs.Enum, Default: StampedeNone,
			Options: []string{StampedeNone, StampedeSingleflight, StampedeLock, StampedeEarly},
			Help: "What concurrent misses on one key do. none: each reads the database. singleflight: one load per key in this process. " +
				"lock: one load per key across processes (SET NX PX, released by compare-and-delete). early_expiration: XFetch refreshes hot keys before they expire."},
		{Name: "db_latency_ms", Label: "Database read latency", Type: labs.Int, Default: 50, Min: dbLo, Max: dbHi, Unit: "ms",
			Help: "Added to every database read, half before the query and half after it, like a slow network path."},
		{Name: "db_write_latency_ms", Label: "Database write latency", Type: labs.Int, Default: 0, Min: dbLo, Max: dbHi, Unit: "ms",
			Help: "Added to every write a request makes to the database (cache-aside and write-through writes); a write-behind flush is not on any request's path."},
		{Name: "fill_guard", Label: "Fill guard", Type: labs.Enum, Default: GuardVersion,
			Options: []string{GuardNone, GuardVersion},
			Help: "version: each write leaves the item's committed version in Redis and a fill older than it is refused, closing the " +
				"delete-versus-stale-fill race. none: fills and write-through updates are plain SETs, and an old value can stick until its TTL."},
		{Name: "write_behind_queue", Label: "Write-behind queue", Type: labs.Enum, Default: QueueMemory,
			Options: []string{QueueMemory, QueueStream},
			Help: "memory: queued writes live in the app process and die with the flusher. redis_stream: they are added to a Redis stream " +
				"in the same step as the cache update and acknowledged only after the database commit, so a crashed flusher's successor replays them."},
		{Name: "flush_interval_ms", Label: "Flush interval", Type: labs.Int, Default: 500, Min: flLo, Max: flHi, Unit: "ms",
			Help: "How often the write-behind flusher writes queued writes to the database: the data-loss window of the memory queue."},
		{Name: "max_items", Label: "Memory budget", Type: labs.Int, Default: 0, Min: miLo, Max: miHi, Unit: "items",
			Help: "0: no budget. Otherwise the cache holds at most this many items; storing one more evicts the least recently used, as Redis does under maxmemory with allkeys-lru."},
		{Name: "redis_errors", Label: "On a Redis error", Type: labs.Enum, Default: RedisErrorsFallback,
			Options: []string{RedisErrorsFallback, RedisErrorsMiss},
			Help: "fallback: a Redis error is not a miss; the read goes to the database through a gate of 50 at a time (beyond it, 503) and fills nothing. " +
				"miss: the module's cache-aside code, which takes any error for a miss: during a Redis outage every read goes to the database and tries to fill the failing cache, a stampede on the database."},
	}
}

// Check rejects a write-behind design whose cached items can expire before
// the flusher has written them: a reader would then load the older database
// row while the newer write waits in the queue.
func (lab) Check(d labs.Design) labs.FieldErrors {
	if d.String("strategy") == StrategyWriteBehind && d.Int("ttl_ms") < 2*d.Int("flush_interval_ms") {
		return labs.FieldErrors{"ttl_ms": fmt.Sprintf(
			"With write_behind the TTL must be at least twice flush_interval_ms (%d ms), or cached writes expire before they reach the database.",
			2*d.Int("flush_interval_ms"))}
	}
	return nil
}

// config is a design read into typed fields once.
type config struct {
	strategy     string
	ttl          time.Duration
	invalidation string
	stampede     string
	dbLatency    time.Duration
	guard        string
	queue        string
	flush        time.Duration
	redisErrors  string
	maxItems     int
	dbWrite      time.Duration
}

func configOf(d labs.Design) config {
	return config{
		strategy:     d.String("strategy"),
		ttl:          time.Duration(d.Int("ttl_ms")) * time.Millisecond,
		invalidation: d.String("invalidation"),
		stampede:     d.String("stampede"),
		dbLatency:    time.Duration(d.Int("db_latency_ms")) * time.Millisecond,
		guard:        d.String("fill_guard"),
		queue:        d.String("write_behind_queue"),
		flush:        time.Duration(d.Int("flush_interval_ms")) * time.Millisecond,
		redisErrors:  d.String("redis_errors"),
		maxItems:     d.Int("max_items"),
		dbWrite:      time.Duration(d.Int("db_write_latency_ms")) * time.Millisecond,
	}
}

func (lab) New(ctx context.Context, env labs.Env, d labs.Design) (labs.Instance, error) {
	return newInstance(ctx, env, configOf(d))
}
