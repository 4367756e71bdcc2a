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
