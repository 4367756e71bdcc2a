package shop

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// boundResult is the settle times the bound check measured.
type boundResult struct {
	xs, ys                              []float64 // order, settle time (boundWait for a pending one)
	settle                              SettleStats
	pending, over, confirmed, cancelled int
}

func checkSettleBound(ctx context.Context, t *labs.Trial) labs.Outcome {
	shop, err := launchClocked(ctx, t, map[string]any{"initial_stock": 1000, "payment_failure_rate": boundFailureRate, "duplicate_callback_rate": 0.0,
		"payment_latency_ms": boundLatencyMS})
	if err != nil {
		return labs.Broken(err)
	}
	ids, err := placeAtRate(ctx, shop)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	if _, err := shop.until(ctx, boundWait, shop.settled); err != nil {
		return labs.OutcomeOf(err)
	}
	lines, err := linesOf(ctx, shop.tg, ids)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	res := measureBound(ids, lines)
	return res.verdict(ctx, shop)
}

// placeAtRate places boundOrders orders, one every interval of the lab's
// clock; between two orders the clock moves timer by timer, so the shop
// does everything due meanwhile.
func placeAtRate(ctx context.Context, shop *clockedShop) ([]string, error) {
	interval := time.Second / boundRatePerS
	start := shop.now()
	var ids []string
	for i := range boundOrders {
		if err := shop.advanceTo(ctx, start.Add(time.Duration(i)*interval)); err != nil {
			return nil, err
		}
		o, err := placeOne(ctx, shop.tg, i%len(Catalogue)+1, 1)
		if err != nil {
			return nil, err
		}
		ids = append(ids, o.OrderID)
	}
	return ids, nil
}

// measureBound reads each order's settle time, in the order they were
// placed.
func measureBound(ids []string, lines []OrderLine) boundResult {
	at := map[string]int{}
	for i, id := range ids {
		at[id] = i
	}
	res := boundResult{xs: make([]float64, len(ids)), ys: make([]float64, len(ids))}
	for i := range res.xs {
		res.xs[i] = float64(i + 1)
	}
	var settle []float64
	for _, o := range lines {
		i := at[o.OrderID]
		switch o.Status {
		case StatusConfirmed:
			res.confirmed++
		case StatusCancelled:
			res.cancelled++
		}
		if o.SettleMS == nil {
			res.pending++
			res.ys[i] = float64(boundWait.Milliseconds())
			continue
		}
		res.ys[i] = float64(*o.SettleMS)
		settle = append(settle, res.ys[i])
		if *o.SettleMS > boundMS {
			res.over++
		}
	}
	res.settle = settleStats(settle)
	return res
}

// verdict passes the design when every order settled within boundMS.
func (res boundResult) verdict(ctx context.Context, shop *clockedShop) labs.Outcome {
	limit := float64(boundMS)
	chart := &labs.CheckChart{Title: fmt.Sprintf("Settle time of each order (%d per second, provider %d ms)", boundRatePerS, boundLatencyMS),
		XLabel: "order", YLabel: "ms from placed to settled, on the lab's clock", X: res.xs, Limit: &limit,
		Series: []labs.ChartSeries{{Name: "settle time", Values: res.ys}}}
	saga := ""
	if shop.cfg != nil {
		saga = " with saga=" + shop.cfg.saga
	}
	s := res.settle
	seen := fmt.Sprintf("%d orders at %d per second%s: %d confirmed, %d cancelled; settle time on the lab's clock p50 %.0f ms, p99 %.0f ms, max %.0f ms (at most %d ms allowed).",
		boundOrders, boundRatePerS, saga, res.confirmed, res.cancelled, s.P50MS, s.P99MS, s.MaxMS, boundMS)
	if res.pending == 0 && res.over == 0 {
		return withChart(labs.Pass("%s", seen), chart)
	}
	var problems []string
	if res.pending > 0 {
		problems = append(problems, fmt.Sprintf("%s still pending %.0f s after the last was placed", nOrders(res.pending), boundWait.Seconds()))
	}
	if res.over > 0 {
		problems = append(problems, fmt.Sprintf("%s took longer than %d ms", nOrders(res.over), boundMS))
	}
	return withChart(labs.Fail("%s Wrong: %s.%s", seen, strings.Join(problems, "; "), boundWhy(ctx, shop)), chart)
}

// boundWhy explains a failure of the bound check from the design, when
// known: too few consumers for the load, or what else the shop saw.
func boundWhy(ctx context.Context, shop *clockedShop) string {
	cfg := shop.cfg
	if cfg == nil {
		return ""
	}
	need := float64(boundRatePerS) * float64(boundLatencyMS) / 1000
	if float64(cfg.consumers) < 1.5*need {
		return fmt.Sprintf(" A payment consumer holds its message while it waits %d ms for the provider, so %d consumers per service finish at most "+
			"%.0f payments a second; by Little's law %d orders a second × %.1f s = %.1f payments are in flight on average, and bursts need more. "+
			"The queue grows and later orders wait behind it: add consumers.",
			boundLatencyMS, cfg.consumers, float64(cfg.consumers)*1000/float64(boundLatencyMS), boundRatePerS, float64(boundLatencyMS)/1000, need)
	}
	// Enough consumers for the load: say what else the shop saw.
	st, err := getStats(ctx, shop.tg)
	if err != nil {
		return ""
	}
	return fmt.Sprintf(" %d consumers per service can finish %.0f payments a second, more than the load needs; meanwhile %d provider answers "+
		"were lost to timeouts (each costs a consumer %d ms), %d messages were claimed from consumers that held them longer than "+
		"claim_idle_ms (%d ms), and %d were dead-lettered.", cfg.consumers, float64(cfg.consumers)*1000/float64(boundLatencyMS),
		st.Payments.LostAnswers, cfg.provTimeout.Milliseconds(), st.Messages.Claimed, cfg.claimIdle.Milliseconds(), st.Messages.DeadLettered)
}
