package shop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The flash sale's world: product 1 with flashStock units, checkouts that
// all arrive at one instant of the lab's clock, and a provider that is
// slow, loses some answers, and works on at most flashMaxInFlight
// authorisations at once.
const (
	flashStock        = 50
	flashOrders       = 500 // checkouts in the overselling check
	flashDoubled      = 100 // checkouts sent twice in the idempotency check
	flashPaying       = 50  // checkouts in the bound and call checks: one per unit
	flashConc         = 50  // requests on their way at once
	flashLatencyMS    = 200
	flashTimeoutRate  = 0.2
	flashDupCallbacks = 0.5
	flashMaxInFlight  = 8
	flashBoundMS      = 2000
	flashMaxCallsPer  = 1.4 // provider calls per paid order
	flashWait         = 8 * time.Second
)

// flashRun is what one flash sale showed.
type flashRun struct {
	checkouts int
	twice     bool                       // every checkout was sent twice with its key
	answers   map[string]map[string]bool // key → order ids answered
	bads      map[string]int             // answers other than 202, by status and body
	counts    map[string]int
	confirmed []OrderLine
	stock     ProductStock
	inv       InvariantView
	pay       PaymentView
	took      time.Duration
	settled   bool
}

// flashSale launches the design in the flash sale's world, sends the
// checkouts (twice each when twice is set, at the same instant, with one
// Idempotency-Key per checkout) and lets the shop settle.
func flashSale(ctx context.Context, t *labs.Trial, checkouts int, twice bool) (*flashRun, *clockedShop, error) {
	dups := 0.0
	if twice { // the provider's duplicate callbacks matter where charges are judged
		dups = flashDupCallbacks
	}
	shop, err := launchClocked(ctx, t, map[string]any{"initial_stock": flashStock, "payment_failure_rate": 0.0,
		"duplicate_callback_rate": dups, "payment_latency_ms": flashLatencyMS})
	if err != nil {
		return nil, nil, err
	}
	if err := setPayment(ctx, shop.tg, map[string]any{"timeout_rate": flashTimeoutRate, "max_in_flight": flashMaxInFlight}); err != nil {
		return nil, shop, err
	}
	run := &flashRun{checkouts: checkouts, twice: twice, answers: map[string]map[string]bool{}, bads: map[string]int{}}
	start := shop.now()
	if err := run.send(ctx, shop.tg); err != nil {
		return nil, shop, err
	}
	if run.settled, err = shop.until(ctx, flashWait, shop.quiescent(ctx)); err != nil {
		return nil, shop, err
	}
	run.took = shop.since(start)
	return run, shop, run.measure(ctx, shop.tg)
}

// send posts every checkout (twice each with twice), flashConc requests at
// a time.
func (run *flashRun) send(ctx context.Context, tg labs.Target) error {
	keys := make(chan string)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		envErr error
	)
	for range flashConc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := range keys {
				r, err := labs.Send(ctx, tg, labs.Request{Method: http.MethodPost, Path: "/orders",
					Body: map[string]any{"product_id": 1, "qty": 1}, Header: http.Header{"Idempotency-Key": {key}}})
				var p placed
				mu.Lock()
				switch {
				case err != nil:
					envErr = errors.Join(envErr, err)
				case r.Status >= http.StatusInternalServerError:
					envErr = &labs.RouteError{What: "POST /orders", Reply: r}
				case r.Status != http.StatusAccepted || r.JSON(&p) != nil || p.OrderID == "":
					run.bads[fmt.Sprintf("%d %s", r.Status, string(r.Body))]++
				default:
					if run.answers[key] == nil {
						run.answers[key] = map[string]bool{}
					}
					run.answers[key][p.OrderID] = true
				}
				mu.Unlock()
			}
		}()
	}
	for i := range run.checkouts {
		key := "flash-" + strconv.Itoa(i+1)
		keys <- key
		if run.twice {
			keys <- key // the double click, on its way while the first is
		}
	}
	close(keys)
	wg.Wait()
	return envErr
}

// measure reads the orders, product 1, the invariant and the provider.
func (run *flashRun) measure(ctx context.Context, tg labs.Target) error {
	l, err := labs.CallJSON[OrderList](ctx, tg, http.MethodGet, "/orders?status=confirmed&limit="+strconv.Itoa(maxListed), nil, http.StatusOK)
	if err != nil {
		return err
	}
	run.counts, run.confirmed = l.Counts, l.Orders
	if run.stock, err = getStock(ctx, tg, 1); err != nil {
		return err
	}
	if run.inv, err = getInvariant(ctx, tg); err != nil {
		return err
	}
	run.pay, err = getPayment(ctx, tg)
	return err
}

// orders is how many orders the shop holds.
func (run *flashRun) orders() int {
	return run.counts[StatusPending] + run.counts[StatusConfirmed] + run.counts[StatusCancelled]
}

// maxSettle is the longest settle time of a confirmed order, in ms.
func (run *flashRun) maxSettle() (float64, []float64) {
	var ms []float64
	for _, o := range run.confirmed {
		if o.SettleMS != nil {
			ms = append(ms, float64(*o.SettleMS))
		}
	}
	sort.Float64s(ms)
	if len(ms) == 0 {
		return 0, ms
	}
	return ms[len(ms)-1], ms
}

// seen is the sale in one sentence.
func (run *flashRun) seen() string {
	sent := fmt.Sprintf("%d checkouts", run.checkouts)
	if run.twice {
		sent = fmt.Sprintf("%d checkouts, each sent twice at once with its own Idempotency-Key,", run.checkouts)
	}
	return fmt.Sprintf("%s for product 1 (%d units) at one instant: the shop holds %d orders, %d confirmed, %d cancelled, %d pending "+
		"after %.1f s of the lab's clock; product 1 ends %s. The provider (%d ms, %.0f%% of answers lost, at most %d at once) was called %d times "+
		"(%d refused as too many in flight, %d answers lost) and made %d charges on %d orders.",
		sent, flashStock, run.orders(), run.counts[StatusConfirmed], run.counts[StatusCancelled], run.counts[StatusPending],
		run.took.Seconds(), stockText(run.stock), flashLatencyMS, flashTimeoutRate*100, flashMaxInFlight,
		run.pay.AuthCalls, run.pay.Refused, run.pay.LostAnswers, run.pay.Charges, run.pay.OrdersCharged)
}
