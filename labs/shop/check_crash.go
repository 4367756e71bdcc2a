package shop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// crashResult is what the crash check saw.
type crashResult struct {
	ids          []string
	diedA, diedB []string // inventory consumers dead after, and before, their commit
	took         time.Duration
	inv          InvariantView
	views        []OrderView
	st           State
	pay          PaymentView
}

func checkCrash(ctx context.Context, t *labs.Trial) labs.Outcome {
	shop, err := launchClocked(ctx, t, map[string]any{"initial_stock": 100, "payment_failure_rate": 0.0, "duplicate_callback_rate": 0.0,
		"payment_latency_ms": fastLatencyMS})
	if err != nil {
		return labs.Broken(err)
	}
	var res crashResult
	// Round one: deaths after the commit (the change is made, its messages
	// are not out, the message is not acknowledged). Round two: deaths
	// before the commit (nothing happened; only a redelivery does the work).
	idsA, diedA, err := crashRound(ctx, shop, crashOrders/2, "after_commit")
	var re *labs.RouteError
	if errors.As(err, &re) && re.Reply.Status == http.StatusNotFound && shop.cfg == nil {
		return labs.Skip("The service has no POST /consumers/inventory/kill, so its consumers cannot be crashed in the middle of a saga step: " +
			"this check needs that route of the shop's contract.")
	}
	if err != nil {
		return labs.OutcomeOf(err)
	}
	idsB, diedB, err := crashRound(ctx, shop, crashOrders/2, "before_commit")
	if err != nil {
		return labs.OutcomeOf(err)
	}
	res.ids, res.diedA, res.diedB = append(idsA, idsB...), diedA, diedB
	if err := res.measure(ctx, shop); err != nil {
		return labs.OutcomeOf(err)
	}
	return res.verdict(shop.cfg)
}

// crashRound arms every inventory consumer to die at point, places n
// orders, lets the shop run until the armed consumers have died, restarts
// the dead and lets the restarted ones catch up with the current instant.
func crashRound(ctx context.Context, s *clockedShop, n int, point string) (ids, died []string, err error) {
	tg := s.tg
	if _, err := labs.CallJSON[KillResult](ctx, tg, http.MethodPost, "/consumers/inventory/kill?consumer=all&at="+point, nil, http.StatusOK); err != nil {
		return nil, nil, err
	}
	for i := range n {
		o, err := placeOne(ctx, tg, i%len(Catalogue)+1, 1)
		if err != nil {
			return nil, nil, err
		}
		ids = append(ids, o.OrderID)
	}
	// Every armed consumer that gets a message dies in it.
	if _, err := s.until(ctx, deathWait, func() (bool, error) {
		cv, err := labs.CallJSON[ConsumersView](ctx, tg, http.MethodGet, "/consumers", nil, http.StatusOK)
		if err != nil {
			return false, err
		}
		consumers := 0
		died = died[:0]
		for _, sv := range cv.Services {
			for _, c := range sv.Consumers {
				if sv.Service == SvcInventory {
					consumers++
					if !c.Alive {
						died = append(died, c.Name)
					}
				}
			}
		}
		return len(died) >= min(consumers, n), nil
	}); err != nil {
		return nil, nil, err
	}
	if len(died) == 0 {
		return nil, nil, fmt.Errorf("no inventory consumer died (%s) though every one was armed and %d orders were placed", point, n)
	}
	if _, err = labs.CallJSON[KillResult](ctx, tg, http.MethodPost, "/consumers/inventory/restart", nil, http.StatusOK); err != nil {
		return nil, nil, err
	}
	return ids, died, s.rest(ctx)
}

// measure moves the clock until the shop is quiet, or for crashWait
// (orders still pending then are stuck), and reads what it came to.
func (res *crashResult) measure(ctx context.Context, shop *clockedShop) error {
	tg := shop.tg
	restarted := shop.now()
	if _, err := shop.until(ctx, crashWait, shop.quiescent(ctx)); err != nil {
		return err
	}
	// The invariant first: once it is quiescent no order can turn pending
	// again, so the orders read after it are final.
	var err error
	if res.inv, err = getInvariant(ctx, tg); err != nil {
		return err
	}
	if res.views, err = ordersOf(ctx, tg, res.ids); err != nil {
		return err
	}
	if res.st, err = getStats(ctx, tg); err != nil {
		return err
	}
	res.took = shop.since(restarted)
	res.pay, err = getPayment(ctx, tg)
	return err
}

// verdict passes the design when every order settled, nobody was charged
// twice and the stock adds up; cfg, when known, explains a failure.
func (res *crashResult) verdict(cfg *config) labs.Outcome {
	var stuck []string
	confirmed, cancelled := 0, 0
	for _, v := range res.views {
		switch v.Status {
		case StatusPending:
			last := "no steps"
			if len(v.Steps) > 0 {
				s := v.Steps[len(v.Steps)-1]
				last = s.Service + " " + s.Step + ": " + s.Outcome
			}
			stuck = append(stuck, fmt.Sprintf("%s (last step: %s)", v.OrderID, last))
		case StatusConfirmed:
			confirmed++
		case StatusCancelled:
			cancelled++
		}
	}
	var problemsStock []string
	for _, pi := range res.inv.Products {
		for _, pr := range pi.Problems {
			problemsStock = append(problemsStock, fmt.Sprintf("product %d: %s", pi.ProductID, pr))
		}
	}
	seen := fmt.Sprintf("%d inventory consumers died after committing their change and before publishing or acknowledging, and %d died before committing; "+
		"after their restarts, %d of %d orders were confirmed, %d cancelled and %d still pending %.1f s later on the lab's clock.",
		len(res.diedA), len(res.diedB), confirmed, len(res.ids), cancelled, len(stuck), res.took.Seconds())
	if len(stuck) > 0 && res.inv.Idle {
		seen += " Nothing was left in flight to move the pending ones on."
	}
	var problems []string
	if len(stuck) > 0 {
		problems = append(problems, fmt.Sprintf("%s never settled: %s", nOrders(len(stuck)), listFirst(stuck)))
	}
	if twice := res.pay.ChargedTwice; len(twice) > 0 {
		problems = append(problems, fmt.Sprintf("%s charged more than once (%s has %d charges)", nOrders(len(twice)), twice[0].OrderID, len(twice[0].Charges)))
	}
	if len(stuck) == 0 && len(problemsStock) > 0 {
		problems = append(problems, "the stock does not add up: "+listFirst(problemsStock))
	}
	if len(problems) == 0 {
		return labs.Pass("%s Nobody was charged twice and the stock adds up (%d duplicate deliveries skipped).", seen, res.st.Messages.DuplicatesSkipped)
	}
	msg := fmt.Sprintf("%s Wrong: %s.", seen, strings.Join(problems, "; "))
	if why := res.why(cfg, len(stuck) > 0, len(problemsStock) > 0); len(why) > 0 {
		msg += " " + upperFirst(strings.Join(why, "; ")) + "."
	}
	return labs.Fail("%s", msg)
}

// why explains the crash check's failure from the design, when known.
func (res *crashResult) why(cfg *config, stuck, badStock bool) []string {
	if cfg == nil {
		return nil
	}
	var why []string
	if dead := res.st.Messages.DeadLettered; dead > 0 {
		why = append(why, fmt.Sprintf("%d messages were dead-lettered: with max_deliveries=%d a message that has to be delivered again after a crash "+
			"is given up instead of processed, and a consumer that died before its commit had done none of the work", dead, cfg.maxDeliver))
	}
	if !cfg.outbox && stuck {
		w := "with outbox=false a service commits and then publishes; the consumers that died between the two never published the messages their " +
			"commits should have produced"
		if cfg.idem {
			w += ", and the restarted consumers found those messages already processed and skipped them, so nothing will ever move these orders on"
		}
		why = append(why, w+". Write the messages to an outbox table in the same transaction and let a relay publish them")
	}
	if cfg.reservation == ReserveNaive && badStock {
		why = append(why, "with reservation=naive_read_then_write the restarted consumers redelivered their messages at once, and two of them "+
			"reserved the same product: each read available, computed its own value and wrote it, so one decrement was lost (a lost update). "+
			"UPDATE … SET available = available - qty WHERE available >= qty lets the database decide")
	}
	if !cfg.idem && (badStock || len(res.pay.ChargedTwice) > 0) {
		why = append(why, "with idempotency_keys=false the restarted consumers processed the messages they had committed a second time: they reserved "+
			"the stock again and sent StockReserved again, so reservations leaked and the payment service could authorise and charge again. "+
			"Record each message's id as processed in the same transaction as its effects, and skip it when it comes back")
	}
	return why
}
