package cache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// launch starts a target of the design with the check's database latency.
// A built-in design runs on the suite's manual clock, which the check moves
// (see settle); a service runs on real time.
func launch(ctx context.Context, t *labs.Trial, latencyMS int) (labs.Target, error) {
	t.Timeline(clockStart)
	return t.Start(ctx, map[string]any{"db_latency_ms": latencyMS})
}

// settle runs f, whose requests go to tg. On a manual clock it moves the
// clock each time f's goroutines all wait for it (see drive), so f sees
// time pass as the design asks for it and never because the machine was
// slow. The bookkeeping travels in the requests' context, which an
// in-process target hands to the instance's handler; on real time f just
// runs.
func settle(ctx context.Context, tg labs.Target, f func(ctx context.Context)) error {
	mc, ok := tg.Timeline().(*labs.ManualClock)
	if !ok {
		f(ctx)
		return nil
	}
	return drive(ctx, mc, f)
}

// pause lets d pass on tg's time: inside settle, as one of the
// operation's waits, so that what else is in flight moves on first; on
// real time, by waiting.
func pause(ctx context.Context, tg labs.Target, d time.Duration) error {
	if a := activityOf(ctx); a != nil {
		return a.sleep(ctx, d)
	}
	tl := tg.Timeline()
	return tl.AdvanceTo(ctx, tl.Now().Add(d))
}

// call sends method path (body as JSON when not nil) while tg's clock is
// driven and decodes a 200 answer into a T; another status is a
// *labs.RouteError.
func call[T any](ctx context.Context, tg labs.Target, method, path string, body any) (T, error) {
	var (
		v   T
		err error
	)
	if derr := settle(ctx, tg, func(ctx context.Context) {
		v, err = labs.CallJSON[T](ctx, tg, method, path, body, http.StatusOK)
	}); derr != nil {
		return v, derr
	}
	return v, err
}

func getItem(ctx context.Context, tg labs.Target, id int) (readResult, error) {
	return call[readResult](ctx, tg, http.MethodGet, "/items/"+strconv.Itoa(id), nil)
}

func putPrice(ctx context.Context, tg labs.Target, id int, price int64) (writeResult, error) {
	return call[writeResult](ctx, tg, http.MethodPut, "/items/"+strconv.Itoa(id), map[string]any{"price": price})
}

func readStats(ctx context.Context, tg labs.Target) (State, error) {
	return call[State](ctx, tg, http.MethodGet, "/stats", nil)
}

// dbItem is item id as the database holds it (GET /db/items/{item}).
func dbItem(ctx context.Context, tg labs.Target, id int) (Item, error) {
	return call[Item](ctx, tg, http.MethodGet, "/db/items/"+strconv.Itoa(id), nil)
}

// newPrice is a price no item is seeded with (seed prices are below 10,000).
func newPrice(id int) int64 { return 500000 + int64(id) }

// missingWrites lists the items whose acknowledged write the database
// lacks, read through GET /db/items/{item}.
func missingWrites(ctx context.Context, tg labs.Target, acked map[int]writeResult) ([]string, error) {
	ids := make([]int, 0, len(acked))
	for id := range acked {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []string
	for _, id := range ids {
		w := acked[id]
		r, err := dbItem(ctx, tg, id)
		if err != nil {
			return nil, err
		}
		if r.Version < w.Version || (r.Version == w.Version && r.Price != w.Price) {
			out = append(out, fmt.Sprintf("item %d: acknowledged price %d (version %d), database has price %d (version %d)",
				id, w.Price, w.Version, r.Price, r.Version))
		}
	}
	return out, nil
}

// flushPass lets one flush interval pass and waits for the flusher's pass
// it brings, read in GET /stats (write_behind.flush_passes). The wait is on
// progress, checked every few milliseconds; driveBackstop only ends a
// flusher that stopped answering, never a slow one. A target that reports
// no flusher is given the interval of real time.
func flushPass(ctx context.Context, tg labs.Target, interval time.Duration) error {
	before, err := readStats(ctx, tg)
	if err != nil {
		return err
	}
	if err := pause(ctx, tg, interval); err != nil || before.WriteBehind == nil {
		return err
	}
	backstop := time.Now().Add(driveBackstop)
	for {
		cur, err := readStats(ctx, tg)
		if err != nil {
			return err
		}
		if cur.WriteBehind == nil || cur.WriteBehind.FlushPasses > before.WriteBehind.FlushPasses {
			return nil
		}
		if time.Now().After(backstop) {
			return errors.New("the write-behind flusher did not make a pass after its interval: Redis or the database stopped answering")
		}
		if err := labs.Sleep(ctx, labs.RealClock{}, 2*time.Millisecond); err != nil {
			return err
		}
	}
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

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
