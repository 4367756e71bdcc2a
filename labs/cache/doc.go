// Package cache is the cache lab: a product catalogue in the database behind
// a Redis cache, with the read and write strategies, invalidation, stampede
// protection and write-behind durability of the caching lesson, each a knob
// a learner can switch and watch.
//
// The lab measures what it claims. A read is stale when it returns an older
// version than the newest write acknowledged before the read began; the lab
// tracks those versions per item and counts every stale read it serves. A
// stampede reports the database reads that really happened, and a flusher
// crash reports the acknowledged writes the database really lacks.
//
// # The lab's HTTP contract
//
// Paths are relative to the instance (/api/labs/cache/instances/{id} in
// the app). A learner's own catalogue service serves the same routes at its
// root, and the catalogue exercise's checks grade either one through these
// routes alone (see labs.Target). Items are 1 to 1000; an item that is not
// a whole number is a 400 and one outside the catalogue a 404, both naming
// "item". Errors have the API's one shape, {"error": {"code", "message",
// "fields"}}.
//
//	GET /items/{item}
//	    One read by the design's strategy: {"id", "name", "price" (cents),
//	    "version", "source": "cache" or "db", "stale", "latency_ms"}.
//	    "version" rises by one with every write of the item; "stale" says
//	    the read returned an older version than a write acknowledged before
//	    it began. 503 when the design gave up (Redis failing and the
//	    database fallback full, a lock holder that never filled the cache),
//	    500 when Redis or the database failed (the log has why).
//	PUT /items/{item}   {"price": cents, "name": optional}
//	    One write, acknowledged when the answer comes: {"id", "name",
//	    "price", "version", "strategy", "cache"} ("cache" says what
//	    happened to the cached copy). price is a whole number from 0 to
//	    1,000,000,000 (a 422 naming "price" otherwise); name, when given,
//	    1 to 100 characters. A body that is not one JSON object of these
//	    fields is a 400 naming "body" or the unknown field.
//	POST /stampede[?item=N]
//	    Deletes the item's cached copy (item 1 by default) and releases 200
//	    reads of it at once: {"item", "stampede", "reads", "db_reads"
//	    (the database reads they caused), "p50_ms", "p99_ms", "sources",
//	    "errors", "note"}. 409 while another one runs.
//	POST /crash-flusher
//	    The lab's demonstration, not graded: kills the write-behind flusher
//	    and starts another; {"queue", "pending", "lost", "lost_count",
//	    "message"}. 409 naming "strategy" unless the strategy is
//	    write_behind.
//	GET /db/items/{item}
//	    The item's row as the database holds it, read without the cache,
//	    without the simulated latency and without counting a database read:
//	    {"id", "name", "price", "version"}.
//	PUT /redis   {"down": true|false}
//	    Makes the instance's Redis fail (every command fails at once, as
//	    a Redis that refuses connections does) or recover; answers
//	    {"down"}. A body without "down" is a 422 naming it. What reads do
//	    meanwhile is the design's redis_errors: fallback (a gate of 50
//	    database reads at a time, the rest 503) or miss (the module's
//	    code: every read goes to the database).
//	GET /stats
//	    Counters since the instance started: {"hits", "misses",
//	    "hit_ratio", "db_reads", "db_writes", "stale_reads",
//	    "redis_errors", "redis_down", "cached_items", "peak_cached_items"
//	    and "evictions" (max_items, the memory budget), …, "write_behind": {"queue", "flush_interval_ms",
//	    "pending", "flushed", "flush_passes", …}} ("write_behind" only for
//	    that strategy; "flush_passes" counts the flusher's passes).
//
// What the checks read: the version, price and source of reads and writes;
// "stale_reads", "hits", "misses" and "db_reads" from GET /stats; the
// stampede's "db_reads", "errors" and "p99_ms"; the rows of GET
// /db/items/{item}; and, for write-behind, "pending", "queue",
// "flush_interval_ms" and "flush_passes" (a service without "write_behind"
// is given 500 ms per flush). The crash check restarts the design through
// its target (labs.Restart): a built-in design halts as a killed process
// does, its flusher and what it held in memory gone, and starts again on
// its rows and Redis keys. A service that writes through to the database
// passes without a restart; one that queues writes is skipped, with a
// sentence, when its target cannot restart it. A built-in design runs on
// the suite's clock, which only moves when every goroutine of the requests
// in flight waits for it: the requests' context carries the suite's count
// of them (see drive), which an in-process target hands to the instance's
// handler, so no route is needed for it. The check that places a write
// inside a read (the stale-fill race) needs that clock, and on a service on
// real time it is left out and the message says so.
package cache
