package shop

import (
	"context"
	"fmt"
	"strings"

	"github.com/sdworkbook/workbook/labs"
)

// settleOne lets the shop run on its clock until every order has settled
// and nothing is in flight (an order's last inventory step trails its
// settling), or until settleWait has passed; it returns the order and its
// product's stock.
func settleOne(ctx context.Context, s *clockedShop, id string, product int) (OrderView, ProductStock, error) {
	if _, err := s.until(ctx, settleWait, s.quiescent(ctx)); err != nil {
		return OrderView{}, ProductStock{}, err
	}
	v, err := getOrder(ctx, s.tg, id)
	if err != nil {
		return v, ProductStock{}, err
	}
	st, err := getStock(ctx, s.tg, product)
	return v, st, err
}

func checkHappyPath(ctx context.Context, t *labs.Trial) labs.Outcome {
	shop, err := launchClocked(ctx, t, map[string]any{"initial_stock": happyStock, "payment_failure_rate": 0.0,
		"duplicate_callback_rate": 0.0, "payment_latency_ms": fastLatencyMS})
	if err != nil {
		return labs.Broken(err)
	}
	o, err := placeOne(ctx, shop.tg, happyProduct, happyQty)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	v, s, err := settleOne(ctx, shop, o.OrderID, happyProduct)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	seen := fmt.Sprintf("Order %s for %d × product %d: %s", o.OrderID, happyQty, happyProduct, v.Status)
	if v.SettleMS != nil {
		seen += fmt.Sprintf(" after %d ms", *v.SettleMS)
	}
	seen += fmt.Sprintf(" (%s); the shelf shows %s; charged %d time(s).", stepNames(v), stockText(s), len(v.Charges))
	want := ProductStock{Available: happyStock - happyQty, Reserved: 0, Sold: happyQty}
	switch {
	case v.Status != StatusConfirmed:
		return labs.Fail("%s It should be confirmed: the provider approves every card and there are %d units. Timeline: %s.", seen, happyStock, timeline(v))
	case len(v.Charges) != 1:
		return labs.Fail("%s A confirmed order is charged exactly once.", seen)
	case s.Available != want.Available || s.Reserved != 0 || s.Sold != want.Sold:
		return labs.Fail("%s After a confirmed order for %d the shelf should show %s: the reservation must become a sale. Timeline: %s.",
			seen, happyQty, stockText(want), timeline(v))
	}
	return labs.Pass("%s", seen)
}

func checkDeclined(ctx context.Context, t *labs.Trial) labs.Outcome {
	shop, err := launchClocked(ctx, t, map[string]any{"initial_stock": happyStock, "payment_failure_rate": 1.0,
		"duplicate_callback_rate": 0.0, "payment_latency_ms": fastLatencyMS})
	if err != nil {
		return labs.Broken(err)
	}
	o, err := placeOne(ctx, shop.tg, failProduct, failQty)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	v, s, err := settleOne(ctx, shop, o.OrderID, failProduct)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	compensated := false
	for _, st := range v.Steps {
		if st.Compensation && st.Step == "release stock" && strings.HasPrefix(st.Outcome, "released") {
			compensated = true
		}
	}
	seen := fmt.Sprintf("Order %s for %d × product %d with every card declined: %s", o.OrderID, failQty, failProduct, v.Status)
	if v.Reason != "" {
		seen += " (" + v.Reason + ")"
	}
	seen += fmt.Sprintf(" (%s); the shelf shows %s; charged %d time(s).", stepNames(v), stockText(s), len(v.Charges))
	switch {
	case v.Status != StatusCancelled:
		return labs.Fail("%s A declined payment must cancel the order. Timeline: %s.", seen, timeline(v))
	case len(v.Charges) != 0:
		return labs.Fail("%s A declined order must not be charged.", seen)
	case s.Available != happyStock || s.Reserved != 0 || s.Sold != 0:
		return labs.Fail("%s The reservation must be released (the compensation of reserving): the shelf should be back to available %d, reserved 0, sold 0. Timeline: %s.",
			seen, happyStock, timeline(v))
	case !compensated:
		return labs.Fail("%s The stock is back, but no compensating release step appears in the order's timeline: %s.", seen, timeline(v))
	}
	return labs.Pass("%s The release step is marked as a compensation.", seen)
}
