package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
const (
	// No stale read: items read into the cache, repriced and read back, and
	// reads whose cache fill lands after a write.
	staleLatencyMS = 10
	staleFirst     = 101
	staleItems     = 10
	raceFirst      = 121
	raceItems      = 3

	// Hit ratio. A cache that keeps every item it has read (a TTL longer
	// than the run) serves about 88% of the 2,000 reads that follow a
	// 1,000-read warm-up of this Zipf distribution (s = 1.1 over 1,000
	// items): the long tail keeps producing first reads, about 240 of them,
	// with a spread of about 15. The requirement's 80% is then met with a
	// margin of some ten spreads, while a design without a cache (0%) or
	// with entries that expire before the hot items come round again falls
	// below it. The run is paced so a TTL's effect does not depend on how
	// fast the grading machine is.
	hitLatencyMS   = 5
	hitWarmReads   = 1000
	hitReads       = 2000
	hitBatch       = 200
	hitRatePerS    = 2000
	hitConcurrency = 32
	minHitRatio    = 0.80

	// Stampede: long enough a database read that the 200 readers all
	// arrive while the first one is still loading.
	stampedeLatencyMS = 50
	maxStampedeReads  = 1

	// Crash: writes to a few items, the crash right after the last one.
	crashFirst  = 201
	crashItems  = 6
	crashWrites = 12
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
		Scale: "The load is scaled, not time: the hit ratio is measured on 2,000 Zipf-distributed reads at 2,000 reads/s " +
			"after a 1,000-read warm-up, the stampede is 200 readers released together, and the crash lands within " +
			"milliseconds of the last acknowledged write. Each check sets the database's simulated read latency itself " +
			"(0 to 50 ms, whatever db_latency_ms says): it stands for the database you were given, not for a choice of your design.",
		Hint: "Read the caching lesson: invalidation on write and the delete-versus-stale-fill race, " +
			"stampede protection, and the data-loss window of write-behind.",
		NeedsDB: true,
		Checks: []labs.Check{
			{Name: "no stale read after a write", Points: 25, Run: checkNoStaleRead,
				Requirement: "Once a price change is acknowledged, every read returns the new price: " +
					"10 cached items repriced and read back at once, and 3 reads whose cache fill lands just after a write, give 0 old prices."},
			{Name: "hit ratio on a Zipf workload", Points: 20, Run: checkHitRatio,
				Requirement: fmt.Sprintf("After a %s-read warm-up, at least %.0f%% of %s Zipf-distributed reads (s = 1.1 over the %s items) are served from the cache.",
					thousands(hitWarmReads), minHitRatio*100, thousands(hitReads), thousands(CatalogueSize))},
			{Name: "stampede reaches the database at most once", Points: 25, Run: checkStampede,
				Requirement: fmt.Sprintf("When a hot item's cached copy is gone and %d readers ask for it at once, at most %d read reaches the database.",
					stampedeReads, maxStampedeReads)},
			{Name: "acknowledged writes survive a flusher crash", Points: 30, Run: checkCrash,
				Requirement: fmt.Sprintf("Every one of %d acknowledged writes to %d items is in the database after the process that writes "+
					"them back crashes right after the last acknowledgement and a new one takes over.", crashWrites, crashItems)},
		},
	}}
}

// launch starts an instance of the design with the check's database latency.
func launch(ctx context.Context, t *labs.Trial, latencyMS int) (*labs.Probe, *instance, error) {
	p, err := t.Launch(ctx, map[string]any{"db_latency_ms": latencyMS})
	if err != nil {
		return nil, nil, err
	}
	in, ok := p.Instance.(*instance)
	if !ok {
		return nil, nil, fmt.Errorf("cache: launched a %T, not a cache instance", p.Instance)
	}
	return p, in, nil
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
	rep := p.Do(ctx, method, path, body)
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
	p, in, err := launch(ctx, t, staleLatencyMS)
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

// zipfReader makes a load run read the Zipf distribution: the instance
// picks the item for an empty key.
type zipfReader struct{ labs.Instance }

func (z zipfReader) Hit(ctx context.Context, _ string) (int, error) { return z.Instance.Hit(ctx, "") }

// checkHitRatio reads the Zipf distribution in paced batches and measures
// hits/(hits+misses) after the warm-up from the instance's own counters.
func checkHitRatio(ctx context.Context, t *labs.Trial) labs.Outcome {
	p, in, err := launch(ctx, t, hitLatencyMS)
	if err != nil {
		return labs.Broken(err)
	}
	load := zipfReader{p.Instance}
	prev, err := stats(ctx, p)
	if err != nil {
		return outcomeOf(err)
	}
	var (
		xs, ys      []float64
		warm        State
		failedReads int
		start       = time.Now()
		warmEnd     time.Time
	)
	for done := 0; done < hitWarmReads+hitReads; {
		if done == hitWarmReads {
			warm, warmEnd = prev, time.Now()
		}
		// Paced per batch: runtime timers are too coarse to pace each read
		// at 2,000/s, and a batch of 200 in 100 ms is the same rate for a TTL.
		batchEnd := time.Now().Add(time.Duration(hitBatch) * time.Second / hitRatePerS)
		sum := labs.RunLoad(ctx, load, labs.LoadSpec{Requests: hitBatch, Concurrency: hitConcurrency, Keys: 1})
		if err := sleep(ctx, time.Until(batchEnd)); err != nil {
			return labs.Broken(err)
		}
		done += hitBatch
		failedReads += sum.Requests - sum.ByStatus["200"]
		cur, err := stats(ctx, p)
		if err != nil {
			return outcomeOf(err)
		}
		h, m := cur.Hits-prev.Hits, cur.Misses-prev.Misses
		xs = append(xs, float64(done))
		ys = append(ys, 100*ratio(h, h+m))
		prev = cur
	}
	elapsed := time.Since(start)
	measured := time.Since(warmEnd)
	hits, misses := prev.Hits-warm.Hits, prev.Misses-warm.Misses
	dbReads := prev.DBReads - warm.DBReads
	got := ratio(hits, hits+misses)
	limit := 100 * minHitRatio
	chart := &labs.CheckChart{
		Title:  fmt.Sprintf("Cache hit ratio per %d Zipf reads (the first %s are the warm-up)", hitBatch, thousands(hitWarmReads)),
		XLabel: "reads", YLabel: "hit ratio (%)", X: xs, Limit: &limit,
		Series: []labs.ChartSeries{{Name: "hit ratio", Values: ys}},
	}
	rate := float64(hitReads) / measured.Seconds()
	seen := fmt.Sprintf("After a %s-read warm-up, %s of %s Zipf-distributed reads hit the cache: %.1f%% (at least %.0f%% required); "+
		"%s reads went to the database, at %.0f reads/s.",
		thousands(hitWarmReads), thousands(int(hits)), thousands(hitReads), 100*got, limit, thousands(int(dbReads)), rate)
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
	p, in, err := launch(ctx, t, stampedeLatencyMS)
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
	seen := fmt.Sprintf("%d readers asked for item %d at once right after its cached copy was deleted: they caused %d database %s "+
		"(at most %d allowed); p99 %.0f ms.",
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
	p, in, err := launch(ctx, t, 0)
	if err != nil {
		return labs.Broken(err)
	}
	// Concurrent writes, so the crash follows the first acknowledgement
	// as closely as it can follow the last.
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		acked = map[int]writeResult{}
		werr  error
	)
	for n := range crashWrites {
		id := crashFirst + n%crashItems
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := putPrice(ctx, p, id, 600000+int64(n))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				werr = err
				return
			}
			if w.Version > acked[id].Version {
				acked[id] = w
			}
		}()
	}
	wg.Wait()
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
	// not apply then is retried next pass, so give it a moment.
	var missing []string
	deadline := time.Now().Add(time.Second)
	for {
		if missing, err = missingWrites(ctx, in, acked); err != nil {
			return labs.Broken(err)
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
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
