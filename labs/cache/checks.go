package cache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// checkStampede caches the hot item, then lets the lab's stampede expire it
// under 200 readers released together (POST /stampede).
func checkStampede(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, err := launch(ctx, t, stampedeLatencyMS)
	if err != nil {
		return labs.Broken(err)
	}
	if _, err := getItem(ctx, tg, hotItem); err != nil { // cached, so the stampede expires a real entry
		return labs.OutcomeOf(err)
	}
	res, err := call[StampedeResult](ctx, tg, http.MethodPost, "/stampede", nil)
	if err != nil {
		var re *labs.RouteError
		if errors.As(err, &re) && re.Reply.Status == http.StatusConflict {
			return labs.Broken(err) // only this check runs stampedes on its instance
		}
		return labs.OutcomeOf(err)
	}
	return stampedeVerdict(tg.Design(), res)
}

// stampedeVerdict judges a stampede, explaining from the design when there
// is one.
func stampedeVerdict(d labs.Design, res StampedeResult) labs.Outcome {
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
	case d == nil:
	case d.String("strategy") == StrategyNone:
		why = " With strategy none there is no cache, so every reader goes to the database."
	case d.String("stampede") == StampedeNone:
		why = " With stampede=none every reader that misses reads the database itself; " +
			"singleflight or a lock lets one load the item while the others wait for its fill."
	case d.String("stampede") == StampedeEarly:
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

// checkCrash writes a few items and reads the database through GET
// /db/items/{item}. A design that has not committed them all yet (it queues
// them: write-behind) is crashed right after the last acknowledgement,
// through its target's Restart, and the database is read again once a new
// process has taken over.
func checkCrash(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, err := launch(ctx, t, 0)
	if err != nil {
		return labs.Broken(err)
	}
	acked, err := writeAtOnce(ctx, tg)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	missing, err := missingWrites(ctx, tg, acked)
	switch d := tg.Design(); {
	case err != nil:
		return labs.Broken(err)
	case len(missing) == 0:
		return committedFirst(d, len(acked))
	case d != nil && d.String("strategy") != StrategyWriteBehind:
		return labs.Fail("%d of %d items lack their acknowledged write in the database right after the acknowledgement (%s).",
			len(missing), len(acked), listFirst(missing))
	case !tg.Can(labs.Restart):
		return labs.Skip("%d of %d items lacked their acknowledged write in the database right after the acknowledgement, "+
			"so the writes wait in a queue; whether a crash loses them needs a restart, which this target cannot do.",
			len(missing), len(acked))
	}
	return crashAndRecover(ctx, tg, acked)
}

// writeAtOnce writes crashWrites prices to crashItems items concurrently at
// one instant of the clock, so the crash follows the first acknowledgement
// as closely as the last: no flush between. The items are written at once,
// each item's writes in turn, so which price is an item's newest does not
// depend on the machine either. It returns each item's newest
// acknowledged write.
func writeAtOnce(ctx context.Context, tg labs.Target) (map[int]writeResult, error) {
	var (
		mu    sync.Mutex
		acked = map[int]writeResult{}
		werr  error
	)
	err := settle(ctx, tg, func(ctx context.Context) {
		fanOut(ctx, crashItems, func(i int) {
			id := crashFirst + i
			for n := i; n < crashWrites; n += crashItems {
				w, err := putPrice(ctx, tg, id, 600000+int64(n))
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
	return acked, errors.Join(err, werr)
}

// committedFirst is the verdict on a design whose acknowledged writes were
// all in the database at once.
func committedFirst(d labs.Design, items int) labs.Outcome {
	if d == nil || d.String("strategy") == StrategyWriteBehind {
		return labs.Pass("Every acknowledged write was in the database as soon as it was acknowledged, so there is no queue "+
			"for a crash to lose: all %d acknowledged writes to %d items.", crashWrites, items)
	}
	return labs.Pass("With strategy %s a write is committed to the database before it is acknowledged, so there is no queue "+
		"for a crash to lose: all %d acknowledged writes to %d items were in the database as soon as they were acknowledged.",
		d.String("strategy"), crashWrites, items)
}

// crashAndRecover restarts the target as a crash would, right after the
// acknowledgements, and reads the database after the new process's first
// flush, and after up to crashRetryPasses more flush intervals for a write
// it could not apply at once.
func crashAndRecover(ctx context.Context, tg labs.Target, acked map[int]writeResult) labs.Outcome {
	before, err := readStats(ctx, tg)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	if err := tg.Restart(ctx); err != nil {
		return labs.Broken(fmt.Errorf("restarting the design: %w", err))
	}
	interval := defaultFlush
	if wb := before.WriteBehind; wb != nil {
		interval = time.Duration(wb.FlushIntervalMS) * time.Millisecond
	}
	missing, err := missingWrites(ctx, tg, acked)
	for pass := 0; err == nil && len(missing) > 0 && pass < crashRetryPasses; pass++ {
		if err = flushPass(ctx, tg, interval); err == nil {
			missing, err = missingWrites(ctx, tg, acked)
		}
	}
	if err != nil {
		return labs.Broken(err)
	}
	return crashVerdict(tg.Design(), before.WriteBehind, len(acked), missing)
}

// crashVerdict judges what the database held after the crash.
func crashVerdict(d labs.Design, wb *WriteBehindState, items int, missing []string) labs.Outcome {
	seen := fmt.Sprintf("%d writes to %d items were acknowledged and the process was crashed right after", crashWrites, items)
	queue := ""
	if wb != nil {
		queue = wb.Queue
		seen += fmt.Sprintf(" (flush_interval_ms=%d); %d acknowledged writes had not reached the database when it died.",
			wb.FlushIntervalMS, wb.Pending)
	} else {
		seen += ", before they had all reached the database."
	}
	if d != nil {
		queue = d.String("write_behind_queue")
	}
	if len(missing) == 0 {
		return labs.Pass("%s After a new flusher took over, the database holds every acknowledged write: "+
			"the queue outlived the process that crashed.", seen)
	}
	why := ""
	if queue == QueueMemory {
		why = " With write_behind_queue=memory the queued writes lived only in the crashed process's memory and died with it; " +
			"a durable queue (a Redis stream whose entries are acknowledged after the database commit) lets the next flusher replay them."
	}
	return labs.Fail("%s After a new flusher took over, %d of %d items still lack their newest acknowledged write in the database (%s).%s",
		seen, len(missing), items, listFirst(missing), why)
}
