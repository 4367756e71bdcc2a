package cache

import (
	"fmt"
	"maps"

	"github.com/sdworkbook/workbook/labs"
)

// Check names of the ladder's higher rungs, as the references name them.
const (
	chkLaunchHits     = "hit ratio during the launch"
	chkLaunchBudget   = "within the memory budget"
	chkLaunchStampede = "the launch item's expiry reaches the database once"
	chkRedisOutage    = "a Redis outage does not stampede the database"
	chkFastAck        = "writes acknowledged within 5 ms"
	chkCoalesced      = "the database takes few row writes"
)

// launchExercise is step 2: a launch under a memory budget, with the hot
// item's expiry and a Redis outage to survive.
func launchExercise() labs.Exercise {
	return labs.Exercise{
		ID: "cache-launch", Lab: "cache", Step: 2,
		Title:   "Launch day: one hot product, a small cache, a shaky Redis",
		NeedsDB: true,
		Card: []string{
			fmt.Sprintf("A new product (item %d) takes a third of all reads on launch day; the rest follow the catalogue's usual Zipf pattern.", launchItem),
			fmt.Sprintf("The cache's memory budget is %d items: it may never hold more at once.", launchBudget),
			fmt.Sprintf("Still, at least %.0f%% of reads are served from the cache.", 100*minLaunchHits),
			"When the launch item's cached copy expires under 200 readers at once, at most one read reaches the database.",
			fmt.Sprintf("When Redis fails, the database is not stampeded: 200 readers at once put at most %d reads on it.", maxOutageDBReads),
		},
		Scale: "Time is the lab's own clock, as in the first step: the reads come 200 at a time every 100 ms of it (2,000 reads/s) after a 1,000-read warm-up, " +
			"and items read at the same instant count as used at the same moment (the lower id is evicted first), so every grading evicts the same items. " +
			"The memory budget counts items rather than bytes: every item is about the same size.",
		Hint: "A budget without eviction is only a TTL, and a short TTL throws away the hot items too; read about LRU eviction (Redis's maxmemory with allkeys-lru) in the caching lesson. " +
			"Then read the module's cache-aside code: what does it do when the GET itself fails?",
		Checks: []labs.Check{
			{Name: chkLaunchHits, Points: 25, Run: checkLaunchHits,
				Requirement: fmt.Sprintf("After a %s-read warm-up, at least %.0f%% of %s launch reads (one in %d of item %d, the rest Zipf over the catalogue) are served from the cache.",
					labs.Thousands(hitWarmReads), 100*minLaunchHits, labs.Thousands(hitReads), launchShare, launchItem)},
			{Name: chkLaunchBudget, Points: 25, Run: checkLaunchBudget,
				Requirement: fmt.Sprintf("Through the same %s reads, the cache never holds more than %d items at once.", labs.Thousands(hitWarmReads+hitReads), launchBudget)},
			{Name: chkLaunchStampede, Points: 20, Run: checkLaunchStampede,
				Requirement: fmt.Sprintf("When item %d's cached copy is gone and %d readers ask for it at the same instant, at most %d read reaches the database.", launchItem, stampedeReads, maxStampedeReads)},
			{Name: chkRedisOutage, Points: 30, Run: checkRedisOutage,
				Requirement: fmt.Sprintf("With Redis failing (PUT /redis {\"down\": true}), %d readers of uncached items arriving at once put at most %d reads on the database; the others may be refused (503).",
					outageReaders, maxOutageDBReads)},
		},
		References: launchReferences(),
	}
}

// launchGood evicts the least recently used item beyond the budget, lets
// one reader load an expired item, and treats a Redis error as no reason
// to read the database unbounded.
func launchGood() labs.Design {
	return labs.Design{"strategy": StrategyCacheAside, "invalidation": InvalidateDelete, "fill_guard": GuardVersion,
		"stampede": StampedeLock, "max_items": launchBudget, "redis_errors": RedisErrorsFallback}
}

func launchReferences() []labs.Reference {
	bad := func(name string, changes labs.Design, fails ...string) labs.Reference {
		d := launchGood()
		maps.Copy(d, changes)
		return labs.Reference{Name: name, Design: d, Fails: fails}
	}
	return []labs.Reference{
		{Name: "good", Design: launchGood()},
		bad("singleflight", labs.Design{"stampede": StampedeSingleflight}),
		bad("no memory budget", labs.Design{"max_items": 0}, chkLaunchBudget),
		bad("a short TTL instead of a budget", labs.Design{"max_items": 0, "ttl_ms": 300}, chkLaunchBudget),
		bad("the shortest TTL instead of a budget", labs.Design{"max_items": 0, "ttl_ms": 100}, chkLaunchHits),
		bad("a budget of 20 items", labs.Design{"max_items": 20}, chkLaunchHits),
		bad("no stampede protection", labs.Design{"stampede": StampedeNone}, chkLaunchStampede),
		bad("the module's cache (redis_errors miss)", labs.Design{"redis_errors": RedisErrorsMiss}, chkRedisOutage),
		bad("no cache", labs.Design{"strategy": StrategyNone}, chkLaunchHits, chkLaunchStampede, chkRedisOutage),
	}
}

// inventoryExercise is step 3: many writes, acknowledged fast, never lost,
// and not one database write each.
func inventoryExercise() labs.Exercise {
	return labs.Exercise{
		ID: "cache-inventory", Lab: "cache", Step: 3,
		Title:   "Inventory counts: fast writes that are never lost",
		NeedsDB: true,
		Card: []string{
			fmt.Sprintf("Stock levels change 500 times a second over %d hot items; the database takes %d ms per write.", invItems, invWriteMS),
			fmt.Sprintf("A write is acknowledged within %d ms.", invAckMS),
			"An acknowledged write is never lost, even when the process that writes it back to the database crashes.",
			fmt.Sprintf("The database is spared: %s writes to %d items cost it at most %d row writes.", labs.Thousands(invBatches*invItems), invItems, invMaxRows),
		},
		Scale: "Time is the lab's own clock, as in the first step: the 1,000 writes come 50 at a time every 100 ms of it, and a database write takes exactly 20 ms of it, " +
			"so an acknowledgement's time does not depend on the grading machine. The crash is the first step's: right after the last acknowledgement, before any flush.",
		Hint: "Writing through to the database makes every write wait for it; writing behind makes it fast, and the queue then decides both what a crash loses and how many writes to one item meet in one flush. " +
			"Read the caching lesson's write-behind section and work out how many row writes one flush costs.",
		Checks: []labs.Check{
			{Name: chkFastAck, Points: 30, Run: checkFastAck,
				Requirement: fmt.Sprintf("With the database taking %d ms per write, %d writes one after another are each acknowledged within %d ms of the lab's clock.", invWriteMS, invAckWrites, invAckMS)},
			{Name: chkCrash, Points: 40, Run: checkCrash,
				Requirement: fmt.Sprintf("Every one of %d acknowledged writes to %d items is in the database after the process that writes them back crashes right after the last acknowledgement, before any flush, and a new one takes over.", crashWrites, crashItems)},
			{Name: chkCoalesced, Points: 30, Run: checkCoalesced,
				Requirement: fmt.Sprintf("%s writes to %d items, 50 every 100 ms of the lab's clock, cost the database at most %d row writes, counted until two flush intervals after the last write.", labs.Thousands(invBatches*invItems), invItems, invMaxRows)},
		},
		References: inventoryReferences(),
	}
}

// inventoryGood writes behind through a durable queue and flushes every
// 500 ms: 50 items' newest writes, 4 times in the 2 s.
func inventoryGood() labs.Design {
	return labs.Design{"strategy": StrategyWriteBehind, "write_behind_queue": QueueStream, "flush_interval_ms": 500, "stampede": StampedeLock}
}

func inventoryReferences() []labs.Reference {
	bad := func(name string, changes labs.Design, fails ...string) labs.Reference {
		d := inventoryGood()
		maps.Copy(d, changes)
		return labs.Reference{Name: name, Design: d, Fails: fails}
	}
	return []labs.Reference{
		{Name: "good", Design: inventoryGood()},
		bad("write-through", labs.Design{"strategy": StrategyWriteThrough}, chkFastAck, chkCoalesced),
		bad("cache-aside", labs.Design{"strategy": StrategyCacheAside}, chkFastAck, chkCoalesced),
		bad("memory queue", labs.Design{"write_behind_queue": QueueMemory}, chkCrash),
		bad("flush every 50 ms", labs.Design{"flush_interval_ms": 50}, chkCoalesced),
	}
}
