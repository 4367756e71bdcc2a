package cache

import (
	"fmt"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The suite's sizes. Each check fixes the database's simulated read latency
// itself: db_latency_ms stands for the database a learner is given, not for
// a choice of their design, and a learner's 2 s would make the suite run
// for minutes.
//
// Every check reaches the design through its target's routes only (the
// contract in doc.go). A built-in design runs on a manual clock that the
// check moves itself (see drive): a TTL runs out, a load times out or the
// flusher ticks only when that clock says so, and it moves on only when
// every goroutine of the check is waiting for it. A verdict is then a
// property of the design, the same on an idle and on a loaded grading
// machine. A service runs on real time, and the check waits instead.
const (
	// No stale read: items read into the cache, repriced and read back, and
	// reads whose cache fill lands after a write.
	staleLatencyMS = 10
	staleFirst     = 101
	staleItems     = 10
	raceFirst      = 121
	raceItems      = 3
	// raceWriteAt is when, after a read of an uncached item began, the
	// race writes it: past half the database latency, when the reader has
	// read the row, and before the end, when it fills the cache.
	raceWriteAt = staleLatencyMS * time.Millisecond * 3 / 4

	// Hit ratio. The reads are drawn from a Zipf distribution (s = 1.1
	// over 1,000 items) with a fixed seed and come in batches of 200 at one
	// instant every 100 ms of the clock (2,000 reads/s), so the hits a
	// design scores are the same in every grading. In a batch each item's
	// first read comes before its repeats: reads of different items never
	// meet, and a repeat at the same instant finds what the first read
	// left, so the batch can run at once and still decide the same way
	// every time. A cache that keeps every item it has read (a TTL longer
	// than the run) serves 1,756 of the 2,000 reads that follow the
	// 1,000-read warm-up (87.8%): the long tail keeps producing first
	// reads. The requirement's 80% leaves room for a TTL a little shorter
	// than the run: 800 ms passes (80.6%), 700 ms does not (78.8%), and a
	// design without a cache (0%) or with a 200 ms TTL (64.3%) is far
	// below. The database answers at once: its latency would only delay a
	// miss, not make one.
	hitLatencyMS = 0
	hitWarmReads = 1000
	hitReads     = 2000
	hitBatch     = 200 // reads at one instant, and per point of the chart
	hitBatchGap  = 100 * time.Millisecond
	hitSeed      = 20240611
	minHitRatio  = 0.80

	// Stampede: 200 readers arrive at the same instant of the clock, and
	// the first one's database read takes 50 ms of it, so every other
	// reader arrives while that read is in flight.
	stampedeLatencyMS = 50
	maxStampedeReads  = 1

	// Crash: writes to a few items, the crash at the instant of the last
	// one, before any flush; then the new flusher's first pass and this
	// many more flush intervals for a write it could not apply at once.
	crashFirst       = 201
	crashItems       = 6
	crashWrites      = 12
	crashRetryPasses = 2
	// defaultFlush is the flush interval waited for a service that does
	// not say its own in GET /stats.
	defaultFlush = 500 * time.Millisecond
)

// clockStart is where each check's clock starts. Nothing depends on the
// date; a fixed one keeps entry expiries the same in every grading.
var clockStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// The checks' names, as the card and the references use them.
const (
	chkStale    = "no stale read after a write"
	chkHit      = "hit ratio on a Zipf workload"
	chkStampede = "stampede reaches the database at most once"
	chkCrash    = "acknowledged writes survive a flusher crash"
)

// Exercises are the cache lab's graded tasks.
func (lab) Exercises() []labs.Exercise {
	return []labs.Exercise{{
		ID:    "cache-catalogue",
		Lab:   "cache",
		Step:  1,
		Title: "A product catalogue that never shows an old price",
		Card: []string{
			"After a price change is acknowledged, no reader sees the old price.",
			"Under a Zipf-distributed read workload, at least 80% of reads are served from the cache.",
			"When a hot item expires, at most one read per item reaches the database: a stampede is absorbed.",
			"An acknowledged write survives a crash of the process that writes it back to the database.",
		},
		Scale: "Time is the lab's own clock, which the grader moves itself: a cached item expires, a load times out " +
			"and the flusher writes back only when that clock reaches the moment, and the clock moves on only once " +
			"every reader is waiting for it. How fast or busy the grading machine is changes nothing: the same design " +
			"gets the same score every time. The hit ratio is measured on 2,000 Zipf-distributed reads, 200 at a time every " +
			"100 ms of that clock (2,000 reads/s, so 1 s of reads), after a 1,000-read warm-up; the stampede is 200 readers " +
			"arriving at the same instant while the first database read takes 50 ms; the crash lands at the instant of " +
			"the last acknowledged write, before any flush. Each check sets the database's simulated read latency itself " +
			"(0 to 50 ms, whatever db_latency_ms says): it stands for the database you were given, not for a choice of your design.",
		Hint: "Read the caching lesson: invalidation on write and the delete-versus-stale-fill race, " +
			"stampede protection, and the data-loss window of write-behind.",
		NeedsDB: true,
		Checks: []labs.Check{
			{Name: chkStale, Points: 25, Run: checkNoStaleRead,
				Requirement: "Once a price change is acknowledged, every read returns the new price: " +
					"10 cached items repriced and read back at once, and 3 reads whose cache fill lands just after a write, give 0 old prices."},
			{Name: chkHit, Points: 20, Run: checkHitRatio,
				Requirement: fmt.Sprintf("After a %s-read warm-up, at least %.0f%% of %s Zipf-distributed reads (s = 1.1 over the %s items, "+
					"%d every %d ms of the lab's clock) are served from the cache.",
					labs.Thousands(hitWarmReads), minHitRatio*100, labs.Thousands(hitReads), labs.Thousands(CatalogueSize), hitBatch, hitBatchGap.Milliseconds())},
			{Name: chkStampede, Points: 25, Run: checkStampede,
				Requirement: fmt.Sprintf("When a hot item's cached copy is gone and %d readers ask for it at the same instant, at most %d read reaches the database.",
					stampedeReads, maxStampedeReads)},
			{Name: chkCrash, Points: 30, Run: checkCrash,
				Requirement: fmt.Sprintf("Every one of %d acknowledged writes to %d items is in the database after the process that writes "+
					"them back crashes right after the last acknowledgement, before any flush, and a new one takes over "+
					"(its first pass, or the %d flush intervals after it).", crashWrites, crashItems, crashRetryPasses)},
		},
		References: references(),
	}, launchExercise(), inventoryExercise()}
}

// references are the designs whose verdicts are known: the good designs
// pass every check, each classic mistake fails the checks named. Write-behind
// with the durable queue is as good as cache-aside here: its write updates
// the cache, its reads are cache-aside reads, and the stream outlives the
// flusher.
func references() []labs.Reference {
	return []labs.Reference{
		{Name: "cache-aside", Design: labs.Design{"strategy": StrategyCacheAside, "invalidation": InvalidateDelete,
			"fill_guard": GuardVersion, "stampede": StampedeLock}},
		{Name: "cache-aside-singleflight", Design: labs.Design{"strategy": StrategyCacheAside, "invalidation": InvalidateDelete,
			"fill_guard": GuardVersion, "stampede": StampedeSingleflight}},
		{Name: "write-behind-stream", Design: labs.Design{"strategy": StrategyWriteBehind, "write_behind_queue": QueueStream,
			"stampede": StampedeLock}},
		{Name: "ttl-invalidation", Design: labs.Design{"strategy": StrategyCacheAside, "invalidation": InvalidateTTL,
			"stampede": StampedeSingleflight}, Fails: []string{chkStale}},
		{Name: "no-fill-guard", Design: labs.Design{"strategy": StrategyCacheAside, "invalidation": InvalidateDelete,
			"fill_guard": GuardNone, "stampede": StampedeLock}, Fails: []string{chkStale}},
		{Name: "no-cache", Design: labs.Design{"strategy": StrategyNone}, Fails: []string{chkHit, chkStampede}},
		// Just short of the hit ratio (78.8%): on a real clock its verdict
		// would follow the machine's speed.
		{Name: "short-ttl", Design: labs.Design{"strategy": StrategyCacheAside, "ttl_ms": 700,
			"stampede": StampedeSingleflight}, Fails: []string{chkHit}},
		{Name: "no-stampede-protection", Design: labs.Design{"strategy": StrategyCacheAside, "stampede": StampedeNone},
			Fails: []string{chkStampede}},
		{Name: "memory-queue", Design: labs.Design{"strategy": StrategyWriteBehind, "write_behind_queue": QueueMemory,
			"stampede": StampedeLock}, Fails: []string{chkCrash}},
		// A short flush interval does not save the memory queue: the
		// crash lands before the flusher's next tick however fast it ticks.
		{Name: "memory-queue-fast-flush", Design: labs.Design{"strategy": StrategyWriteBehind, "write_behind_queue": QueueMemory,
			"flush_interval_ms": 50, "stampede": StampedeLock}, Fails: []string{chkCrash}},
	}
}
