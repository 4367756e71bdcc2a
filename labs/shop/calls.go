package shop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/sdworkbook/workbook/labs"
)

// The checks' requests: the shop's routes, as a client would use them. An
// error is a *labs.RouteError when a route answered something else than
// it should (labs.OutcomeOf tells the design's failures from the
// environment's), or the environment's failure.

func placeOne(ctx context.Context, tg labs.Target, product, qty int) (placed, error) {
	return labs.CallJSON[placed](ctx, tg, http.MethodPost, "/orders", map[string]any{"product_id": product, "qty": qty}, http.StatusAccepted)
}

func getOrder(ctx context.Context, tg labs.Target, id string) (OrderView, error) {
	return labs.CallJSON[OrderView](ctx, tg, http.MethodGet, "/orders/"+id, nil, http.StatusOK)
}

func getStock(ctx context.Context, tg labs.Target, product int) (ProductStock, error) {
	return labs.CallJSON[ProductStock](ctx, tg, http.MethodGet, "/inventory/"+strconv.Itoa(product), nil, http.StatusOK)
}

func getInvariant(ctx context.Context, tg labs.Target) (InvariantView, error) {
	return labs.CallJSON[InvariantView](ctx, tg, http.MethodGet, "/invariant", nil, http.StatusOK)
}

func listOrders(ctx context.Context, tg labs.Target) (OrderList, error) {
	return labs.CallJSON[OrderList](ctx, tg, http.MethodGet, "/orders?limit="+strconv.Itoa(maxListed), nil, http.StatusOK)
}

func getPayment(ctx context.Context, tg labs.Target) (PaymentView, error) {
	return labs.CallJSON[PaymentView](ctx, tg, http.MethodGet, "/payment", nil, http.StatusOK)
}

func setPayment(ctx context.Context, tg labs.Target, settings map[string]any) error {
	_, err := labs.CallJSON[PaymentView](ctx, tg, http.MethodPut, "/payment", settings, http.StatusOK)
	return err
}

func getStats(ctx context.Context, tg labs.Target) (State, error) {
	return labs.CallJSON[State](ctx, tg, http.MethodGet, "/stats", nil, http.StatusOK)
}

// ordersOf reads the orders named by ids.
func ordersOf(ctx context.Context, tg labs.Target, ids []string) ([]OrderView, error) {
	views := make([]OrderView, 0, len(ids))
	for _, id := range ids {
		v, err := getOrder(ctx, tg, id)
		if err != nil {
			return nil, err
		}
		views = append(views, v)
	}
	return views, nil
}

// linesOf picks the orders named by ids out of GET orders.
func linesOf(ctx context.Context, tg labs.Target, ids []string) ([]OrderLine, error) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	l, err := listOrders(ctx, tg)
	if err != nil {
		return nil, err
	}
	var out []OrderLine
	for _, o := range l.Orders {
		if want[o.OrderID] {
			out = append(out, o)
		}
	}
	return out, nil
}

// placeMany sends n POST orders for qty of product, conc at a time, and
// returns the ids of the orders placed and the other answers by kind. A
// 5xx answer is the environment's failure.
func placeMany(ctx context.Context, tg labs.Target, n, conc, product, qty int) ([]string, map[string]int, error) {
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		ids    []string
		failed = map[string]int{}
		envErr error
		next   = make(chan struct{})
	)
	for range min(conc, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				o, err := placeOne(ctx, tg, product, qty)
				mu.Lock()
				var re *labs.RouteError
				switch {
				case err == nil:
					ids = append(ids, o.OrderID)
				case errors.As(err, &re) && re.Reply.Status < http.StatusInternalServerError:
					failed[fmt.Sprintf("%d %s", re.Reply.Status, strings.TrimSpace(string(re.Reply.Body)))]++
				case envErr == nil:
					envErr = err
				}
				mu.Unlock()
			}
		}()
	}
	for range n {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	sort.Slice(ids, func(i, j int) bool { return orderLess(ids[i], ids[j]) })
	return ids, failed, envErr
}

// timeline is an order's steps in one line each, for messages.
func timeline(v OrderView) string {
	var b strings.Builder
	for i, s := range v.Steps {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "+%d ms %s %s: %s", s.AfterMS, s.Service, s.Step, s.Outcome)
	}
	if b.Len() == 0 {
		return "no steps"
	}
	return b.String()
}

func stepNames(v OrderView) string {
	names := make([]string, 0, len(v.Steps))
	for _, s := range v.Steps {
		if s.Step == "duplicate delivery" || (s.Step == "payment callback" && strings.Contains(s.Outcome, "duplicate")) {
			continue
		}
		names = append(names, s.Step)
	}
	return strings.Join(names, " → ")
}

func stockText(s ProductStock) string {
	return fmt.Sprintf("available %d, reserved %d, sold %d", s.Available, s.Reserved, s.Sold)
}

// listFirst joins the first three of ss and says how many more there are.
func listFirst(ss []string) string {
	const show = 3
	if len(ss) <= show {
		return strings.Join(ss, "; ")
	}
	return strings.Join(ss[:show], "; ") + fmt.Sprintf("; and %d more", len(ss)-show)
}

// nOrders writes n orders, or 1 order.
func nOrders(n int) string {
	if n == 1 {
		return "1 order"
	}
	return strconv.Itoa(n) + " orders"
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// withChart is o with chart drawn under it.
func withChart(o labs.Outcome, chart *labs.CheckChart) labs.Outcome {
	o.Chart = chart
	return o
}
