package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The cache-inventory card's numbers, on the lab's clock.
const (
	invFirst     = 401                    // items 401 to 450 take the writes
	invItems     = 50                     // written once each per batch
	invBatches   = 20                     // 1,000 writes: 500 per second for 2 s
	invGap       = 100 * time.Millisecond // between batches
	invWriteMS   = 20                     // the database's write latency
	invAckMS     = 5                      // the most an acknowledgement may take
	invAckWrites = 20                     // sequential writes the ack check times
	invMaxRows   = 300                    // row writes the 1,000 writes may cost the database
)

// launchInventory starts the design with the card's database: reads
// instant, writes taking invWriteMS.
func launchInventory(ctx context.Context, t *labs.Trial) (labs.Target, error) {
	t.Timeline(clockStart)
	return t.Start(ctx, map[string]any{"db_latency_ms": 0, "db_write_latency_ms": invWriteMS})
}

// checkFastAck times invAckWrites writes, one after another, on the lab's
// clock: each must be acknowledged within invAckMS.
func checkFastAck(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, err := launchInventory(ctx, t)
	if err != nil {
		return labs.Broken(err)
	}
	tl := tg.Timeline()
	var slowest time.Duration
	var xs, ys []float64
	for i := range invAckWrites {
		t0 := tl.Now()
		if _, err := putPrice(ctx, tg, invFirst+i, newPrice(i)); err != nil {
			return labs.OutcomeOf(err)
		}
		took := tl.Now().Sub(t0)
		slowest = max(slowest, took)
		xs, ys = append(xs, float64(i+1)), append(ys, float64(took.Microseconds())/1000)
	}
	limit := float64(invAckMS)
	seen := fmt.Sprintf("With the database taking %d ms per write, %d writes were acknowledged, the slowest after %.0f ms of the lab's clock (at most %d allowed).",
		invWriteMS, invAckWrites, float64(slowest.Microseconds())/1000, invAckMS)
	o := labs.Pass("%s", seen)
	if slowest > invAckMS*time.Millisecond {
		why := ""
		if d := tg.Design(); d != nil && d.String("strategy") != StrategyWriteBehind {
			why = fmt.Sprintf(" With strategy %s the write waits for the database's commit before it is acknowledged.", d.String("strategy"))
		}
		o = labs.Fail("%s%s", seen, why)
	}
	o.Chart = &labs.CheckChart{Title: "Time to acknowledge each write", XLabel: "write", YLabel: "ms of the lab's clock", X: xs, Limit: &limit,
		Series: []labs.ChartSeries{{Name: "acknowledged after", Values: ys}}}
	return o
}

// inventoryRun is the write load and what it found.
type inventoryRun struct {
	tg    labs.Target
	start time.Time
	// acked[b] is each item's write acknowledged in batch b.
	acked  []map[int]writeResult
	before State
}

// writeBatches writes invItems items at once every invGap, batches from
// and up to (not including) to.
func (r *inventoryRun) writeBatches(ctx context.Context, from, to int) error {
	var werr error
	err := settle(ctx, r.tg, func(ctx context.Context) {
		for b := from; b < to && werr == nil; b++ {
			if werr = r.advance(ctx, r.start.Add(time.Duration(b)*invGap)); werr != nil {
				return
			}
			var mu sync.Mutex
			batch := map[int]writeResult{}
			fanOut(ctx, invItems, func(i int) {
				w, err := putPrice(ctx, r.tg, invFirst+i, newPrice(b*invItems+i))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					werr = err
					return
				}
				batch[invFirst+i] = w
			})
			r.acked = append(r.acked, batch)
		}
	})
	return errors.Join(err, werr)
}

// advance moves the clock to at and, when that brings a flush tick, waits
// (in real time) for the flusher's pass to end before the next writes, so
// each pass flushes exactly the batches written before its tick however
// slowly the machine runs the flusher. A ticker fires at most once per
// move of the clock, so one pass is due per tick crossed.
func (r *inventoryRun) advance(ctx context.Context, at time.Time) error {
	tl := r.tg.Timeline()
	wb := r.before.WriteBehind
	if wb == nil || wb.FlushIntervalMS <= 0 {
		return tl.AdvanceTo(ctx, at)
	}
	every := time.Duration(wb.FlushIntervalMS) * time.Millisecond
	crossed := at.Sub(clockStart)/every > tl.Now().Sub(clockStart)/every
	s0, err := readStats(ctx, r.tg)
	if err != nil {
		return err
	}
	if err := tl.AdvanceTo(ctx, at); err != nil || !crossed || s0.WriteBehind == nil {
		return err
	}
	backstop := time.Now().Add(driveBackstop)
	for {
		s, err := readStats(ctx, r.tg)
		if err != nil {
			return err
		}
		if s.WriteBehind == nil || s.WriteBehind.FlushPasses > s0.WriteBehind.FlushPasses {
			return nil
		}
		if time.Now().After(backstop) {
			return errors.New("the write-behind flusher made no pass after its tick: Redis or the database stopped answering")
		}
		if err := labs.Sleep(ctx, labs.RealClock{}, 2*time.Millisecond); err != nil {
			return err
		}
	}
}

func startInventory(ctx context.Context, t *labs.Trial) (*inventoryRun, error) {
	tg, err := launchInventory(ctx, t)
	if err != nil {
		return nil, err
	}
	r := &inventoryRun{tg: tg, start: tg.Timeline().Now()}
	r.before, err = readStats(ctx, tg)
	return r, err
}

// checkCoalesced: 1,000 writes to 50 items over 2 s cost the database at
// most invMaxRows row writes, the last flush included.
func checkCoalesced(ctx context.Context, t *labs.Trial) labs.Outcome {
	r, err := startInventory(ctx, t)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	if err := r.writeBatches(ctx, 0, invBatches); err != nil {
		return labs.OutcomeOf(err)
	}
	// Two flush intervals more, so the writes still queued are counted.
	for range 2 {
		if err := flushPass(ctx, r.tg, flushOf(r.before)); err != nil {
			return labs.OutcomeOf(err)
		}
	}
	after, err := readStats(ctx, r.tg)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	rows := after.DBWrites - r.before.DBWrites
	seen := fmt.Sprintf("%s writes to %d items over %.0f s (500 per second) cost the database %d row writes (at most %d allowed).",
		labs.Thousands(invBatches*invItems), invItems, (invBatches * invGap).Seconds(), rows, invMaxRows)
	if rows <= invMaxRows {
		return labs.Pass("%s", seen)
	}
	why := ""
	switch d := r.tg.Design(); {
	case d == nil:
	case d.String("strategy") != StrategyWriteBehind:
		why = fmt.Sprintf(" With strategy %s every write is its own database write.", d.String("strategy"))
	default:
		why = fmt.Sprintf(" flush_interval_ms %d flushes so often that few writes to an item meet in one flush: each flush writes every item written since the last.", d.Int("flush_interval_ms"))
	}
	return labs.Fail("%s%s", seen, why)
}

// flushOf is the flush interval a target reports, or the default.
func flushOf(s State) time.Duration {
	if s.WriteBehind != nil {
		return time.Duration(s.WriteBehind.FlushIntervalMS) * time.Millisecond
	}
	return defaultFlush
}
