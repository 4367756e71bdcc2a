package cache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/sdworkbook/workbook/labs"
)

// The cache-launch card's numbers.
const (
	launchItem       = 777  // the product being launched: new, so not in the Zipf head
	launchShare      = 3    // one read in launchShare is of it
	launchBudget     = 100  // items the cache may hold at once
	minLaunchHits    = 0.70 // share of the measured reads served from the cache
	outageReaders    = 200  // readers arriving at once while Redis is down
	outageFirstItem  = 300  // they read items 300 to 499, none of them cached
	maxOutageDBReads = fallbackSlots
	outageLatencyMS  = 50
)

// launchReads is the launch's read sequence: every launchShare-th read is
// the launch item, the others the seeded Zipf reads of the catalogue.
func launchReads(n int) []int {
	zipf := zipfReads(n)
	ids := make([]int, n)
	for i := range ids {
		ids[i] = zipf[i]
		if i%launchShare == launchShare-1 {
			ids[i] = launchItem
		}
	}
	return ids
}

// runLaunch reads the launch workload as the hit-ratio check reads its
// own (see hitRun) and gives the run with its final stats.
func runLaunch(ctx context.Context, t *labs.Trial) (*hitRun, *labs.Outcome) {
	tg, err := launch(ctx, t, hitLatencyMS)
	if err != nil {
		o := labs.Broken(err)
		return nil, &o
	}
	run := &hitRun{tg: tg, start: tg.Timeline().Now(), ids: launchReads(hitWarmReads + hitReads)}
	if run.prev, err = readStats(ctx, tg); err != nil {
		o := labs.OutcomeOf(err)
		return nil, &o
	}
	var rerr error
	if err := settle(ctx, tg, func(ctx context.Context) { rerr = run.reads(ctx) }); err != nil {
		o := labs.Broken(err)
		return nil, &o
	}
	if rerr != nil {
		o := labs.OutcomeOf(rerr)
		return nil, &o
	}
	return run, nil
}

// checkLaunchHits: at least 80% of the launch's reads hit the cache.
func checkLaunchHits(ctx context.Context, t *labs.Trial) labs.Outcome {
	run, o := runLaunch(ctx, t)
	if o != nil {
		return *o
	}
	hits, misses := run.prev.Hits-run.warm.Hits, run.prev.Misses-run.warm.Misses
	got := ratio(hits, hits+misses)
	seen := fmt.Sprintf("After a %s-read warm-up, %s of %s launch reads (one in %d of item %d, the rest Zipf over the catalogue) hit the cache: %.1f%% (at least %.0f%% required); it evicted %d %s.",
		labs.Thousands(hitWarmReads), labs.Thousands(int(hits)), labs.Thousands(hitReads), launchShare, launchItem, 100*got, 100*minLaunchHits,
		run.prev.Evictions, plural(run.prev.Evictions, "item", "items"))
	limit := 100 * minLaunchHits
	out := labs.Pass("%s", seen)
	if got < minLaunchHits {
		why := ""
		if d := run.tg.Design(); d != nil && d.String("strategy") == StrategyNone {
			why = " With strategy none there is no cache."
		} else if d != nil && d.Int("max_items") == 0 {
			why = fmt.Sprintf(" With max_items 0 only ttl_ms %d keeps the cache small, and it expires the items readers come back to as well.", d.Int("ttl_ms"))
		} else if d != nil {
			why = fmt.Sprintf(" max_items %d keeps too few of the items the catalogue's readers come back to; the card lets the cache hold %d.", d.Int("max_items"), launchBudget)
		}
		out = labs.Fail("%s%s", seen, why)
	}
	out.Chart = &labs.CheckChart{Title: fmt.Sprintf("Cache hit ratio per %d launch reads (the first %s are the warm-up)", hitBatch, labs.Thousands(hitWarmReads)),
		XLabel: "reads", YLabel: "hit ratio (%)", X: run.xs, Limit: &limit, Series: []labs.ChartSeries{{Name: "hit ratio", Values: run.ys}}}
	return out
}

// checkLaunchBudget: through the launch, the cache never holds more than
// launchBudget items.
func checkLaunchBudget(ctx context.Context, t *labs.Trial) labs.Outcome {
	run, o := runLaunch(ctx, t)
	if o != nil {
		return *o
	}
	peak := run.prev.PeakCachedItems
	seen := fmt.Sprintf("Through %s launch reads the cache held at most %d items at once (the budget is %d); it evicted %d %s.",
		labs.Thousands(hitWarmReads+hitReads), peak, launchBudget, run.prev.Evictions, plural(run.prev.Evictions, "item", "items"))
	if peak <= launchBudget {
		return labs.Pass("%s", seen)
	}
	why := ""
	if d := run.tg.Design(); d != nil && d.Int("max_items") == 0 {
		why = fmt.Sprintf(" With max_items 0 nothing bounds it: every item read within ttl_ms (%d ms) stays cached.", d.Int("ttl_ms"))
	} else if d != nil {
		why = fmt.Sprintf(" max_items %d is above the budget.", d.Int("max_items"))
	}
	return labs.Fail("%s%s", seen, why)
}

// checkLaunchStampede: the launch item's cached copy is deleted under 200
// readers; at most one read reaches the database.
func checkLaunchStampede(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, err := launch(ctx, t, stampedeLatencyMS)
	if err != nil {
		return labs.Broken(err)
	}
	if _, err := getItem(ctx, tg, launchItem); err != nil {
		return labs.OutcomeOf(err)
	}
	res, err := call[StampedeResult](ctx, tg, http.MethodPost, "/stampede?item="+strconv.Itoa(launchItem), nil)
	if err != nil {
		var re *labs.RouteError
		if errors.As(err, &re) && re.Reply.Status == http.StatusConflict {
			return labs.Broken(err)
		}
		return labs.OutcomeOf(err)
	}
	return stampedeVerdict(tg.Design(), res)
}

// checkRedisOutage makes Redis fail and sends 200 readers of uncached
// items at once: at most 50 of their reads may reach the database.
func checkRedisOutage(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, err := launch(ctx, t, outageLatencyMS)
	if err != nil {
		return labs.Broken(err)
	}
	before, err := readStats(ctx, tg)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	if _, err := call[RedisFault](ctx, tg, http.MethodPut, "/redis", RedisFault{Down: true}); err != nil {
		var re *labs.RouteError
		if errors.As(err, &re) && (re.Reply.Status == http.StatusNotFound || re.Reply.Status == http.StatusMethodNotAllowed) {
			return labs.Skip("The target has no PUT /redis to make its Redis fail, so a Redis outage could not be staged.")
		}
		return labs.OutcomeOf(err)
	}
	var mu sync.Mutex
	statuses := map[int]int{}
	var callErr error
	if err := settle(ctx, tg, func(ctx context.Context) {
		fanOut(ctx, outageReaders, func(i int) {
			r, err := labs.Call(ctx, tg, http.MethodGet, "/items/"+strconv.Itoa(outageFirstItem+i), nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				callErr = err
				return
			}
			statuses[r.Status]++
		})
	}); err != nil {
		return labs.Broken(err)
	}
	if callErr != nil {
		return labs.OutcomeOf(callErr)
	}
	if _, err := call[RedisFault](ctx, tg, http.MethodPut, "/redis", RedisFault{Down: false}); err != nil {
		return labs.OutcomeOf(err)
	}
	after, err := readStats(ctx, tg)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	return outageVerdict(after.DBReads-before.DBReads, statuses, tg.Design())
}

func outageVerdict(reads int64, statuses map[int]int, d labs.Design) labs.Outcome {
	seen := fmt.Sprintf("With Redis failing, %d readers of uncached items arrived at once: %d %s reached the database (at most %d allowed); they were answered %s.",
		outageReaders, reads, plural(reads, "read", "reads"), maxOutageDBReads, statusList(statuses))
	if reads <= maxOutageDBReads {
		return labs.Pass("%s", seen)
	}
	why := ""
	switch {
	case d == nil:
	case d.String("strategy") == StrategyNone:
		why = " With strategy none every read goes to the database, Redis or not."
	case d.String("redis_errors") == RedisErrorsMiss:
		why = " redis_errors miss takes every Redis error for a cache miss, so each reader loads from the database (and tries to fill the failing cache): the Redis outage became a stampede on the database."
	}
	return labs.Fail("%s%s", seen, why)
}

// statusList lists statuses and counts, lowest status first.
func statusList(by map[int]int) string {
	s := ""
	for code := 100; code < 600; code++ {
		if n := by[code]; n > 0 {
			if s != "" {
				s += ", "
			}
			s += fmt.Sprintf("%d × %d", n, code)
		}
	}
	return s
}
