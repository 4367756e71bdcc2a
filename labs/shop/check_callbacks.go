package shop

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/sdworkbook/workbook/labs"
)

func checkDuplicateCallbacks(ctx context.Context, t *labs.Trial) labs.Outcome {
	shop, err := launchClocked(ctx, t, map[string]any{"initial_stock": 100, "payment_failure_rate": 0.0, "duplicate_callback_rate": 1.0,
		"payment_latency_ms": fastLatencyMS})
	if err != nil {
		return labs.Broken(err)
	}
	tg := shop.tg
	if err := setPayment(ctx, tg, map[string]any{"timeout_rate": dupTimeoutRate}); err != nil {
		return labs.OutcomeOf(err)
	}
	var ids []string
	for i := range dupOrders {
		o, err := placeOne(ctx, tg, i%len(Catalogue)+1, 1)
		if err != nil {
			return labs.OutcomeOf(err)
		}
		ids = append(ids, o.OrderID)
	}
	if _, err := shop.until(ctx, settleWait, shop.settled); err != nil {
		return labs.OutcomeOf(err)
	}
	if err := replayCallbacks(ctx, tg, ids); err != nil {
		return labs.OutcomeOf(err)
	}
	// Let the copies still on their way, and any message claimed after a
	// lost answer, play out before reading the card statements.
	if _, err := shop.until(ctx, dupReplayWait, shop.quiescent(ctx)); err != nil {
		return labs.OutcomeOf(err)
	}
	views, err := ordersOf(ctx, tg, ids)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	pay, err := getPayment(ctx, tg)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	return callbacksVerdict(shop.cfg, views, pay)
}

// replayCallbacks replays every callback the provider sent for the
// orders, dupReplays more times each, as a provider retrying its webhook
// would. An order without a callback yet is the design's to explain, not
// an error here.
func replayCallbacks(ctx context.Context, tg labs.Target, ids []string) error {
	for _, id := range ids {
		path := "/orders/" + id + "/callback?times=" + strconv.Itoa(dupReplays)
		rep, err := labs.Call(ctx, tg, http.MethodPost, path, nil)
		if err != nil {
			return err
		}
		if rep.Status >= http.StatusInternalServerError {
			return &labs.RouteError{What: "POST " + path, Reply: rep}
		}
	}
	return nil
}

// callbacksVerdict passes the design when every order was confirmed and
// charged exactly once; cfg, when known, explains a failure.
func callbacksVerdict(cfg *config, views []OrderView, pay PaymentView) labs.Outcome {
	confirmed, charges := 0, 0
	var wrong []string
	xs, ys := make([]float64, len(views)), make([]float64, len(views))
	for i, v := range views {
		xs[i], ys[i] = float64(i+1), float64(len(v.Charges))
		charges += len(v.Charges)
		if v.Status == StatusConfirmed {
			confirmed++
		}
		if len(v.Charges) != 1 || v.Status != StatusConfirmed {
			ids := make([]string, len(v.Charges))
			for j, c := range v.Charges {
				ids[j] = c.ID
			}
			wrong = append(wrong, fmt.Sprintf("%s is %s and was charged %d times (%s)", v.OrderID, v.Status, len(v.Charges), strings.Join(ids, ", ")))
		}
	}
	one := 1.0
	chart := &labs.CheckChart{Title: "Charges on the card statement per order", XLabel: "order", YLabel: "charges", X: xs, Limit: &one,
		Series: []labs.ChartSeries{{Name: "charges", Values: ys}}}
	seen := fmt.Sprintf("%d orders, every callback delivered twice and replayed %d more times, %d of %d provider answers lost to timeouts: "+
		"%d confirmed, %d charges in all (%d callbacks received, %d ignored as duplicates).",
		dupOrders, dupReplays, pay.LostAnswers, pay.AuthCalls, confirmed, charges, pay.Callbacks, pay.Duplicates)
	if len(wrong) == 0 {
		return withChart(labs.Pass("%s Every order was charged exactly once.", seen), chart)
	}
	why := ""
	if cfg != nil && !cfg.idem {
		why = " With idempotency_keys=false the payment service captures the money for every copy of an approved callback, and a retried authorisation " +
			"(its answer lost to a timeout) is a new one with its own callback. Record each callback's event id under a unique constraint and skip " +
			"copies, and call the provider with an idempotency key (the order id) so retries return the first result."
	}
	return withChart(labs.Fail("%s Each order must be charged exactly once: %s.%s", seen, listFirst(wrong), why), chart)
}
