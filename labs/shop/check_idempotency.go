package shop

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/sdworkbook/workbook/labs"
)

// idemKey is the Idempotency-Key the idempotency check retries with.
const idemKey = "checkout-7f3c2a"

// idemRun is what the idempotency check's requests were answered.
type idemRun struct {
	ids        map[string]int // order ids the answers named, and how often
	bads       []string       // answers other than 202
	other      labs.Reply     // the same key with another body
	otherOrder placed
	orders     int // orders the shop holds afterwards
	charges    int // the provider's charges
}

func checkIdempotency(ctx context.Context, t *labs.Trial) labs.Outcome {
	shop, err := launchClocked(ctx, t, map[string]any{"initial_stock": 100, "payment_failure_rate": 0.0, "duplicate_callback_rate": 0.0,
		"payment_latency_ms": fastLatencyMS})
	if err != nil {
		return labs.Broken(err)
	}
	run, err := retryWithKey(ctx, shop.tg)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	// Let the saga run, so a duplicate order would also show as a charge.
	if _, err := shop.until(ctx, settleWait, shop.settled); err != nil {
		return labs.OutcomeOf(err)
	}
	l, err := listOrders(ctx, shop.tg)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	pay, err := getPayment(ctx, shop.tg)
	if err != nil {
		return labs.OutcomeOf(err)
	}
	run.orders = l.Counts[StatusPending] + l.Counts[StatusConfirmed] + l.Counts[StatusCancelled]
	run.charges = pay.Charges
	return run.verdict(shop.cfg)
}

// retryWithKey places an order with an Idempotency-Key, retries it
// idemRetries times at once with the same key and body, then sends the
// key with another body.
func retryWithKey(ctx context.Context, tg labs.Target) (*idemRun, error) {
	key := http.Header{"Idempotency-Key": {idemKey}}
	body := map[string]any{"product_id": 1, "qty": 2}
	post := func(body any) (labs.Reply, error) {
		return labs.Send(ctx, tg, labs.Request{Method: http.MethodPost, Path: "/orders", Body: body, Header: key})
	}
	first, err := post(body)
	if err != nil {
		return nil, err
	}
	var a placed
	if first.Status != http.StatusAccepted || first.JSON(&a) != nil || a.OrderID == "" {
		return nil, &labs.RouteError{What: "POST /orders", Reply: first}
	}
	run := &idemRun{ids: map[string]int{a.OrderID: 1}}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		envErr error
	)
	for range idemRetries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := post(body)
			var b placed
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				envErr = err
			case r.Status != http.StatusAccepted || r.JSON(&b) != nil:
				run.bads = append(run.bads, fmt.Sprintf("%d %s", r.Status, strings.TrimSpace(string(r.Body))))
			default:
				run.ids[b.OrderID]++
			}
		}()
	}
	wg.Wait()
	if envErr != nil {
		return nil, envErr
	}
	if run.other, err = post(map[string]any{"product_id": 1, "qty": 3}); err != nil {
		return nil, err
	}
	_ = run.other.JSON(&run.otherOrder)
	return run, nil
}

// verdict passes or fails the design on what the requests were answered;
// cfg, when known, explains a failure.
func (run *idemRun) verdict(cfg *config) labs.Outcome {
	names := make([]string, 0, len(run.ids))
	for id := range run.ids {
		names = append(names, id)
	}
	sort.Slice(names, func(i, j int) bool { return orderLess(names[i], names[j]) })
	seen := fmt.Sprintf("POST orders with Idempotency-Key %s and %d concurrent retries with the same body were answered with %d different order id(s) (%s); "+
		"the shop holds %d order(s) and the provider charged %d time(s). The same key with another body was answered %d.",
		idemKey, idemRetries, len(run.ids), strings.Join(names, ", "), run.orders, run.charges, run.other.Status)
	var problems []string
	if len(run.bads) > 0 {
		problems = append(problems, fmt.Sprintf("%d retries were not answered 202 (%s)", len(run.bads), run.bads[0]))
	}
	if len(run.ids) != 1 || run.orders != 1 {
		problems = append(problems, fmt.Sprintf("%d requests with one key must create one order, not %d", idemRetries+1, max(len(run.ids), run.orders)))
	}
	if run.charges > 1 {
		problems = append(problems, fmt.Sprintf("the customer was charged %d times", run.charges))
	}
	if run.other.Status != http.StatusConflict {
		what := fmt.Sprintf("answered %d", run.other.Status)
		if run.otherOrder.OrderID != "" {
			what += " with order " + run.otherOrder.OrderID
		}
		problems = append(problems, "the same key with a different body must be refused with 409, but it was "+what)
	}
	if len(problems) == 0 {
		return labs.Pass("%s", seen)
	}
	why := ""
	if cfg != nil && !cfg.idem {
		why = " With idempotency_keys=false the order service ignores the key: every retry of a checkout whose answer was lost becomes another order and another charge. " +
			"Store the key with a hash of the body and the order id in the same transaction as the order, under a unique constraint."
	}
	return labs.Fail("%s Wrong: %s.%s", seen, strings.Join(problems, "; "), why)
}
