package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sdworkbook/workbook/labs"
)

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

// staleSeen is what the no-stale-read check observed.
type staleSeen struct {
	direct []oldRead // read back right after a write
	race   []oldRead // read back after a fill that landed after the write
	placed int       // reads that had loaded the row before the write
	raced  bool      // the race could be placed (the target runs on the suite's clock)
	stale  int64     // stale reads the lab counted
}

// checkNoStaleRead reprices cached items and reads them back at once; then
// it places a write between a reader's database read and its cache fill
// (the delete-versus-stale-fill race, which concurrency produces by chance)
// and reads again.
func checkNoStaleRead(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, err := launch(ctx, t, staleLatencyMS)
	if err != nil {
		return labs.Broken(err)
	}
	var seen staleSeen
	if seen.direct, err = readBack(ctx, tg); err != nil {
		return labs.OutcomeOf(err)
	}
	if tg.Timeline().Manual() {
		seen.raced = true
		if seen.race, seen.placed, err = raceFills(ctx, tg); err != nil {
			return labs.OutcomeOf(err)
		}
	}
	st, err := readStats(ctx, tg)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	seen.stale = st.StaleReads
	return staleVerdict(tg.Design(), seen)
}

// readBack reads, writes and reads back item by item, so even the
// shortest TTL cannot expire the cached copy before the read back.
func readBack(ctx context.Context, tg labs.Target) ([]oldRead, error) {
	var old []oldRead
	for id := staleFirst; id < staleFirst+staleItems; id++ {
		for range 2 { // a fill, then (for a cache) a hit
			if _, err := getItem(ctx, tg, id); err != nil {
				return nil, err
			}
		}
		w, err := putPrice(ctx, tg, id, newPrice(id))
		if err != nil {
			return nil, err
		}
		r, err := getItem(ctx, tg, id)
		if err != nil {
			return nil, err
		}
		if isOld(r, w) {
			old = append(old, oldRead{got: r, wrote: w})
		}
	}
	return old, nil
}

// raceFills reads uncached items and writes each while its read is in
// flight, between the reader's database read and its cache fill, then
// reads it again. It returns the old reads and how many reads had loaded
// the row before the write.
func raceFills(ctx context.Context, tg labs.Target) ([]oldRead, int, error) {
	var (
		old    []oldRead
		placed int
	)
	for id := raceFirst; id < raceFirst+raceItems; id++ {
		first, w, err := raceOne(ctx, tg, id)
		if err != nil {
			return nil, 0, err
		}
		// Answered from the database with the row before the write: the
		// reader held that row across the write.
		race := first.Source == srcDB && isOld(first, w)
		if race {
			placed++
		}
		r, err := getItem(ctx, tg, id)
		if err != nil {
			return nil, 0, err
		}
		if isOld(r, w) {
			old = append(old, oldRead{got: r, wrote: w, race: race})
		}
	}
	return old, placed, nil
}

// raceOne reads uncached item id and, raceWriteAt into the read, writes
// it: after the reader has read the row and before it can fill the cache.
func raceOne(ctx context.Context, tg labs.Target, id int) (readResult, writeResult, error) {
	var (
		first      readResult
		w          writeResult
		rerr, werr error
	)
	err := settle(ctx, tg, func(ctx context.Context) {
		fanOut(ctx, 2, func(i int) {
			if i == 0 {
				first, rerr = getItem(ctx, tg, id)
				return
			}
			if werr = pause(ctx, tg, raceWriteAt); werr == nil {
				w, werr = putPrice(ctx, tg, id, newPrice(id))
			}
		})
	})
	return first, w, errors.Join(err, rerr, werr)
}

// staleVerdict judges what the check saw, explaining from the design when
// there is one.
func staleVerdict(d labs.Design, s staleSeen) labs.Outcome {
	if len(s.direct)+len(s.race) == 0 && s.stale == 0 {
		return labs.Pass("%d items read into the cache, repriced and read back at once: every read returned the new price.%s "+
			"The lab counted 0 stale reads.", staleItems, raceSaid(d, s))
	}
	if len(s.direct)+len(s.race) == 0 {
		return labs.Fail("Every read back returned the new price, but the lab counted %d stale reads: "+
			"reads that returned an older version than a write acknowledged before it began.", s.stale)
	}
	var b strings.Builder
	if len(s.direct) > 0 {
		fmt.Fprintf(&b, "%d of %d cached items came back with the old price right after their price change was acknowledged (%s). ",
			len(s.direct), staleItems, listOld(s.direct))
		b.WriteString(directWhy(d, s.direct))
	}
	switch {
	case len(s.race) > 0 && len(s.direct) > 0:
		fmt.Fprintf(&b, "%d of %d reads whose cache fill landed just after a price change also left the old price cached. ", len(s.race), raceItems)
	case len(s.race) > 0:
		fmt.Fprintf(&b, "%d of %d reads that had loaded the row before a price change filled the cache just after the change was acknowledged, "+
			"and the next read still got the old price (%s). ", len(s.race), raceItems, listOld(s.race))
		if d != nil && d.String("fill_guard") == GuardNone && d.String("strategy") != StrategyNone {
			fmt.Fprintf(&b, "With fill_guard=none the late fill is a plain SET that puts the old row back, and it stays until its TTL (%d ms) runs out; "+
				"fill_guard=version refuses a fill older than the newest write. ", d.Int("ttl_ms"))
		}
	}
	fmt.Fprintf(&b, "The lab counted %d stale reads.", s.stale)
	return labs.Fail("%s", b.String())
}

// raceSaid is what a pass says about the race.
func raceSaid(d labs.Design, s staleSeen) string {
	switch {
	case !s.raced:
		return " The race of a cache fill landing just after a write was not tried: placing a write inside a read needs the lab's own clock."
	case d != nil && d.String("strategy") == StrategyNone:
		return " Reads with strategy none fill no cache, so no fill could land after a write."
	case s.placed == 0:
		return " No read held the old row across a write, so no fill could land after one."
	}
	return fmt.Sprintf(" %d reads that had loaded the old row before a write and filled the cache after it "+
		"did not leave the old price behind: the next read returned the new one.", s.placed)
}

// directWhy explains old prices read right after a write.
func directWhy(d labs.Design, direct []oldRead) string {
	switch {
	case d != nil && d.String("strategy") == StrategyCacheAside && d.String("invalidation") == InvalidateTTL:
		return fmt.Sprintf("With invalidation=ttl a write leaves the cached copy in place, so readers get the old price until its TTL (%d ms) runs out; "+
			"delete the cached item after the database commit (delete_on_write). ", d.Int("ttl_ms"))
	case allFrom(direct, srcCache):
		return "The write left the old copy in the cache and readers were served it. "
	}
	return "The old row came back from the database after the write had been acknowledged. "
}

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
