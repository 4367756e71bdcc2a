package shop

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The exactly-once exercise's world: a steady stream of orders, the
// inventory consumers crashing after their commits and coming back
// onceDown later, and an inbox budget.
const (
	onceOrders     = 80
	onceEvery      = 100 * time.Millisecond // 10 orders a second
	onceArmAt      = 20                     // the consumers are armed to die before this order (2 s in)
	onceDown       = 3 * time.Second        // how long crashed consumers stay down
	onceWait       = 6 * time.Second        // after the last order, for the shop to go quiet
	onceBudgetRows = 300
	onceSampleStep = 100 * time.Millisecond
)

// Check names of the exactly-once exercise, as the references name them.
const (
	chkOnceEffects = "no effect lost or doubled after crashes"
	chkOnceBudget  = "the inbox stays within its storage budget"
)

// onceExercise is step 3: effects exactly once when consumers crash after
// committing, with an inbox sized between the redelivery delay and its
// storage budget.
func onceExercise() labs.Exercise {
	return labs.Exercise{
		ID: "shop-exactly-once", Lab: "shop", Step: 3,
		Title:   "Exactly-once effects: consumers that crash after committing, and an inbox that must not grow forever",
		NeedsDB: true,
		Card: []string{
			fmt.Sprintf("Orders arrive steadily, %d a second, %d in all.", time.Second/onceEvery, onceOrders),
			fmt.Sprintf("Every inventory consumer crashes right after committing its change, before publishing or acknowledging; crashed consumers come back %.0f s later and are handed their unacknowledged messages again.",
				onceDown.Seconds()),
			"No effect is lost or doubled: every order settles, no unit stays reserved or is reserved twice, sold equals the units confirmed, and each order is charged once.",
			fmt.Sprintf("The services' inbox (the message ids they remember to skip copies) never holds more than %d rows at once.", onceBudgetRows),
		},
		Scale: "Time is the lab's own clock: orders come every 100 ms of it, crashed consumers stay down exactly 3 s of it, and the inbox is counted every 100 ms of it, " +
			"so the same design keeps the same number of rows on any machine. The storage budget stands for a real one in gigabytes: " +
			"a real shop takes thousands of orders a second and keeps its inbox for hours, the ratio of rows to budget is what counts.",
		Hint: "An inbox (processed message ids, written in the same transaction as the effect) makes redelivery harmless only while it still remembers the id: " +
			"it must outlive the longest time a copy can take to come back. Every order leaves a few ids behind, so how many rows the inbox holds is the order rate × " +
			"the ids per order × how long they are kept. Read the message queues lesson on at-least-once delivery, idempotent consumers and deduplication windows.",
		Checks: []labs.Check{
			{Name: chkOnceEffects, Points: 60, Run: checkOnceEffects,
				Requirement: fmt.Sprintf("%d orders, one every %d ms of the lab's clock; %.0f s in, every inventory consumer is armed to die in its next message after its commit, "+
					"and the dead come back %.0f s later. Within %.0f s of the last order every order is confirmed, product stock ends with nothing reserved and "+
					"sold equal to the units confirmed, and every order is charged exactly once.",
					onceOrders, onceEvery.Milliseconds(), (onceArmAt * onceEvery).Seconds(), onceDown.Seconds(), onceWait.Seconds())},
			{Name: chkOnceBudget, Points: 40, Run: checkOnceBudget,
				Requirement: fmt.Sprintf("Through the same run, counted every %d ms of the lab's clock (GET inbox), the inbox never holds more than %d message ids.",
					onceSampleStep.Milliseconds(), onceBudgetRows)},
		},
		References: onceReferences(),
	}
}

// onceGood remembers ids for 3.5 s: longer than the 3 s a copy takes to
// come back, short enough for the budget at about 50 new ids a second.
func onceGood() labs.Design {
	return labs.Design{"idempotency_keys": true, "outbox": true, "dedup_retention_ms": 3500}
}

func onceReferences() []labs.Reference {
	bad := func(name string, changes labs.Design, fails ...string) labs.Reference {
		d := onceGood()
		maps.Copy(d, changes)
		return labs.Reference{Name: name, Design: d, Fails: fails}
	}
	return []labs.Reference{
		{Name: "good", Design: onceGood()},
		bad("inbox-kept-forever", labs.Design{"dedup_retention_ms": 0}, chkOnceBudget),
		bad("inbox-forgets-too-soon", labs.Design{"dedup_retention_ms": 1000}, chkOnceEffects),
		bad("no-idempotency", labs.Design{"idempotency_keys": false}, chkOnceEffects),
		bad("dual-write", labs.Design{"outbox": false}, chkOnceEffects),
	}
}

// onceRun is what the exactly-once run showed.
type onceRun struct {
	xs, rows []float64 // inbox rows, by ms on the lab's clock
	peak     int64
	counts   map[string]int
	inv      InvariantView
	pay      PaymentView
	died     int
}

// runOnce streams the orders, crashes the inventory consumers and brings
// them back, and lets the shop settle, counting the inbox as it goes.
func runOnce(ctx context.Context, t *labs.Trial) (*onceRun, *clockedShop, error) {
	shop, err := launchClocked(ctx, t, map[string]any{"initial_stock": 100, "payment_failure_rate": 0.0, "duplicate_callback_rate": 0.0,
		"payment_latency_ms": fastLatencyMS})
	if err != nil {
		return nil, nil, err
	}
	run := &onceRun{}
	start := shop.now()
	next := start
	sample := func() error {
		for !shop.now().Before(next) {
			v, err := labs.CallJSON[InboxView](ctx, shop.tg, http.MethodGet, "/inbox", nil, http.StatusOK)
			if err != nil {
				return err
			}
			run.xs, run.rows = append(run.xs, float64(shop.since(start).Milliseconds())), append(run.rows, float64(v.Rows))
			run.peak = max(run.peak, v.Rows)
			next = shop.now().Add(onceSampleStep)
		}
		return nil
	}
	restartAt := start.Add(onceArmAt*onceEvery + onceDown)
	for i := range onceOrders {
		if err := run.advance(ctx, shop, start.Add(time.Duration(i)*onceEvery), &restartAt, sample); err != nil {
			return nil, shop, err
		}
		if i == onceArmAt {
			if _, err := labs.CallJSON[KillResult](ctx, shop.tg, http.MethodPost, "/consumers/inventory/kill?consumer=all&at=after_commit", nil, http.StatusOK); err != nil {
				return nil, shop, err
			}
		}
		if _, err := placeOne(ctx, shop.tg, i%len(Catalogue)+1, 1); err != nil {
			return nil, shop, err
		}
	}
	quiet := shop.quiescent(ctx)
	if _, err := shop.until(ctx, onceWait, func() (bool, error) {
		if err := sample(); err != nil {
			return false, err
		}
		return quiet()
	}); err != nil {
		return nil, shop, err
	}
	return run, shop, run.measure(ctx, shop.tg)
}

// advance moves the clock to at timer by timer, counting the inbox, and
// restarts the crashed consumers when their time comes.
func (run *onceRun) advance(ctx context.Context, shop *clockedShop, at time.Time, restartAt *time.Time, sample func() error) error {
	for {
		if !restartAt.IsZero() && !shop.now().Before(*restartAt) {
			r, err := labs.Call(ctx, shop.tg, http.MethodPost, "/consumers/inventory/restart", nil)
			if err != nil {
				return err
			}
			var k KillResult
			if r.Status == http.StatusOK && r.JSON(&k) == nil {
				run.died = len(k.Changed)
			}
			*restartAt = time.Time{}
		}
		if err := sample(); err != nil {
			return err
		}
		limit := at
		if !restartAt.IsZero() && restartAt.Before(limit) {
			limit = *restartAt
		}
		moved, err := shop.step(ctx, limit)
		if err != nil {
			return err
		}
		if !moved && !shop.now().Before(at) {
			return sample()
		}
	}
}

func (run *onceRun) measure(ctx context.Context, tg labs.Target) error {
	l, err := listOrders(ctx, tg)
	if err != nil {
		return err
	}
	run.counts = l.Counts
	if run.inv, err = getInvariant(ctx, tg); err != nil {
		return err
	}
	run.pay, err = getPayment(ctx, tg)
	return err
}

func (run *onceRun) seen() string {
	var reserved, sold, confirmedUnits int64
	for _, p := range run.inv.Products {
		reserved, sold, confirmedUnits = reserved+p.Reserved, sold+p.Sold, confirmedUnits+p.ConfirmedUnits
	}
	return fmt.Sprintf("%d orders, %d inventory consumers crashed after their commits and were back %.0f s later: %d confirmed, %d cancelled, %d pending; "+
		"%d units reserved, %d sold for %d confirmed; %d charges on %d orders (%d charged more than once); the inbox held at most %d message ids.",
		onceOrders, run.died, onceDown.Seconds(), run.counts[StatusConfirmed], run.counts[StatusCancelled], run.counts[StatusPending],
		reserved, sold, confirmedUnits, run.pay.Charges, run.pay.OrdersCharged, len(run.pay.ChargedTwice), run.peak)
}

func checkOnceEffects(ctx context.Context, t *labs.Trial) labs.Outcome {
	run, shop, err := runOnce(ctx, t)
	if err != nil {
		return flashBroken(shop, err)
	}
	var problems []string
	if run.counts[StatusConfirmed] != onceOrders {
		problems = append(problems, fmt.Sprintf("%d of %d orders were confirmed (%d never settled)", run.counts[StatusConfirmed], onceOrders, run.counts[StatusPending]))
	}
	for _, p := range run.inv.Products {
		if p.Reserved != 0 || p.Sold != p.ConfirmedUnits {
			problems = append(problems, fmt.Sprintf("product %d ends with %d reserved and %d sold for %d units confirmed", p.ProductID, p.Reserved, p.Sold, p.ConfirmedUnits))
		}
	}
	if run.pay.Charges != run.counts[StatusConfirmed] || len(run.pay.ChargedTwice) > 0 {
		problems = append(problems, fmt.Sprintf("%d charges for %d confirmed orders", run.pay.Charges, run.counts[StatusConfirmed]))
	}
	if len(problems) == 0 {
		return labs.Pass("%s", run.seen())
	}
	return labs.Fail("%s Wrong: %s.%s", run.seen(), listFirst(problems), onceWhy(shop.cfg))
}

// onceWhy explains lost or doubled effects from the design, when known.
func onceWhy(cfg *config) string {
	switch {
	case cfg == nil:
		return ""
	case !cfg.outbox:
		return " With outbox=false a consumer commits and then publishes: the crash came between the two, so the message that would move the order on was never sent, " +
			"and the redelivered copy is skipped as already processed. Write the messages to an outbox in the same transaction."
	case !cfg.idem:
		return " With idempotency_keys=false the consumers keep no inbox: the copy handed back after the restart reserves the stock a second time, " +
			"and that second reservation is never sold or released."
	case cfg.dedupRetention > 0 && cfg.dedupRetention <= onceDown:
		return fmt.Sprintf(" dedup_retention_ms %d ms forgot the message ids before the copies came back (the consumers were down %.0f s): "+
			"each copy was processed as a new message and reserved the stock a second time. Keep ids longer than a copy can take to return.",
			cfg.dedupRetention.Milliseconds(), onceDown.Seconds())
	}
	return ""
}

func checkOnceBudget(ctx context.Context, t *labs.Trial) labs.Outcome {
	run, shop, err := runOnce(ctx, t)
	if err != nil {
		return flashBroken(shop, err)
	}
	limit := float64(onceBudgetRows)
	chart := &labs.CheckChart{Title: "Message ids in the inbox", XLabel: "ms on the lab's clock", YLabel: "rows", X: run.xs, Limit: &limit,
		Series: []labs.ChartSeries{{Name: "inbox rows", Values: run.rows}}}
	seen := fmt.Sprintf("Through %d orders at %d a second the inbox held at most %d message ids (the budget is %d).",
		onceOrders, time.Second/onceEvery, run.peak, onceBudgetRows)
	if run.peak <= onceBudgetRows {
		return withChart(labs.Pass("%s", seen), chart)
	}
	why := ""
	if cfg := shop.cfg; cfg != nil {
		switch {
		case cfg.dedupRetention == 0:
			why = " With dedup_retention_ms 0 every id is kept forever, so the inbox grows with every message. "
		default:
			why = fmt.Sprintf(" dedup_retention_ms %d ms keeps too many: ", cfg.dedupRetention.Milliseconds())
		}
		why += "Each order leaves about five ids (one per service that acts on it), so at 10 orders a second the inbox holds about 50 rows per second of retention: " +
			"keep ids a little longer than a copy can take to come back, and no longer."
	}
	return withChart(labs.Fail("%s%s", seen, strings.TrimRight(why, " ")), chart)
}
