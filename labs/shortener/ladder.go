package shortener

import (
	"fmt"
	"maps"

	"github.com/sdworkbook/workbook/labs"
)

// Check names of the ladder's higher rungs, as the references name them.
const (
	chkViralMemory = "the viral link is answered from memory"
	chkNearBudget  = "the near cache stays within its budget"
	chkRedisShare  = "Redis takes few of the redirects"
	chkClicksKept  = "a crash loses few clicks"
	chkClickWrites = "counting clicks costs Redis few writes"
	chkFewMoved    = "growing to 5 shards moves few links"
	chkBalanced    = "the 5 shards stay balanced"
	chkRingSize    = "the ring fits every router"
)

// viralExercise is step 2: a link goes viral; its redirects must skip the
// network, within a near-cache budget, and its clicks must be counted.
func viralExercise() labs.Exercise {
	return labs.Exercise{
		ID: "shortener-viral", Lab: "shortener", Step: 2,
		Title:   "A link goes viral: fast redirects from a small near cache, and every click counted",
		NeedsDB: true,
		Card: []string{
			fmt.Sprintf("One link takes a third of 2,000 redirects a second; the rest spread over the 1,000 demo links (Zipf, exponent %.1f).", viralZipfS),
			fmt.Sprintf("Its p99 must not include a network round trip: at least %.0f%% of its redirects are answered from process memory.", 100*minViralLocal),
			fmt.Sprintf("Each redirect server may spend process memory on at most %d cached codes.", nearBudget),
			fmt.Sprintf("Redis and the database answer at most %.0f%% of all redirects: the near cache answers the rest.", 100-100*minAllLocal),
			fmt.Sprintf("Clicks are counted: a crash of the redirect process at its worst moment loses at most %d of 6,000 (2%%), and no click is counted twice.", maxLostClicks),
			fmt.Sprintf("Counting them costs Redis at most %d writes a second.", maxClickWrites),
		},
		Scale: "Time is the lab's own clock, which the grader moves itself: 20 redirects every 10 ms of it, one after another, for 3 s (6,000 redirects), " +
			"so which code the near cache evicts, when a cached copy expires and when clicks are pushed are the same on every grading. " +
			"Which tier answered each redirect is read from its X-Served-By header, never timed: a redirect from process memory takes microseconds, one from Redis a network round trip. " +
			"The crash (POST crash) comes at the moment the process holds the most clicks not yet in Redis; Redis and the database survive it.",
		Hint: "Read the URL shortener case study on the near cache and on click analytics. A near cache only has to hold what is hot, and its TTL decides how often a hot code goes back to Redis; " +
			"work out how many clicks one push interval holds at 2,000 a second, and how many pushes a second Redis takes.",
		Checks: []labs.Check{
			{Name: chkViralMemory, Points: 20, Run: checkViralMemory,
				Requirement: fmt.Sprintf("Of the viral link's 2,000 redirects, at least %.0f%% are answered from process memory (X-Served-By: local).", 100*minViralLocal)},
			{Name: chkNearBudget, Points: 20, Run: checkNearBudget,
				Requirement: fmt.Sprintf("Through the 6,000 redirects the near cache never holds more than %d codes (GET stats local_peak).", nearBudget)},
			{Name: chkRedisShare, Points: 20, Run: checkRedisShare,
				Requirement: fmt.Sprintf("At least %.0f%% of all 6,000 redirects are answered from process memory.", 100*minAllLocal)},
			{Name: chkClicksKept, Points: 25, Run: checkClicksKept,
				Requirement: fmt.Sprintf("6,000 clicks of the viral link, then a crash when the most clicks are held in process: at most %d are missing from the counts afterwards, and none is counted twice.", maxLostClicks)},
			{Name: chkClickWrites, Points: 15, Run: checkClickWrites,
				Requirement: fmt.Sprintf("Counting the 6,000 clicks of 3 s takes at most %d writes to Redis a second.", maxClickWrites)},
		},
		References: viralReferences(),
	}
}

// viralGood keeps the hot set in a near cache of the budget's size for a
// minute, and pushes clicks every 40 ms: at most 80 held, 25 writes a
// second.
func viralGood() labs.Design {
	return labs.Design{"cache": CacheLocal, "local_capacity": nearBudget, "cache_ttl_ms": 60000, "analytics": true, "click_push_ms": 40}
}

func viralReferences() []labs.Reference {
	bad := func(name string, changes labs.Design, fails ...string) labs.Reference {
		d := viralGood()
		maps.Copy(d, changes)
		return labs.Reference{Name: name, Design: d, Fails: fails}
	}
	return []labs.Reference{
		{Name: "good", Design: viralGood()},
		bad("Redis only", labs.Design{"cache": CacheRedis}, chkViralMemory, chkRedisShare),
		bad("the default near cache of 10,000 codes", labs.Design{"local_capacity": defaultLocalCap}, chkNearBudget),
		bad("a near cache of 128 codes", labs.Design{"local_capacity": 128}, chkRedisShare),
		bad("a near-cache TTL of 100 ms", labs.Design{"cache_ttl_ms": 100}, chkViralMemory, chkRedisShare),
		bad("clicks pushed every 100 ms", labs.Design{"click_push_ms": 100}, chkClicksKept),
		bad("clicks pushed every 10 ms", labs.Design{"click_push_ms": 10}, chkClickWrites),
		bad("no analytics (301)", labs.Design{"analytics": false}, chkClicksKept),
	}
}

// growExercise is step 3: a fifth shard joins, moving few links, leaving
// the shards even, with a ring small enough for every router to keep.
func growExercise() labs.Exercise {
	return labs.Exercise{
		ID: "shortener-grow", Lab: "shortener", Step: 3,
		Title:   "Growing from 4 shards to 5 while moving few links",
		NeedsDB: true,
		Card: []string{
			fmt.Sprintf("The links live on %d shards; a %dth joins (POST reshard {\"shards\": %d}).", growFrom, growTo, growTo),
			fmt.Sprintf("The move copies at most %.0f%% of the links (the new shard's fair share is 20%%), and every link still redirects afterwards.", 100*maxMovedShare),
			fmt.Sprintf("Afterwards every shard owns %.2f to %.2f times its fair share of the hash space, so it holds about as much of the links: none is a hot spot, none sits idle.", minShardShare, maxShardShare),
			fmt.Sprintf("Every router keeps the whole map of where links live: at %d shards it has at most %s entries (ring points).", growTo, labs.Thousands(maxRingPoints)),
		},
		Scale: fmt.Sprintf("The grader starts the design on %d shards (whatever its shards field says), creates %s links with POST batch beside the 1,000 demo links (%s in all), "+
			"moves to %d shards and follows every %dth link through r/{code}, none of which was cached before. "+
			"Balance is judged on the hash space each shard owns, which the design alone decides; the links' shares are reported beside it (their codes are random). Nothing is timed.",
			growFrom, labs.Thousands(growCreate), labs.Thousands(growCreate+seedLinks), growTo, growFollowStep),
		Hint: "Read the URL shortener case study on sharding: how many links modulo moves when the count changes, and what virtual nodes do for consistent hashing. " +
			"Then size vnodes: enough points for even shards, few enough for the routers.",
		Checks: []labs.Check{
			{Name: chkFewMoved, Points: 40, Run: checkFewMoved,
				Requirement: fmt.Sprintf("Growing from %d to %d shards moves at most %.0f%% of the %s links, and every %dth link, followed afterwards, redirects to its URL.",
					growFrom, growTo, 100*maxMovedShare, labs.Thousands(growCreate+seedLinks), growFollowStep)},
			{Name: chkBalanced, Points: 35, Run: checkBalanced,
				Requirement: fmt.Sprintf("After the move each of the %d shards owns %.2f to %.2f times a fifth of the hash space (GET shards ring_share; the links follow it, give or take their random codes).", growTo, minShardShare, maxShardShare)},
			{Name: chkRingSize, Points: 25, Run: checkRingSize,
				Requirement: fmt.Sprintf("At %d shards the ring has at most %s points (vnodes_per_shard × shards; a modulo layout has none).", growTo, labs.Thousands(maxRingPoints))},
		},
		References: growReferences(),
	}
}

// growGood is consistent hashing with 128 points per shard: 640 at 5
// shards, each shard within about 10% of its share.
func growGood() labs.Design {
	return labs.Design{"sharding": ShardConsistent, "vnodes": 128}
}

func growReferences() []labs.Reference {
	bad := func(name string, changes labs.Design, fails ...string) labs.Reference {
		d := growGood()
		maps.Copy(d, changes)
		return labs.Reference{Name: name, Design: d, Fails: fails}
	}
	return []labs.Reference{
		{Name: "good", Design: growGood()},
		bad("modulo", labs.Design{"sharding": ShardModulo}, chkFewMoved),
		bad("4 points per shard", labs.Design{"vnodes": 4}, chkFewMoved, chkBalanced),
		bad("16 points per shard", labs.Design{"vnodes": 16}, chkBalanced),
		bad("1,024 points per shard", labs.Design{"vnodes": 1024}, chkRingSize),
	}
}
