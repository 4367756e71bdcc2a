package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The suite's sizes. Each check fixes the database's simulated read latency
// itself: db_latency_ms stands for the database a learner is given, not for
// a choice of their design, and a learner's 2 s would make the suite run
// for minutes.
//
// Every check runs its instance on a manual clock that the check moves
// itself (see drive): a TTL runs out, a load times out or the flusher ticks
// only when that clock says so, and it moves on only when every goroutine
// of the check is waiting for it. A verdict is then a property of the
// design, the same on an idle and on a loaded grading machine.
const (
	// No stale read: items read into the cache, repriced and read back, and
	// reads whose cache fill lands after a write.
	staleLatencyMS = 10
	staleFirst     = 101
	staleItems     = 10
	raceFirst      = 121
	raceItems      = 3

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

	// randomSeed seeds an instance's own random draws (XFetch's early
	// refreshes) so that they too are the same in every grading.
	randomSeed = 7
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
					thousands(hitWarmReads), minHitRatio*100, thousands(hitReads), thousands(CatalogueSize), hitBatch, hitBatchGap.Milliseconds())},
			{Name: chkStampede, Points: 25, Run: checkStampede,
				Requirement: fmt.Sprintf("When a hot item's cached copy is gone and %d readers ask for it at the same instant, at most %d read reaches the database.",
					stampedeReads, maxStampedeReads)},
			{Name: chkCrash, Points: 30, Run: checkCrash,
				Requirement: fmt.Sprintf("Every one of %d acknowledged writes to %d items is in the database after the process that writes "+
					"them back crashes right after the last acknowledgement, before any flush, and a new one takes over "+
					"(its first pass, or the %d flush intervals after it).", crashWrites, crashItems, crashRetryPasses)},
		},
		References: references(),
	}}
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

// launch starts an instance of the design with the check's database
// latency, on a manual clock the check moves.
func launch(ctx context.Context, t *labs.Trial, latencyMS int) (*labs.Probe, *instance, *labs.ManualClock, error) {
	mc, ok := t.Clock.(*labs.ManualClock)
	if !ok {
		mc = labs.NewManualClock(clockStart)
		t.Clock = mc
	}
	p, err := t.Launch(ctx, map[string]any{"db_latency_ms": latencyMS})
	if err != nil {
		return nil, nil, nil, err
	}
	in, ok := p.Instance.(*instance)
	if !ok {
		return nil, nil, nil, fmt.Errorf("cache: launched a %T, not a cache instance", p.Instance)
	}
	in.reseed(randomSeed)
	return p, in, mc, nil
}

// settle runs f against p's instance. On a manual clock it moves the clock
// each time f's goroutines all wait for it (see drive), so f sees time pass
// as the design asks for it and never because the machine was slow.
func settle(ctx context.Context, p *labs.Probe, f func(ctx context.Context)) error {
	mc, ok := p.Env.Clock.(*labs.ManualClock)
	if !ok {
		f(ctx)
		return nil
	}
	return drive(ctx, mc, f)
}

// routeError is a route's unexpected answer. The checks send only valid
// requests, so a 5xx means Redis or the database failed (the environment);
// anything else is reported as the design's.
type routeError struct {
	what string
	rep  labs.Reply
}

func (e *routeError) Error() string {
	return fmt.Sprintf("%s answered %d: %s", e.what, e.rep.Status, strings.TrimSpace(string(e.rep.Body)))
}

// outcomeOf turns a helper's error into the check's outcome.
func outcomeOf(err error) labs.Outcome {
	var re *routeError
	if errors.As(err, &re) && re.rep.Status < http.StatusInternalServerError {
		return labs.Fail("%s", re.Error())
	}
	return labs.Broken(err)
}

func call[T any](ctx context.Context, p *labs.Probe, method, path string, body any) (T, error) {
	var v T
	var rep labs.Reply
	if err := settle(ctx, p, func(ctx context.Context) { rep = p.Do(ctx, method, path, body) }); err != nil {
		return v, err
	}
	if rep.Status != http.StatusOK {
		if err := ctx.Err(); err != nil {
			return v, err
		}
		return v, &routeError{what: method + " " + path, rep: rep}
	}
	if err := rep.JSON(&v); err != nil {
		return v, fmt.Errorf("%s %s: decode %q: %w", method, path, rep.Body, err)
	}
	return v, nil
}

func getItem(ctx context.Context, p *labs.Probe, id int) (readResult, error) {
	return call[readResult](ctx, p, http.MethodGet, "items/"+strconv.Itoa(id), nil)
}

func putPrice(ctx context.Context, p *labs.Probe, id int, price int64) (writeResult, error) {
	return call[writeResult](ctx, p, http.MethodPut, "items/"+strconv.Itoa(id), map[string]any{"price": price})
}

func stats(ctx context.Context, p *labs.Probe) (State, error) {
	return call[State](ctx, p, http.MethodGet, "stats", nil)
}

// oldRead is a read that returned something older than an acknowledged write.
type oldRead struct {
	got   readResult
	wrote writeResult
	race  bool // the read's cache fill was placed after the write
}

func (o oldRead) String() string {
	return fmt.Sprintf("item %d: wrote price %d (version %d), then read price %d (version %d) from the %s",
		o.wrote.ID, o.wrote.Price, o.wrote.Version, o.got.Price, o.got.Version, sourceName(o.got.Source))
}

func sourceName(s string) string {
	if s == srcDB {
		return "database"
	}
	return s
}

// isOld reports whether r is older than the acknowledged write w.
func isOld(r readResult, w writeResult) bool {
	return r.Version < w.Version || (r.Version == w.Version && r.Price != w.Price)
}

// checkNoStaleRead reprices cached items and reads them back at once; then
// it places a write between a reader's database read and its cache fill
// (the delete-versus-stale-fill race, which concurrency produces by chance)
// and reads again.
func checkNoStaleRead(ctx context.Context, t *labs.Trial) labs.Outcome {
	p, in, _, err := launch(ctx, t, staleLatencyMS)
	if err != nil {
		return labs.Broken(err)
	}
	var old []oldRead
	// Read, write and read back item by item, so even the shortest TTL
	// cannot expire the cached copy before the read back.
	for id := staleFirst; id < staleFirst+staleItems; id++ {
		for range 2 { // a fill, then (for a cache) a hit
			if _, err := getItem(ctx, p, id); err != nil {
				return outcomeOf(err)
			}
		}
		w, err := putPrice(ctx, p, id, newPrice(id))
		if err != nil {
			return outcomeOf(err)
		}
		r, err := getItem(ctx, p, id)
		if err != nil {
			return outcomeOf(err)
		}
		if isOld(r, w) {
			old = append(old, oldRead{got: r, wrote: w})
		}
	}

	placed := 0
	for id := raceFirst; id < raceFirst+raceItems; id++ {
		var (
			fired atomic.Bool
			w     writeResult
			werr  error
		)
		// The hook runs in the reader after its database read and before
		// its fill; the reader's answer is received after it returns.
		hook := func(got int) {
			if got == id && fired.CompareAndSwap(false, true) {
				w, werr = putPrice(ctx, p, id, newPrice(id))
			}
		}
		in.afterLoad.Store(&hook)
		_, err := getItem(ctx, p, id)
		in.afterLoad.Store(nil)
		if err != nil {
			return outcomeOf(err)
		}
		if fired.Load() {
			placed++
		} else {
			// The read filled nothing (strategy none): write after it.
			w, werr = putPrice(ctx, p, id, newPrice(id))
		}
		if werr != nil {
			return outcomeOf(werr)
		}
		r, err := getItem(ctx, p, id)
		if err != nil {
			return outcomeOf(err)
		}
		if isOld(r, w) {
			old = append(old, oldRead{got: r, wrote: w, race: fired.Load()})
		}
	}

	st, err := stats(ctx, p)
	if err != nil {
		return outcomeOf(err)
	}
	cfg := in.cfg
	if len(old) == 0 && st.StaleReads == 0 {
		var race string
		switch {
		case placed == 0:
			race = fmt.Sprintf(" Reads with strategy %s fill no cache, so no fill could land after a write.", cfg.strategy)
		default:
			race = fmt.Sprintf(" %d reads that had loaded the old row before a write and filled the cache after it "+
				"did not leave the old price behind: the next read returned the new one.", placed)
		}
		return labs.Pass("%d items read into the cache, repriced and read back at once: every read returned the new price.%s "+
			"The lab counted 0 stale reads.", staleItems, race)
	}
	if len(old) == 0 {
		return labs.Fail("Every read back returned the new price, but the lab counted %d stale reads: "+
			"a read returned a version older than a write acknowledged before it began.", st.StaleReads)
	}
	var direct, race []oldRead
	for _, o := range old {
		if o.race {
			race = append(race, o)
		} else {
			direct = append(direct, o)
		}
	}
	var b strings.Builder
	if len(direct) > 0 {
		fmt.Fprintf(&b, "%d of %d cached items came back with the old price right after their price change was acknowledged (%s). ",
			len(direct), staleItems, listOld(direct))
		switch {
		case cfg.strategy == StrategyCacheAside && cfg.invalidation == InvalidateTTL:
			fmt.Fprintf(&b, "With invalidation=ttl a write leaves the cached copy in place, so readers get the old price until its TTL (%d ms) runs out; "+
				"delete the cached item after the database commit (delete_on_write). ", cfg.ttl.Milliseconds())
		case allFrom(direct, srcCache):
			b.WriteString("The write left the old copy in the cache and readers were served it. ")
		default:
			b.WriteString("The old row came back from the database after the write had been acknowledged. ")
		}
	}
	switch {
	case len(race) > 0 && len(direct) > 0:
		fmt.Fprintf(&b, "%d of %d reads whose cache fill landed just after a price change also left the old price cached. ", len(race), raceItems)
	case len(race) > 0:
		fmt.Fprintf(&b, "%d of %d reads that had loaded the row before a price change filled the cache just after the change was acknowledged, "+
			"and the next read still got the old price (%s). ", len(race), raceItems, listOld(race))
		switch {
		case cfg.guard == GuardNone && cfg.strategy != StrategyNone:
			fmt.Fprintf(&b, "With fill_guard=none the late fill is a plain SET that puts the old row back, and it stays until its TTL (%d ms) runs out; "+
				"fill_guard=version refuses a fill older than the newest write. ", cfg.ttl.Milliseconds())
		}
	}
	fmt.Fprintf(&b, "The lab counted %d stale reads.", st.StaleReads)
	return labs.Fail("%s", b.String())
}

// newPrice is a price no item is seeded with (seed prices are below 10,000).
func newPrice(id int) int64 { return 500000 + int64(id) }

func allFrom(reads []oldRead, src string) bool {
	for _, o := range reads {
		if o.got.Source != src {
			return false
		}
	}
	return true
}

func listOld(reads []oldRead) string {
	ss := make([]string, len(reads))
	for i, o := range reads {
		ss[i] = o.String()
	}
	return listFirst(ss)
}

// listFirst joins the first three of ss and says how many more there are.
func listFirst(ss []string) string {
	const show = 3
	if len(ss) <= show {
		return strings.Join(ss, "; ")
	}
	return strings.Join(ss[:show], "; ") + fmt.Sprintf("; and %d more", len(ss)-show)
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// zipfReads draws n item ids from the Zipf distribution a load run uses,
// with a fixed seed: every grading reads the same items in the same order.
func zipfReads(n int) []int {
	z := rand.NewZipf(rand.New(rand.NewPCG(hitSeed, hitSeed>>1|1)), labs.ZipfS, 1, CatalogueSize-1)
	ids := make([]int, n)
	for i := range ids {
		ids[i] = int(z.Uint64()) + 1
	}
	return ids
}

// checkHitRatio reads the Zipf distribution in batches at one instant,
// hitBatchGap apart on the clock, and measures hits/(hits+misses) after the
// warm-up from the instance's own counters.
func checkHitRatio(ctx context.Context, t *labs.Trial) labs.Outcome {
	p, in, mc, err := launch(ctx, t, hitLatencyMS)
	if err != nil {
		return labs.Broken(err)
	}
	prev, err := stats(ctx, p)
	if err != nil {
		return outcomeOf(err)
	}
	var (
		xs, ys      []float64
		warm        State
		mu          sync.Mutex
		failedReads int
		readErr     error // the environment's
		start       = mc.Now()
		ids         = zipfReads(hitWarmReads + hitReads)
	)
	read := func(ctx context.Context, id int) {
		_, err := in.read(ctx, id)
		if err == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if statusOf(err) == http.StatusInternalServerError || ctx.Err() != nil {
			readErr = err
			return
		}
		failedReads++
	}
	reads := func(ctx context.Context) error {
		for done := 0; done < len(ids); {
			mc.Set(start.Add(time.Duration(done/hitBatch) * hitBatchGap))
			var first, again []int
			seen := map[int]bool{}
			for _, id := range ids[done : done+hitBatch] {
				if seen[id] {
					again = append(again, id)
					continue
				}
				seen[id] = true
				first = append(first, id)
			}
			for _, phase := range [][]int{first, again} {
				fanOut(ctx, len(phase), func(i int) { read(ctx, phase[i]) })
				if readErr != nil {
					return readErr
				}
			}
			done += hitBatch
			cur, err := stats(ctx, p)
			if err != nil {
				return err
			}
			h, m := cur.Hits-prev.Hits, cur.Misses-prev.Misses
			xs = append(xs, float64(done))
			ys = append(ys, 100*ratio(h, h+m))
			prev = cur
			if done == hitWarmReads {
				warm = cur
			}
		}
		return nil
	}
	// One drive for the whole run: the batches move the clock themselves,
	// and the driver only steps in if a read waits for it.
	var rerr error
	if err := settle(ctx, p, func(ctx context.Context) { rerr = reads(ctx) }); err != nil {
		return labs.Broken(err)
	}
	if rerr != nil {
		return outcomeOf(rerr)
	}
	elapsed := time.Duration((hitWarmReads+hitReads)/hitBatch) * hitBatchGap
	hits, misses := prev.Hits-warm.Hits, prev.Misses-warm.Misses
	dbReads := prev.DBReads - warm.DBReads
	got := ratio(hits, hits+misses)
	limit := 100 * minHitRatio
	chart := &labs.CheckChart{
		Title:  fmt.Sprintf("Cache hit ratio per %d Zipf reads (the first %s are the warm-up)", hitBatch, thousands(hitWarmReads)),
		XLabel: "reads", YLabel: "hit ratio (%)", X: xs, Limit: &limit,
		Series: []labs.ChartSeries{{Name: "hit ratio", Values: ys}},
	}
	seen := fmt.Sprintf("After a %s-read warm-up, %s of %s Zipf-distributed reads hit the cache: %.1f%% (at least %.0f%% required); "+
		"%s reads went to the database. The reads came %d every %d ms of the lab's clock, %.1f s in all.",
		thousands(hitWarmReads), thousands(int(hits)), thousands(hitReads), 100*got, limit, thousands(int(dbReads)),
		hitBatch, hitBatchGap.Milliseconds(), elapsed.Seconds())
	if failedReads > 0 {
		seen += fmt.Sprintf(" %d reads failed.", failedReads)
	}
	if got >= minHitRatio {
		o := labs.Pass("%s", seen)
		o.Chart = chart
		return o
	}
	var why string
	switch {
	case in.cfg.strategy == StrategyNone:
		why = " With strategy none there is no cache: every read goes to the database."
	case in.cfg.ttl < elapsed:
		why = fmt.Sprintf(" Cached items live %d ms (ttl_ms), less than the %.1f s the run took, so even hot items expire "+
			"and are read from the database again.", in.cfg.ttl.Milliseconds(), elapsed.Seconds())
	}
	o := labs.Fail("%s%s", seen, why)
	o.Chart = chart
	return o
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// checkStampede caches the hot item, then lets the lab's stampede expire it
// under 200 readers released together.
func checkStampede(ctx context.Context, t *labs.Trial) labs.Outcome {
	p, in, _, err := launch(ctx, t, stampedeLatencyMS)
	if err != nil {
		return labs.Broken(err)
	}
	if _, err := getItem(ctx, p, hotItem); err != nil { // cached, so the stampede expires a real entry
		return outcomeOf(err)
	}
	res, err := call[StampedeResult](ctx, p, http.MethodPost, "stampede", nil)
	if err != nil {
		var re *routeError
		if errors.As(err, &re) && re.rep.Status == http.StatusConflict {
			return labs.Broken(err) // only this check runs stampedes on its instance
		}
		return outcomeOf(err)
	}
	failed := 0
	for _, n := range res.Errors {
		failed += n
	}
	seen := fmt.Sprintf("%d readers asked for item %d at the same instant right after its cached copy was deleted: they caused %d database %s "+
		"(at most %d allowed); p99 %.0f ms of the lab's clock.",
		res.Reads, res.Item, res.DBReads, plural(res.DBReads, "read", "reads"), maxStampedeReads, res.P99MS)
	if failed > 0 {
		return labs.Fail("%s %d readers got an error instead of the item (%s): absorbing a stampede must not fail the readers.",
			seen, failed, errorList(res.Errors))
	}
	if res.DBReads <= maxStampedeReads {
		return labs.Pass("%s", seen)
	}
	var why string
	switch {
	case in.cfg.strategy == StrategyNone:
		why = " With strategy none there is no cache, so every reader goes to the database."
	case in.cfg.stampede == StampedeNone:
		why = " With stampede=none every reader that misses reads the database itself; " +
			"singleflight or a lock lets one load the item while the others wait for its fill."
	case in.cfg.stampede == StampedeEarly:
		why = " Early expiration refreshes a key before it expires under steady reads, but once the key is gone " +
			"every reader misses and reads the database, as with none."
	}
	return labs.Fail("%s%s", seen, why)
}

func errorList(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d × %s", m[k], k)
	}
	return strings.Join(parts, "; ")
}

// checkCrash writes a few items and, for write-behind, crashes the flusher
// right after the last acknowledgement; then it reads the database itself.
func checkCrash(ctx context.Context, t *labs.Trial) labs.Outcome {
	p, in, mc, err := launch(ctx, t, 0)
	if err != nil {
		return labs.Broken(err)
	}
	// Concurrent writes at one instant of the clock, so the crash follows
	// the first acknowledgement as closely as the last: no flush between.
	// The items are written at once, each item's writes in turn, so which
	// price is an item's newest does not depend on the machine either.
	var (
		mu    sync.Mutex
		acked = map[int]writeResult{}
		werr  error
	)
	err = settle(ctx, p, func(ctx context.Context) {
		fanOut(ctx, crashItems, func(i int) {
			id := crashFirst + i
			for n := i; n < crashWrites; n += crashItems {
				w, err := putPrice(ctx, p, id, 600000+int64(n))
				mu.Lock()
				if err != nil {
					werr = err
				} else if w.Version > acked[id].Version {
					acked[id] = w
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	})
	if err != nil {
		return labs.Broken(err)
	}
	if werr != nil {
		return outcomeOf(werr)
	}

	if in.cfg.strategy != StrategyWriteBehind {
		missing, err := missingWrites(ctx, in, acked)
		if err != nil {
			return labs.Broken(err)
		}
		if len(missing) > 0 {
			return labs.Fail("%d of %d items lack their acknowledged write in the database right after the acknowledgement (%s).",
				len(missing), len(acked), listFirst(missing))
		}
		return labs.Pass("With strategy %s a write is committed to the database before it is acknowledged, so there is no queue "+
			"for a crash to lose: all %d acknowledged writes to %d items were in the database as soon as they were acknowledged.",
			in.cfg.strategy, crashWrites, len(acked))
	}

	rep, err := call[CrashReport](ctx, p, http.MethodPost, "crash-flusher", nil)
	if err != nil {
		return labs.Broken(err) // the crash route fails only when Redis or the database does
	}
	// The report comes after the new flusher's first pass; a write it could
	// not apply then is retried on its next ticks, which the clock brings.
	missing, err := missingWrites(ctx, in, acked)
	if err != nil {
		return labs.Broken(err)
	}
	for pass := 0; len(missing) > 0 && pass < crashRetryPasses; pass++ {
		if err := flushPass(ctx, in, mc); err != nil {
			return labs.Broken(err)
		}
		if missing, err = missingWrites(ctx, in, acked); err != nil {
			return labs.Broken(err)
		}
	}
	seen := fmt.Sprintf("%d writes to %d items were acknowledged and the flusher was crashed right after (flush_interval_ms=%d); "+
		"%d acknowledged writes had not reached the database when it died.",
		crashWrites, len(acked), in.cfg.flush.Milliseconds(), rep.Pending)
	if len(missing) == 0 {
		if rep.Pending == 0 {
			return labs.Pass("%s Every acknowledged write had already been flushed, and the database holds them all.", seen)
		}
		return labs.Pass("%s After a new flusher took over, the database holds every acknowledged write: "+
			"the queue outlived the process that crashed.", seen)
	}
	why := ""
	if in.cfg.queue == QueueMemory {
		why = " With write_behind_queue=memory the queued writes lived only in the crashed process's memory and died with it; " +
			"a durable queue (a Redis stream whose entries are acknowledged after the database commit) lets the next flusher replay them."
	}
	return labs.Fail("%s After a new flusher took over, %d of %d items still lack their newest acknowledged write in the database (%s).%s",
		seen, len(missing), len(acked), listFirst(missing), why)
}

// flushPass moves the clock one flush interval and waits for the flusher's
// pass that it brings. The wait is on progress (the pass counter), checked
// every few milliseconds; driveBackstop only ends a flusher that stopped
// answering, never a slow one.
func flushPass(ctx context.Context, in *instance, mc *labs.ManualClock) error {
	before := in.wb.passes.Load()
	mc.Advance(in.cfg.flush)
	backstop := time.Now().Add(driveBackstop)
	for in.wb.passes.Load() == before {
		if time.Now().After(backstop) {
			return errors.New("the write-behind flusher did not make a pass after its interval: Redis or the database stopped answering")
		}
		if err := labs.Sleep(ctx, labs.RealClock{}, 2*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// missingWrites lists the items whose acknowledged write the database
// lacks, read straight from the table: no route shows the database alone.
func missingWrites(ctx context.Context, in *instance, acked map[int]writeResult) ([]string, error) {
	rows, err := dbItems(ctx, in)
	if err != nil {
		return nil, err
	}
	ids := make([]int, 0, len(acked))
	for id := range acked {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	var out []string
	for _, id := range ids {
		w, r := acked[id], rows[id]
		if r.Version < w.Version || (r.Version == w.Version && r.Price != w.Price) {
			out = append(out, fmt.Sprintf("item %d: acknowledged price %d (version %d), database has price %d (version %d)",
				id, w.Price, w.Version, r.Price, r.Version))
		}
	}
	return out, nil
}

// dbItems reads the instance's rows without the simulated latency.
func dbItems(ctx context.Context, in *instance) (map[int]Item, error) {
	rows, err := in.env.DB.QueryContext(ctx,
		in.env.Rebind(`SELECT id, name, price, version FROM cache_lab_items WHERE instance = ?`), in.env.Instance)
	if err != nil {
		return nil, fmt.Errorf("read the catalogue: %w", err)
	}
	defer func(rows *sql.Rows) { _ = rows.Close() }(rows)
	out := make(map[int]Item, CatalogueSize)
	for rows.Next() {
		var it Item
		if err := rows.Scan(&it.ID, &it.Name, &it.Price, &it.Version); err != nil {
			return nil, err
		}
		out[it.ID] = it
	}
	return out, rows.Err()
}

// thousands writes n with a comma between thousands: 2,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
