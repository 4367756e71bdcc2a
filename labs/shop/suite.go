package shop

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The requirement card's numbers. Each check sets the world the design
// meets (stock on the shelf, how the provider behaves) itself; the design's
// own choices are left alone, except that the concurrency check runs at
// least concCheckConsumers consumers, as its requirement states.
//
// Every duration here is on the lab's clock (see clockedShop): a check
// moves it only when the shop is waiting for time, so it counts the waits
// a design makes and never the machine's speed.
const (
	happyStock, happyProduct, happyQty = 10, 2, 3
	failProduct, failQty               = 3, 4
	fastLatencyMS                      = 10 // a provider answering in 10 ms keeps the functional checks short
	settleWait                         = 8 * time.Second

	concOrders, concStock, concBurst = 200, 50, 50
	concCheckConsumers               = 4
	concLatencyMS                    = 5
	concWait                         = 20 * time.Second
	concSampleEvery                  = 5 * time.Millisecond
	concMaxSamples                   = 200

	idemRetries = 5

	dupOrders, dupReplays = 10, 2
	dupTimeoutRate        = 0.3
	dupReplayWait         = 5 * time.Second // the replayed callbacks' copies and any claims play out

	crashOrders = 12
	crashWait   = 6 * time.Second
	deathWait   = 5 * time.Second // for the armed consumers to meet a message and die

	boundOrders      = 60
	boundRatePerS    = 25
	boundLatencyMS   = 100
	boundFailureRate = 0.1
	boundMS          = 1500
	boundWait        = 15 * time.Second
)

// Check names, as the references name them.
const (
	chkHappy       = "happy path confirms and sells"
	chkDeclined    = "declined payment cancels and releases"
	chkConcurrency = "no overselling under concurrency"
	chkIdempotency = "one order per idempotency key"
	chkCallbacks   = "duplicate callbacks charge once"
	chkCrash       = "crash mid-saga recovers"
	chkBound       = "orders settle within the bound"
)

// goodDesign is the lab's known-good design (with either saga style):
// conditional reservations, idempotency keys everywhere, the outbox, and
// enough consumers for the load.
func goodDesign(saga string) labs.Design {
	return labs.Design{"saga": saga, "reservation": ReserveConditional, "idempotency_keys": true, "outbox": true, "consumers": 4}
}

// references are the exercise's designs with known verdicts: the good one
// in both saga styles and the classic mistakes, each with every check it
// fails. The happy-path and declined checks are failed by no design (the
// tests prove them with a shop whose sale or release step is broken).
func references() []labs.Reference {
	return []labs.Reference{
		{Name: "good-choreography", Design: goodDesign(SagaChoreography)},
		{Name: "good-orchestration", Design: goodDesign(SagaOrchestration)},
		// The crash check's redeliveries reserve one product twice at once.
		{Name: "naive-reservation", Design: labs.Design{"reservation": ReserveNaive, "idempotency_keys": true, "outbox": true},
			Fails: []string{chkConcurrency, chkCrash}},
		{Name: "no-idempotency", Design: labs.Design{"idempotency_keys": false, "outbox": true},
			Fails: []string{chkIdempotency, chkCallbacks, chkCrash}},
		{Name: "dual-write", Design: labs.Design{"idempotency_keys": true, "outbox": false},
			Fails: []string{chkCrash}},
		{Name: "dual-write-no-idempotency", Design: labs.Design{"saga": SagaOrchestration, "idempotency_keys": false, "outbox": false},
			Fails: []string{chkIdempotency, chkCallbacks, chkCrash}},
		{Name: "dead-letter-too-soon", Design: labs.Design{"idempotency_keys": true, "outbox": true, "max_deliveries": 1},
			Fails: []string{chkCrash}},
		{Name: "one-consumer", Design: labs.Design{"idempotency_keys": true, "outbox": true, "consumers": 1},
			Fails: []string{chkBound}},
	}
}

// Exercises are the shop lab's graded tasks.
func (lab) Exercises() []labs.Exercise {
	return []labs.Exercise{{
		ID:    "shop-order-saga",
		Lab:   "shop",
		Title: "An order flow that never oversells and never charges twice",
		Card: []string{
			"A placed order is confirmed once its stock is reserved and its payment authorised, and its units move from available to sold.",
			"A declined payment cancels the order and releases its stock: the shelf ends as it started.",
			fmt.Sprintf("%d concurrent orders for the last %d units of a product confirm exactly %d; the stock never goes negative and always adds up (available + reserved + sold = %d).",
				concOrders, concStock, concStock, concStock),
			"A client retrying POST orders with the same Idempotency-Key gets the same order back: one order, one charge. The same key with a different body is refused with 409.",
			"The payment provider calls back twice and loses some of its answers: every order is charged exactly once.",
			fmt.Sprintf("A consumer that crashes in the middle of a saga step loses nothing: after a restart every order ends confirmed or cancelled within %.0f s, nobody is charged twice, and the stock adds up.",
				crashWait.Seconds()),
			fmt.Sprintf("At %d orders per second, with a provider that answers in %d ms, every order settles (confirmed or cancelled) within %.1f s of being placed.",
				boundRatePerS, boundLatencyMS, float64(boundMS)/1000),
		},
		Scale: "Time-scaled: the provider answers in 5 to 100 ms instead of a second or two, its callbacks come within tens of milliseconds, " +
			"and a crashed consumer is restarted as soon as it has died. Time is judged on the lab's own clock, not the grading machine's: " +
			"each check runs your shop on a clock it moves itself, and moves it only when every service is waiting (for the provider, a timeout, " +
			"claim_idle_ms, a poll). Work takes no time on that clock and every wait takes exactly its length, so a settle time counts the waits " +
			"your design makes (the provider's latency, queueing for a free consumer, timeouts, claims, redeliveries) and never how busy the " +
			"grader is: the same design gets the same times and the same score on any machine. Stock, order counts and rates are as stated. " +
			"Each check sets the shop it runs on itself (stock on the shelf, how the provider behaves): those stand for the world your design meets, not for your choices.",
		Hint: "Read the e-commerce case study: the order saga and its compensations, reserving stock with a conditional update, " +
			"idempotency keys for orders, charges and callbacks, and the transactional outbox. The message queues lesson covers " +
			"consumer groups, claiming pending messages and dead letters.",
		NeedsDB:    true,
		References: references(),
		Checks: []labs.Check{
			{Name: chkHappy, Points: 10, Run: checkHappyPath,
				Requirement: fmt.Sprintf("With %d units of product %d on the shelf and a provider that approves every card, an order for %d is confirmed, "+
					"charged once, and leaves %d available, 0 reserved and %d sold.", happyStock, happyProduct, happyQty, happyStock-happyQty, happyQty)},
			{Name: chkDeclined, Points: 10, Run: checkDeclined,
				Requirement: fmt.Sprintf("With a provider that declines every card, an order for %d units of product %d is cancelled, charged nothing, "+
					"and its reservation is released by a compensating step: %d available, 0 reserved, 0 sold.", failQty, failProduct, happyStock)},
			{Name: chkConcurrency, Points: 20, Run: checkConcurrency,
				Requirement: fmt.Sprintf("%d orders for one unit each of a product with %d units, placed %d at a time (the shop running at least %d consumers per service), "+
					"end with exactly %d confirmed and %d cancelled; the stock never goes negative and available + reserved + sold stays %d.",
					concOrders, concStock, concBurst, concCheckConsumers, concStock, concOrders-concStock, concStock)},
			{Name: chkIdempotency, Points: 15, Run: checkIdempotency,
				Requirement: fmt.Sprintf("POST orders with an Idempotency-Key header, then %d concurrent retries with the same key and body, create one order "+
					"(every answer names it) and one charge; the same key with another body is answered 409.", idemRetries)},
			{Name: chkCallbacks, Points: 15, Run: checkDuplicateCallbacks,
				Requirement: fmt.Sprintf("With every payment callback delivered twice, %.0f%% of the provider's answers lost to timeouts, and each callback replayed "+
					"%d more times, %d orders are confirmed and each is charged exactly once.", dupTimeoutRate*100, dupReplays, dupOrders)},
			{Name: chkCrash, Points: 20, Run: checkCrash,
				Requirement: fmt.Sprintf("Every inventory consumer dies in its next message after committing its change (before publishing or acknowledging), "+
					"and after a restart every one dies again in its next message, this time before committing; %d orders go through this and the dead "+
					"consumers are restarted each time. Within %.0f s of the lab's clock after the last restart every order is confirmed or cancelled, "+
					"none is charged twice, nothing stays reserved, and sold equals the units confirmed.", crashOrders, crashWait.Seconds())},
			{Name: chkBound, Points: 10, Run: checkSettleBound,
				Requirement: fmt.Sprintf("%d orders placed at %d per second, with a provider that answers in %d ms and declines %.0f%% of cards, "+
					"all settle within %d ms of being placed, timed on the lab's clock: the waits your design makes count (the provider's latency, "+
					"queueing for a free consumer, timeouts, claims), the grading machine's speed does not. The message reports p50, p99 and max.",
					boundOrders, boundRatePerS, boundLatencyMS, boundFailureRate*100, boundMS)},
		},
	}}
}

// --- helpers: the learner's routes, as a client would use them ---

// routeError is a route's unexpected answer. The checks send valid
// requests, so a 5xx means Redis or the database failed (the environment).
type routeError struct {
	what string
	rep  labs.Reply
}

func (e *routeError) Error() string {
	return fmt.Sprintf("%s answered %d: %s", e.what, e.rep.Status, strings.TrimSpace(string(e.rep.Body)))
}

// outcomeOf turns a helper's error into the check's outcome.
func outcomeOf(err error) labs.Outcome {
	var re *routeError
	if errors.As(err, &re) && re.rep.Status < http.StatusInternalServerError {
		return labs.Fail("%s", re.Error())
	}
	return labs.Broken(err)
}

// doHeader is labs.Probe.Do with request headers (Probe.Do sends none, and
// the idempotency key travels in a header).
func doHeader(ctx context.Context, p *labs.Probe, method, path string, body any, hdr map[string]string) labs.Reply {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return labs.Reply{Status: http.StatusBadRequest, Body: []byte(err.Error())}
		}
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequestWithContext(ctx, method, "/"+strings.TrimPrefix(path, "/"), rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	labs.HandlerOf(p.Instance).ServeHTTP(w, req)
	return labs.Reply{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
}

func callAs[T any](ctx context.Context, p *labs.Probe, method, path string, body any, want int) (T, error) {
	var v T
	rep := p.Do(ctx, method, path, body)
	if rep.Status != want {
		if err := ctx.Err(); err != nil {
			return v, err
		}
		return v, &routeError{what: method + " " + path, rep: rep}
	}
	if err := rep.JSON(&v); err != nil {
		return v, fmt.Errorf("%s %s: decode %q: %w", method, path, rep.Body, err)
	}
	return v, nil
}

func placeOne(ctx context.Context, p *labs.Probe, product, qty int) (placed, error) {
	return callAs[placed](ctx, p, http.MethodPost, "orders", map[string]any{"product_id": product, "qty": qty}, http.StatusAccepted)
}

func getOrder(ctx context.Context, p *labs.Probe, id string) (OrderView, error) {
	return callAs[OrderView](ctx, p, http.MethodGet, "orders/"+id, nil, http.StatusOK)
}

func getStock(ctx context.Context, p *labs.Probe, product int) (ProductStock, error) {
	return callAs[ProductStock](ctx, p, http.MethodGet, "inventory/"+strconv.Itoa(product), nil, http.StatusOK)
}

func getInvariant(ctx context.Context, p *labs.Probe) (InvariantView, error) {
	return callAs[InvariantView](ctx, p, http.MethodGet, "invariant", nil, http.StatusOK)
}

func listOrders(ctx context.Context, p *labs.Probe) (OrderList, error) {
	return callAs[OrderList](ctx, p, http.MethodGet, "orders?limit="+strconv.Itoa(maxListed), nil, http.StatusOK)
}

// settleOne lets the shop run on its clock until every order has settled
// and nothing is in flight (an order's last inventory step trails its
// settling), or until settleWait has passed; it returns the order and its
// product's stock.
func settleOne(ctx context.Context, s *clockedShop, id string, product int) (OrderView, ProductStock, error) {
	if _, err := s.until(ctx, settleWait, s.quiescent(ctx)); err != nil {
		return OrderView{}, ProductStock{}, err
	}
	v, err := getOrder(ctx, s.p, id)
	if err != nil {
		return v, ProductStock{}, err
	}
	st, err := getStock(ctx, s.p, product)
	return v, st, err
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

func designOf(t *labs.Trial) config { return configOf(t.Design) }

// --- checks ---

func checkHappyPath(ctx context.Context, t *labs.Trial) labs.Outcome {
	shop, err := launchClocked(ctx, t, map[string]any{"initial_stock": happyStock, "payment_failure_rate": 0.0,
		"duplicate_callback_rate": 0.0, "payment_latency_ms": fastLatencyMS})
	if err != nil {
		return labs.Broken(err)
	}
	o, err := placeOne(ctx, shop.p, happyProduct, happyQty)
	if err != nil {
		return outcomeOf(err)
	}
	v, s, err := settleOne(ctx, shop, o.OrderID, happyProduct)
	if err != nil {
		return outcomeOf(err)
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
	o, err := placeOne(ctx, shop.p, failProduct, failQty)
	if err != nil {
		return outcomeOf(err)
	}
	v, s, err := settleOne(ctx, shop, o.OrderID, failProduct)
	if err != nil {
		return outcomeOf(err)
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

// placeMany sends n POST orders for qty of product, conc at a time, and
// returns the ids of the orders placed and the other answers by kind. A
// 5xx answer is the environment's failure.
func placeMany(ctx context.Context, p *labs.Probe, n, conc, product, qty int) ([]string, map[string]int, error) {
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
				o, err := placeOne(ctx, p, product, qty)
				mu.Lock()
				var re *routeError
				switch {
				case err == nil:
					ids = append(ids, o.OrderID)
				case errors.As(err, &re) && re.rep.Status < http.StatusInternalServerError:
					failed[fmt.Sprintf("%d %s", re.rep.Status, strings.TrimSpace(string(re.rep.Body)))]++
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

// linesOf picks the orders named by ids out of GET orders.
func linesOf(ctx context.Context, p *labs.Probe, ids []string) ([]OrderLine, error) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	l, err := listOrders(ctx, p)
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

func checkConcurrency(ctx context.Context, t *labs.Trial) labs.Outcome {
	shop, err := launchClocked(ctx, t, map[string]any{"initial_stock": concStock, "payment_failure_rate": 0.0, "duplicate_callback_rate": 0.0,
		"payment_latency_ms": concLatencyMS, "consumers": max(t.Design.Int("consumers"), concCheckConsumers)})
	if err != nil {
		return labs.Broken(err)
	}
	p := shop.p
	start := shop.now()
	// The orders arrive together: the clock stands still while they are
	// placed, concBurst at a time, and the consumers work on them meanwhile.
	ids, failed, err := placeMany(ctx, p, concOrders, concBurst, 1, 1)
	if err != nil {
		return outcomeOf(err)
	}
	// Then the clock moves until every order has settled. The row is
	// sampled at rest every concSampleEvery of the clock, for the chart and
	// for any moment it went negative or stopped adding up.
	var (
		xs, avail, reserved, sold, sums []float64
		negatives                       []string
		nextSample                      = start
	)
	sample := func() error {
		if shop.now().Before(nextSample) || len(xs) >= concMaxSamples {
			return nil
		}
		nextSample = shop.now().Add(concSampleEvery)
		s, err := getStock(ctx, p, 1)
		if err != nil {
			return err
		}
		at := float64(shop.since(start).Milliseconds())
		xs = append(xs, at)
		avail, reserved, sold = append(avail, float64(s.Available)), append(reserved, float64(s.Reserved)), append(sold, float64(s.Sold))
		sums = append(sums, float64(s.Available+s.Reserved+s.Sold))
		if s.Available < 0 || s.Reserved < 0 || s.Sold < 0 {
			negatives = append(negatives, fmt.Sprintf("%s at %.0f ms", stockText(s), at))
		}
		return nil
	}
	quiet := shop.quiescent(ctx)
	if _, err := shop.until(ctx, concWait, func() (bool, error) {
		if err := sample(); err != nil {
			return false, err
		}
		return quiet()
	}); err != nil {
		return outcomeOf(err)
	}
	took := shop.since(start)
	lines, err := linesOf(ctx, p, ids)
	if err != nil {
		return outcomeOf(err)
	}
	inv, err := getInvariant(ctx, p)
	if err != nil {
		return outcomeOf(err)
	}
	final, err := getStock(ctx, p, 1)
	if err != nil {
		return outcomeOf(err)
	}
	confirmed, cancelled, pending := 0, 0, 0
	var settle []float64
	for _, o := range lines {
		switch o.Status {
		case StatusConfirmed:
			confirmed++
		case StatusCancelled:
			cancelled++
		default:
			pending++
		}
		if o.SettleMS != nil {
			settle = append(settle, float64(*o.SettleMS))
		}
	}
	stats := settleStats(settle)
	limit := float64(concStock)
	chart := &labs.CheckChart{Title: fmt.Sprintf("Product 1 during %d concurrent orders for %d units", concOrders, concStock),
		XLabel: "ms on the lab's clock", YLabel: "units", X: xs, Limit: &limit,
		Series: []labs.ChartSeries{{Name: "available + reserved + sold", Values: sums}, {Name: "available", Values: avail},
			{Name: "reserved", Values: reserved}, {Name: "sold", Values: sold}}}
	seen := fmt.Sprintf("%d orders for one unit each of product 1 (%d in stock): %d confirmed, %d cancelled, %d still pending after %.2f s of the lab's clock; "+
		"the row ends %s (sum %d); the lab counted %d invariant violations.",
		len(ids), concStock, confirmed, cancelled, pending, took.Seconds(), stockText(final),
		final.Available+final.Reserved+final.Sold, inv.Violations)
	var problems []string
	if len(ids) != concOrders {
		problems = append(problems, fmt.Sprintf("only %d of the %d POST orders were accepted (%v)", len(ids), concOrders, failed))
	}
	if confirmed != concStock {
		problems = append(problems, fmt.Sprintf("%d orders were confirmed, not %d", confirmed, concStock))
	}
	if pending > 0 {
		problems = append(problems, fmt.Sprintf("%s never settled", nOrders(pending)))
	}
	if len(negatives) > 0 {
		problems = append(problems, "the stock went negative ("+negatives[0]+")")
	}
	if final.Available+final.Reserved+final.Sold != concStock || inv.Violations > 0 {
		problems = append(problems, fmt.Sprintf("available + reserved + sold did not stay %d", concStock))
	}
	if final.Sold != int64(confirmed) || final.Reserved != 0 {
		problems = append(problems, fmt.Sprintf("sold (%d) does not match the %d confirmed orders, or stock is still reserved", final.Sold, confirmed))
	}
	for _, pi := range inv.Products {
		if pi.ProductID == 1 && !pi.OK && len(problems) == 0 {
			problems = append(problems, "GET invariant reports: "+strings.Join(pi.Problems, "; "))
		}
	}
	if len(problems) == 0 {
		o := labs.Pass("%s Settle p50 %.0f ms, p99 %.0f ms.", seen, stats.P50MS, stats.P99MS)
		o.Chart = chart
		return o
	}
	why := ""
	if designOf(t).reservation == ReserveNaive && confirmed > concStock {
		why = " With reservation=naive_read_then_write each inventory consumer reads available, decides in code, and writes the value it computed; " +
			"consumers that read the same value all reserve, and each overwrites the others' decrement (a lost update), so the shop sells units it does not have. " +
			"UPDATE … SET available = available - qty WHERE available >= qty lets the database decide, and zero rows matched means out of stock."
	}
	o := labs.Fail("%s Wrong: %s.%s", seen, strings.Join(problems, "; "), why)
	o.Chart = chart
	return o
}

func checkIdempotency(ctx context.Context, t *labs.Trial) labs.Outcome {
	shop, err := launchClocked(ctx, t, map[string]any{"initial_stock": 100, "payment_failure_rate": 0.0, "duplicate_callback_rate": 0.0,
		"payment_latency_ms": fastLatencyMS})
	if err != nil {
		return labs.Broken(err)
	}
	p := shop.p
	key := map[string]string{"Idempotency-Key": "checkout-7f3c2a"}
	body := map[string]any{"product_id": 1, "qty": 2}
	first := doHeader(ctx, p, http.MethodPost, "orders", body, key)
	var a placed
	if first.Status != http.StatusAccepted || first.JSON(&a) != nil || a.OrderID == "" {
		return outcomeOf(&routeError{what: "POST orders", rep: first})
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ids  = map[string]int{a.OrderID: 1}
		bads []string
	)
	for range idemRetries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := doHeader(ctx, p, http.MethodPost, "orders", body, key)
			var b placed
			mu.Lock()
			defer mu.Unlock()
			if r.Status != http.StatusAccepted || r.JSON(&b) != nil {
				bads = append(bads, fmt.Sprintf("%d %s", r.Status, strings.TrimSpace(string(r.Body))))
				return
			}
			ids[b.OrderID]++
		}()
	}
	wg.Wait()
	other := doHeader(ctx, p, http.MethodPost, "orders", map[string]any{"product_id": 1, "qty": 3}, key)
	var otherOrder placed
	_ = other.JSON(&otherOrder)
	// Let the saga run, so a duplicate order would also show as a charge.
	if _, err := shop.until(ctx, settleWait, shop.settled); err != nil {
		return outcomeOf(err)
	}
	l, err := listOrders(ctx, p)
	if err != nil {
		return outcomeOf(err)
	}
	pay, err := callAs[PaymentView](ctx, p, http.MethodGet, "payment", nil, http.StatusOK)
	if err != nil {
		return outcomeOf(err)
	}
	orders := l.Counts[StatusPending] + l.Counts[StatusConfirmed] + l.Counts[StatusCancelled]
	names := make([]string, 0, len(ids))
	for id := range ids {
		names = append(names, id)
	}
	sort.Slice(names, func(i, j int) bool { return orderLess(names[i], names[j]) })
	seen := fmt.Sprintf("POST orders with Idempotency-Key %s and %d concurrent retries with the same body were answered with %d different order id(s) (%s); "+
		"the shop holds %d order(s) and the provider charged %d time(s). The same key with another body was answered %d.",
		key["Idempotency-Key"], idemRetries, len(ids), strings.Join(names, ", "), orders, pay.Charges, other.Status)
	var problems []string
	if len(bads) > 0 {
		problems = append(problems, fmt.Sprintf("%d retries were not answered 202 (%s)", len(bads), bads[0]))
	}
	if len(ids) != 1 || orders != 1 {
		problems = append(problems, fmt.Sprintf("%d requests with one key must create one order, not %d", idemRetries+1, max(len(ids), orders)))
	}
	if pay.Charges > 1 {
		problems = append(problems, fmt.Sprintf("the customer was charged %d times", pay.Charges))
	}
	if other.Status != http.StatusConflict {
		what := fmt.Sprintf("answered %d", other.Status)
		if otherOrder.OrderID != "" {
			what += " with order " + otherOrder.OrderID
		}
		problems = append(problems, "the same key with a different body must be refused with 409, but it was "+what)
	}
	if len(problems) == 0 {
		return labs.Pass("%s", seen)
	}
	why := ""
	if !designOf(t).idem {
		why = " With idempotency_keys=false the order service ignores the key: every retry of a checkout whose answer was lost becomes another order and another charge. " +
			"Store the key with a hash of the body and the order id in the same transaction as the order, under a unique constraint."
	}
	return labs.Fail("%s Wrong: %s.%s", seen, strings.Join(problems, "; "), why)
}

func checkDuplicateCallbacks(ctx context.Context, t *labs.Trial) labs.Outcome {
	shop, err := launchClocked(ctx, t, map[string]any{"initial_stock": 100, "payment_failure_rate": 0.0, "duplicate_callback_rate": 1.0,
		"payment_latency_ms": fastLatencyMS})
	if err != nil {
		return labs.Broken(err)
	}
	p := shop.p
	if _, err := callAs[PaymentView](ctx, p, http.MethodPut, "payment", map[string]any{"timeout_rate": dupTimeoutRate}, http.StatusOK); err != nil {
		return outcomeOf(err)
	}
	var ids []string
	for i := range dupOrders {
		o, err := placeOne(ctx, p, i%len(Catalogue)+1, 1)
		if err != nil {
			return outcomeOf(err)
		}
		ids = append(ids, o.OrderID)
	}
	if _, err := shop.until(ctx, settleWait, shop.settled); err != nil {
		return outcomeOf(err)
	}
	// Replay every callback the provider sent, as a provider retrying its
	// webhook would.
	for _, id := range ids {
		rep := p.Do(ctx, http.MethodPost, "orders/"+id+"/callback?times="+strconv.Itoa(dupReplays), nil)
		if rep.Status >= http.StatusInternalServerError {
			return outcomeOf(&routeError{what: "POST orders/" + id + "/callback", rep: rep})
		}
	}
	// Let the copies still on their way, and any message claimed after a
	// lost answer, play out before reading the card statements.
	if _, err := shop.until(ctx, dupReplayWait, shop.quiescent(ctx)); err != nil {
		return outcomeOf(err)
	}
	views, err := ordersOf(ctx, p, ids)
	if err != nil {
		return outcomeOf(err)
	}
	pay, err := callAs[PaymentView](ctx, p, http.MethodGet, "payment", nil, http.StatusOK)
	if err != nil {
		return outcomeOf(err)
	}
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
		o := labs.Pass("%s Every order was charged exactly once.", seen)
		o.Chart = chart
		return o
	}
	why := ""
	if !designOf(t).idem {
		why = " With idempotency_keys=false the payment service captures the money for every copy of an approved callback, and a retried authorisation " +
			"(its answer lost to a timeout) is a new one with its own callback. Record each callback's event id under a unique constraint and skip " +
			"copies, and call the provider with an idempotency key (the order id) so retries return the first result."
	}
	o := labs.Fail("%s Each order must be charged exactly once: %s.%s", seen, listFirst(wrong), why)
	o.Chart = chart
	return o
}

// ordersOf reads the orders named by ids.
func ordersOf(ctx context.Context, p *labs.Probe, ids []string) ([]OrderView, error) {
	views := make([]OrderView, 0, len(ids))
	for _, id := range ids {
		v, err := getOrder(ctx, p, id)
		if err != nil {
			return nil, err
		}
		views = append(views, v)
	}
	return views, nil
}

// listFirst joins the first three of ss and says how many more there are.
func listFirst(ss []string) string {
	const show = 3
	if len(ss) <= show {
		return strings.Join(ss, "; ")
	}
	return strings.Join(ss[:show], "; ") + fmt.Sprintf("; and %d more", len(ss)-show)
}

// crashRound arms every inventory consumer to die at point, places n
// orders, lets the shop run until the armed consumers have died, restarts
// the dead and lets the restarted ones catch up with the current instant.
func crashRound(ctx context.Context, s *clockedShop, consumers, n int, point string) (ids, died []string, err error) {
	p := s.p
	if _, err := callAs[KillResult](ctx, p, http.MethodPost, "consumers/inventory/kill?consumer=all&at="+point, nil, http.StatusOK); err != nil {
		return nil, nil, err
	}
	for i := range n {
		o, err := placeOne(ctx, p, i%len(Catalogue)+1, 1)
		if err != nil {
			return nil, nil, err
		}
		ids = append(ids, o.OrderID)
	}
	// Every armed consumer that gets a message dies in it.
	want := min(consumers, n)
	if _, err := s.until(ctx, deathWait, func() (bool, error) {
		cv, err := callAs[ConsumersView](ctx, p, http.MethodGet, "consumers", nil, http.StatusOK)
		if err != nil {
			return false, err
		}
		died = died[:0]
		for _, sv := range cv.Services {
			for _, c := range sv.Consumers {
				if sv.Service == SvcInventory && !c.Alive {
					died = append(died, c.Name)
				}
			}
		}
		return len(died) >= want, nil
	}); err != nil {
		return nil, nil, err
	}
	if len(died) == 0 {
		return nil, nil, fmt.Errorf("no inventory consumer died (%s) though every one was armed and %d orders were placed", point, n)
	}
	if _, err = callAs[KillResult](ctx, p, http.MethodPost, "consumers/inventory/restart", nil, http.StatusOK); err != nil {
		return nil, nil, err
	}
	return ids, died, s.rest(ctx)
}

func checkCrash(ctx context.Context, t *labs.Trial) labs.Outcome {
	shop, err := launchClocked(ctx, t, map[string]any{"initial_stock": 100, "payment_failure_rate": 0.0, "duplicate_callback_rate": 0.0,
		"payment_latency_ms": fastLatencyMS})
	if err != nil {
		return labs.Broken(err)
	}
	p := shop.p
	cfg := designOf(t)
	// Round one: deaths after the commit (the change is made, its messages
	// are not out, the message is not acknowledged). Round two: deaths
	// before the commit (nothing happened; only a redelivery does the work).
	idsA, diedA, err := crashRound(ctx, shop, cfg.consumers, crashOrders/2, "after_commit")
	if err != nil {
		return outcomeOf(err)
	}
	idsB, diedB, err := crashRound(ctx, shop, cfg.consumers, crashOrders/2, "before_commit")
	if err != nil {
		return outcomeOf(err)
	}
	ids := append(idsA, idsB...)
	// The clock moves until the shop is quiet, or for crashWait: orders
	// still pending then are stuck.
	restarted := shop.now()
	if _, err := shop.until(ctx, crashWait, shop.quiescent(ctx)); err != nil {
		return outcomeOf(err)
	}
	// The invariant first: once it is quiescent no order can turn pending
	// again, so the orders read after it are final.
	inv, err := getInvariant(ctx, p)
	if err != nil {
		return outcomeOf(err)
	}
	views, err := ordersOf(ctx, p, ids)
	if err != nil {
		return outcomeOf(err)
	}
	st, err := callAs[State](ctx, p, http.MethodGet, "stats", nil, http.StatusOK)
	if err != nil {
		return outcomeOf(err)
	}
	took := shop.since(restarted)
	pay, err := callAs[PaymentView](ctx, p, http.MethodGet, "payment", nil, http.StatusOK)
	if err != nil {
		return outcomeOf(err)
	}
	var stuck []string
	confirmed, cancelled := 0, 0
	for _, v := range views {
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
	for _, pi := range inv.Products {
		for _, pr := range pi.Problems {
			problemsStock = append(problemsStock, fmt.Sprintf("product %d: %s", pi.ProductID, pr))
		}
	}
	seen := fmt.Sprintf("%d inventory consumers died after committing their change and before publishing or acknowledging, and %d died before committing; "+
		"after their restarts, %d of %d orders were confirmed, %d cancelled and %d still pending %.1f s later on the lab's clock.",
		len(diedA), len(diedB), confirmed, len(ids), cancelled, len(stuck), took.Seconds())
	if len(stuck) > 0 && inv.Idle {
		seen += " Nothing was left in flight to move the pending ones on."
	}
	var problems []string
	if len(stuck) > 0 {
		problems = append(problems, fmt.Sprintf("%s never settled: %s", nOrders(len(stuck)), listFirst(stuck)))
	}
	if len(pay.ChargedTwice) > 0 {
		problems = append(problems, fmt.Sprintf("%s charged more than once (%s has %d charges)",
			nOrders(len(pay.ChargedTwice)), pay.ChargedTwice[0].OrderID, len(pay.ChargedTwice[0].Charges)))
	}
	if len(stuck) == 0 && len(problemsStock) > 0 {
		problems = append(problems, "the stock does not add up: "+listFirst(problemsStock))
	}
	if len(problems) == 0 {
		return labs.Pass("%s Nobody was charged twice and the stock adds up (%d duplicate deliveries skipped).", seen, st.Messages.DuplicatesSkipped)
	}
	var why []string
	if st.Messages.DeadLettered > 0 {
		why = append(why, fmt.Sprintf("%d messages were dead-lettered: with max_deliveries=%d a message that has to be delivered again after a crash "+
			"is given up instead of processed, and a consumer that died before its commit had done none of the work", st.Messages.DeadLettered, cfg.maxDeliver))
	}
	if !cfg.outbox && len(stuck) > 0 {
		w := "with outbox=false a service commits and then publishes; the consumers that died between the two never published the messages their " +
			"commits should have produced"
		if cfg.idem {
			w += ", and the restarted consumers found those messages already processed and skipped them, so nothing will ever move these orders on"
		}
		why = append(why, w+". Write the messages to an outbox table in the same transaction and let a relay publish them")
	}
	if cfg.reservation == ReserveNaive && len(problemsStock) > 0 {
		why = append(why, "with reservation=naive_read_then_write the restarted consumers redelivered their messages at once, and two of them "+
			"reserved the same product: each read available, computed its own value and wrote it, so one decrement was lost (a lost update). "+
			"UPDATE … SET available = available - qty WHERE available >= qty lets the database decide")
	}
	if !cfg.idem && (len(problemsStock) > 0 || len(pay.ChargedTwice) > 0) {
		why = append(why, "with idempotency_keys=false the restarted consumers processed the messages they had committed a second time: they reserved "+
			"the stock again and sent StockReserved again, so reservations leaked and the payment service could authorise and charge again. "+
			"Record each message's id as processed in the same transaction as its effects, and skip it when it comes back")
	}
	msg := fmt.Sprintf("%s Wrong: %s.", seen, strings.Join(problems, "; "))
	if len(why) > 0 {
		msg += " " + upperFirst(strings.Join(why, "; ")) + "."
	}
	return labs.Fail("%s", msg)
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

func checkSettleBound(ctx context.Context, t *labs.Trial) labs.Outcome {
	shop, err := launchClocked(ctx, t, map[string]any{"initial_stock": 1000, "payment_failure_rate": boundFailureRate, "duplicate_callback_rate": 0.0,
		"payment_latency_ms": boundLatencyMS})
	if err != nil {
		return labs.Broken(err)
	}
	p := shop.p
	// One order every interval of the lab's clock; between two orders the
	// clock moves timer by timer, so the shop does everything due meanwhile.
	interval := time.Second / boundRatePerS
	start := shop.now()
	var ids []string
	for i := range boundOrders {
		if err := shop.advanceTo(ctx, start.Add(time.Duration(i)*interval)); err != nil {
			return outcomeOf(err)
		}
		o, err := placeOne(ctx, p, i%len(Catalogue)+1, 1)
		if err != nil {
			return outcomeOf(err)
		}
		ids = append(ids, o.OrderID)
	}
	want := map[string]int{}
	for i, id := range ids {
		want[id] = i
	}
	if _, err := shop.until(ctx, boundWait, shop.settled); err != nil {
		return outcomeOf(err)
	}
	lines, err := linesOf(ctx, p, ids)
	if err != nil {
		return outcomeOf(err)
	}
	xs, ys := make([]float64, len(ids)), make([]float64, len(ids))
	var settle []float64
	pending, over, confirmed, cancelled := 0, 0, 0, 0
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	for _, o := range lines {
		i := want[o.OrderID]
		switch o.Status {
		case StatusConfirmed:
			confirmed++
		case StatusCancelled:
			cancelled++
		}
		if o.SettleMS == nil {
			pending++
			ys[i] = float64(boundWait.Milliseconds())
			continue
		}
		ys[i] = float64(*o.SettleMS)
		settle = append(settle, ys[i])
		if *o.SettleMS > boundMS {
			over++
		}
	}
	s := settleStats(settle)
	limit := float64(boundMS)
	chart := &labs.CheckChart{Title: fmt.Sprintf("Settle time of each order (%d per second, provider %d ms)", boundRatePerS, boundLatencyMS),
		XLabel: "order", YLabel: "ms from placed to settled, on the lab's clock", X: xs, Limit: &limit,
		Series: []labs.ChartSeries{{Name: "settle time", Values: ys}}}
	cfg := designOf(t)
	seen := fmt.Sprintf("%d orders at %d per second with saga=%s: %d confirmed, %d cancelled; settle time on the lab's clock p50 %.0f ms, p99 %.0f ms, max %.0f ms (at most %d ms allowed).",
		boundOrders, boundRatePerS, cfg.saga, confirmed, cancelled, s.P50MS, s.P99MS, s.MaxMS, boundMS)
	if pending == 0 && over == 0 {
		o := labs.Pass("%s", seen)
		o.Chart = chart
		return o
	}
	var problems []string
	if pending > 0 {
		problems = append(problems, fmt.Sprintf("%s still pending %.0f s after the last was placed", nOrders(pending), boundWait.Seconds()))
	}
	if over > 0 {
		problems = append(problems, fmt.Sprintf("%s took longer than %d ms", nOrders(over), boundMS))
	}
	why := ""
	need := float64(boundRatePerS) * float64(boundLatencyMS) / 1000
	if float64(cfg.consumers) < 1.5*need {
		why = fmt.Sprintf(" A payment consumer holds its message while it waits %d ms for the provider, so %d consumers per service finish at most "+
			"%.0f payments a second; by Little's law %d orders a second × %.1f s = %.1f payments are in flight on average, and bursts need more. "+
			"The queue grows and later orders wait behind it: add consumers.",
			boundLatencyMS, cfg.consumers, float64(cfg.consumers)*1000/float64(boundLatencyMS), boundRatePerS, float64(boundLatencyMS)/1000, need)
	}
	if why == "" {
		// Enough consumers for the load: say what else the shop saw.
		if st, err := callAs[State](ctx, p, http.MethodGet, "stats", nil, http.StatusOK); err == nil {
			why = fmt.Sprintf(" %d consumers per service can finish %.0f payments a second, more than the load needs; meanwhile %d provider answers "+
				"were lost to timeouts (each costs a consumer %d ms), %d messages were claimed from consumers that held them longer than "+
				"claim_idle_ms (%d ms), and %d were dead-lettered.", cfg.consumers, float64(cfg.consumers)*1000/float64(boundLatencyMS),
				st.Payments.LostAnswers, providerTimeout.Milliseconds(), st.Messages.Claimed, cfg.claimIdle.Milliseconds(), st.Messages.DeadLettered)
		}
	}
	o := labs.Fail("%s Wrong: %s.%s", seen, strings.Join(problems, "; "), why)
	o.Chart = chart
	return o
}
