package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

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

// hitRun is the hit-ratio check's workload and what it measured: the
// counters of GET /stats before the run, after the warm-up and at the end,
// and the ratio per batch for the chart.
type hitRun struct {
	tg    labs.Target
	start time.Time
	ids   []int

	prev, warm State
	xs, ys     []float64

	mu          sync.Mutex
	failedReads int
	readErr     error // the environment's, or an answer no read should get
}

// checkHitRatio reads the Zipf distribution in batches at one instant,
// hitBatchGap apart on the clock, and measures hits/(hits+misses) after the
// warm-up from the counters of GET /stats.
func checkHitRatio(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, err := launch(ctx, t, hitLatencyMS)
	if err != nil {
		return labs.Broken(err)
	}
	run := &hitRun{tg: tg, start: tg.Timeline().Now(), ids: zipfReads(hitWarmReads + hitReads)}
	if run.prev, err = readStats(ctx, tg); err != nil {
		return labs.OutcomeOf(err)
	}
	// One drive for the whole run: the batches move the clock themselves,
	// and the driver only steps in if a read waits for it.
	var rerr error
	if err := settle(ctx, tg, func(ctx context.Context) { rerr = run.reads(ctx) }); err != nil {
		return labs.Broken(err)
	}
	if rerr != nil {
		return labs.OutcomeOf(rerr)
	}
	return run.verdict(tg.Design())
}

// reads sends the workload, batch by batch.
func (h *hitRun) reads(ctx context.Context) error {
	tl := h.tg.Timeline()
	for done := 0; done < len(h.ids); done += hitBatch {
		if err := tl.AdvanceTo(ctx, h.start.Add(time.Duration(done/hitBatch)*hitBatchGap)); err != nil {
			return err
		}
		if err := h.batch(ctx, h.ids[done:done+hitBatch]); err != nil {
			return err
		}
		if err := h.measure(ctx, done+hitBatch); err != nil {
			return err
		}
	}
	return nil
}

// batch reads ids at once: each item's first read, then its repeats.
func (h *hitRun) batch(ctx context.Context, ids []int) error {
	var first, again []int
	seen := map[int]bool{}
	for _, id := range ids {
		if seen[id] {
			again = append(again, id)
			continue
		}
		seen[id] = true
		first = append(first, id)
	}
	for _, phase := range [][]int{first, again} {
		fanOut(ctx, len(phase), func(i int) { h.read(ctx, phase[i]) })
		if h.readErr != nil {
			return h.readErr
		}
	}
	return nil
}

// read is one GET items/{item}. A read the design gave up on (503) counts
// as failed; one that reached no answer, or met a failure of Redis or the
// database, is the environment's.
func (h *hitRun) read(ctx context.Context, id int) {
	path := "/items/" + strconv.Itoa(id)
	r, err := labs.Call(ctx, h.tg, http.MethodGet, path, nil)
	if err == nil {
		err = ctx.Err()
	}
	if err == nil && r.Status == http.StatusOK {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err != nil:
		h.readErr = err
	case r.Status >= http.StatusInternalServerError && r.Status != http.StatusServiceUnavailable:
		h.readErr = &labs.RouteError{What: "GET " + path, Reply: r}
	default:
		h.failedReads++
	}
}

// measure reads the counters after done reads: one point of the chart.
func (h *hitRun) measure(ctx context.Context, done int) error {
	cur, err := readStats(ctx, h.tg)
	if err != nil {
		return err
	}
	hits, misses := cur.Hits-h.prev.Hits, cur.Misses-h.prev.Misses
	h.xs = append(h.xs, float64(done))
	h.ys = append(h.ys, 100*ratio(hits, hits+misses))
	h.prev = cur
	if done == hitWarmReads {
		h.warm = cur
	}
	return nil
}

// verdict judges the reads after the warm-up, explaining from the design
// when there is one.
func (h *hitRun) verdict(d labs.Design) labs.Outcome {
	elapsed := time.Duration((hitWarmReads+hitReads)/hitBatch) * hitBatchGap
	hits, misses := h.prev.Hits-h.warm.Hits, h.prev.Misses-h.warm.Misses
	dbReads := h.prev.DBReads - h.warm.DBReads
	got := ratio(hits, hits+misses)
	limit := 100 * minHitRatio
	seen := fmt.Sprintf("After a %s-read warm-up, %s of %s Zipf-distributed reads hit the cache: %.1f%% (at least %.0f%% required); "+
		"%s reads went to the database. The reads came %d every %d ms of the lab's clock, %.1f s in all.",
		labs.Thousands(hitWarmReads), labs.Thousands(int(hits)), labs.Thousands(hitReads), 100*got, limit, labs.Thousands(int(dbReads)),
		hitBatch, hitBatchGap.Milliseconds(), elapsed.Seconds())
	if h.failedReads > 0 {
		seen += fmt.Sprintf(" %d reads failed.", h.failedReads)
	}
	var o labs.Outcome
	switch {
	case got >= minHitRatio:
		o = labs.Pass("%s", seen)
	case d != nil && d.String("strategy") == StrategyNone:
		o = labs.Fail("%s With strategy none there is no cache: every read goes to the database.", seen)
	case d != nil && time.Duration(d.Int("ttl_ms"))*time.Millisecond < elapsed:
		o = labs.Fail("%s Cached items live %d ms (ttl_ms), less than the %.1f s the run took, so even hot items expire "+
			"and are read from the database again.", seen, d.Int("ttl_ms"), elapsed.Seconds())
	default:
		o = labs.Fail("%s", seen)
	}
	o.Chart = &labs.CheckChart{
		Title:  fmt.Sprintf("Cache hit ratio per %d Zipf reads (the first %s are the warm-up)", hitBatch, labs.Thousands(hitWarmReads)),
		XLabel: "reads", YLabel: "hit ratio (%)", X: h.xs, Limit: &limit,
		Series: []labs.ChartSeries{{Name: "hit ratio", Values: h.ys}},
	}
	return o
}
