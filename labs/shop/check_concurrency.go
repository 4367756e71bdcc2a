package shop

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// stockSamples is product 1's row, read at rest every concSampleEvery of
// the clock while the concurrency check's orders settle.
type stockSamples struct {
	xs, avail, reserved, sold, sums []float64
	negatives                       []string // moments it went negative
}

// concResult is what the concurrency check measured once the orders had
// settled.
type concResult struct {
	ids                           []string
	failed                        map[string]int
	confirmed, cancelled, pending int
	settle                        SettleStats
	inv                           InvariantView
	final                         ProductStock
	took                          time.Duration
}

func checkConcurrency(ctx context.Context, t *labs.Trial) labs.Outcome {
	shop, err := launchClocked(ctx, t, map[string]any{"initial_stock": concStock, "payment_failure_rate": 0.0, "duplicate_callback_rate": 0.0,
		"payment_latency_ms": concLatencyMS, "consumers": max(t.Design.Int("consumers"), concCheckConsumers)})
	if err != nil {
		return labs.Broken(err)
	}
	start := shop.now()
	// The orders arrive together: the clock stands still while they are
	// placed, concBurst at a time, and the consumers work on them meanwhile.
	var res concResult
	res.ids, res.failed, err = placeMany(ctx, shop.tg, concOrders, concBurst, 1, 1)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	samples, err := settleSampling(ctx, shop, start)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	res.took = shop.since(start)
	if err := res.measure(ctx, shop.tg); err != nil {
		return labs.OutcomeOf(err)
	}
	return res.verdict(shop.cfg, samples)
}

// settleSampling moves the clock until every order has settled, sampling
// product 1 at rest every concSampleEvery of the clock, for the chart and
// for any moment it went negative or stopped adding up.
func settleSampling(ctx context.Context, shop *clockedShop, start time.Time) (*stockSamples, error) {
	ss := &stockSamples{}
	nextSample := start
	sample := func() error {
		if shop.now().Before(nextSample) || len(ss.xs) >= concMaxSamples {
			return nil
		}
		nextSample = shop.now().Add(concSampleEvery)
		s, err := getStock(ctx, shop.tg, 1)
		if err != nil {
			return err
		}
		at := float64(shop.since(start).Milliseconds())
		ss.xs = append(ss.xs, at)
		ss.avail, ss.reserved, ss.sold = append(ss.avail, float64(s.Available)), append(ss.reserved, float64(s.Reserved)), append(ss.sold, float64(s.Sold))
		ss.sums = append(ss.sums, float64(s.Available+s.Reserved+s.Sold))
		if s.Available < 0 || s.Reserved < 0 || s.Sold < 0 {
			ss.negatives = append(ss.negatives, fmt.Sprintf("%s at %.0f ms", stockText(s), at))
		}
		return nil
	}
	quiet := shop.quiescent(ctx)
	_, err := shop.until(ctx, concWait, func() (bool, error) {
		if err := sample(); err != nil {
			return false, err
		}
		return quiet()
	})
	return ss, err
}

// measure reads the orders, the invariant and product 1's final row.
func (res *concResult) measure(ctx context.Context, tg labs.Target) error {
	lines, err := linesOf(ctx, tg, res.ids)
	if err != nil {
		return err
	}
	if res.inv, err = getInvariant(ctx, tg); err != nil {
		return err
	}
	if res.final, err = getStock(ctx, tg, 1); err != nil {
		return err
	}
	var settle []float64
	for _, o := range lines {
		switch o.Status {
		case StatusConfirmed:
			res.confirmed++
		case StatusCancelled:
			res.cancelled++
		default:
			res.pending++
		}
		if o.SettleMS != nil {
			settle = append(settle, float64(*o.SettleMS))
		}
	}
	res.settle = settleStats(settle)
	return nil
}

// problems lists what the check saw go wrong.
func (res *concResult) problems(ss *stockSamples) []string {
	var problems []string
	final := res.final
	if len(res.ids) != concOrders {
		problems = append(problems, fmt.Sprintf("only %d of the %d POST orders were accepted (%v)", len(res.ids), concOrders, res.failed))
	}
	if res.confirmed != concStock {
		problems = append(problems, fmt.Sprintf("%d orders were confirmed, not %d", res.confirmed, concStock))
	}
	if res.pending > 0 {
		problems = append(problems, fmt.Sprintf("%s never settled", nOrders(res.pending)))
	}
	if len(ss.negatives) > 0 {
		problems = append(problems, "the stock went negative ("+ss.negatives[0]+")")
	}
	if final.Available+final.Reserved+final.Sold != concStock || res.inv.Violations > 0 {
		problems = append(problems, fmt.Sprintf("available + reserved + sold did not stay %d", concStock))
	}
	if final.Sold != int64(res.confirmed) || final.Reserved != 0 {
		problems = append(problems, fmt.Sprintf("sold (%d) does not match the %d confirmed orders, or stock is still reserved", final.Sold, res.confirmed))
	}
	for _, pi := range res.inv.Products {
		if pi.ProductID == 1 && !pi.OK && len(problems) == 0 {
			problems = append(problems, "GET invariant reports: "+strings.Join(pi.Problems, "; "))
		}
	}
	return problems
}

// verdict passes or fails the design on what was measured; cfg, when
// known, explains a failure.
func (res *concResult) verdict(cfg *config, ss *stockSamples) labs.Outcome {
	limit := float64(concStock)
	chart := &labs.CheckChart{Title: fmt.Sprintf("Product 1 during %d concurrent orders for %d units", concOrders, concStock),
		XLabel: "ms on the lab's clock", YLabel: "units", X: ss.xs, Limit: &limit,
		Series: []labs.ChartSeries{{Name: "available + reserved + sold", Values: ss.sums}, {Name: "available", Values: ss.avail},
			{Name: "reserved", Values: ss.reserved}, {Name: "sold", Values: ss.sold}}}
	final := res.final
	seen := fmt.Sprintf("%d orders for one unit each of product 1 (%d in stock): %d confirmed, %d cancelled, %d still pending after %.2f s of the lab's clock; "+
		"the row ends %s (sum %d); the lab counted %d invariant violations.",
		len(res.ids), concStock, res.confirmed, res.cancelled, res.pending, res.took.Seconds(), stockText(final),
		final.Available+final.Reserved+final.Sold, res.inv.Violations)
	problems := res.problems(ss)
	if len(problems) == 0 {
		return withChart(labs.Pass("%s Settle p50 %.0f ms, p99 %.0f ms.", seen, res.settle.P50MS, res.settle.P99MS), chart)
	}
	why := ""
	if cfg != nil && cfg.reservation == ReserveNaive && res.confirmed > concStock {
		why = " With reservation=naive_read_then_write each inventory consumer reads available, decides in code, and writes the value it computed; " +
			"consumers that read the same value all reserve, and each overwrites the others' decrement (a lost update), so the shop sells units it does not have. " +
			"UPDATE … SET available = available - qty WHERE available >= qty lets the database decide, and zero rows matched means out of stock."
	}
	return withChart(labs.Fail("%s Wrong: %s.%s", seen, strings.Join(problems, "; "), why), chart)
}
