package shop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labhttp"
)

// Bounds of POST burst: it runs on the server, so it is bounded like a
// load run.
const (
	maxBurstOrders = 1000
	maxBurstConc   = 200
	maxBurstWait   = 30000 // ms
	settlePoll     = 50 * time.Millisecond
)

// BurstRequest is POST burst's body. ProductID 0 spreads the orders over
// the catalogue.
type BurstRequest struct {
	Orders      int `json:"orders"`
	Concurrency int `json:"concurrency"`
	ProductID   int `json:"product_id"`
	Qty         int `json:"qty"`
	WaitMS      int `json:"wait_ms"`
}

// BurstResult is POST burst's answer: what the orders became.
type BurstResult struct {
	Orders    int            `json:"orders"`
	Placed    int            `json:"placed"`
	Failed    map[string]int `json:"failed,omitempty"` // POST orders that did not answer 202, by error
	Confirmed int            `json:"confirmed"`
	Cancelled int            `json:"cancelled"`
	Pending   int            `json:"pending"`
	PlaceMS   float64        `json:"place_ms"` // until every POST was answered
	TookMS    float64        `json:"took_ms"`  // until every order settled, or the wait ran out
	Settle    SettleStats    `json:"settle"`
	// Stock is the products the burst ordered, after it.
	Stock []ProductStock `json:"stock"`
	// Violations are the invariant violations counted during the burst.
	Violations int64  `json:"violations"`
	Message    string `json:"message"`
	orderIDs   []string
}

// burstBody is POST burst's body; every field is optional.
type burstBody struct {
	Orders      *int `json:"orders"`
	Concurrency *int `json:"concurrency"`
	ProductID   *int `json:"product_id"`
	Qty         *int `json:"qty"`
	WaitMS      *int `json:"wait_ms"`
}

// request checks the body's values and fills in the defaults.
func (b burstBody) request() (BurstRequest, error) {
	var r BurstRequest
	var err error
	for _, f := range []struct {
		v      *int
		name   string
		lo, hi int
		def    int
		dst    *int
	}{
		{b.Orders, "orders", 1, maxBurstOrders, 100, &r.Orders},
		{b.Concurrency, "concurrency", 1, maxBurstConc, 50, &r.Concurrency},
		{b.ProductID, "product_id", 0, len(Catalogue), 0, &r.ProductID},
		{b.Qty, "qty", 1, MaxQty, 1, &r.Qty},
		{b.WaitMS, "wait_ms", 0, maxBurstWait, 15000, &r.WaitMS},
	} {
		if *f.dst, err = optional(f.v, f.name, f.lo, f.hi, f.def); err != nil {
			return r, err
		}
	}
	return r, nil
}

func (in *instance) handleBurst(w http.ResponseWriter, r *http.Request) error {
	var b burstBody
	if err := decodeOptional(r, &b); err != nil {
		return err
	}
	req, err := b.request()
	if err != nil {
		return err
	}
	if !in.burstMu.TryLock() {
		return labhttp.Conflict("", "A burst is already running on this instance; wait for its answer.")
	}
	defer in.burstMu.Unlock()
	ctx, cancel := labs.WithTimeout(r.Context(), in.pace.clock, time.Duration(req.WaitMS)*time.Millisecond+30*time.Second)
	defer cancel()
	res, err := in.burst(ctx, req)
	if err != nil {
		return failure("run the burst", err)
	}
	labhttp.WriteJSON(w, http.StatusOK, res)
	return nil
}

// burstFailed counts a burst's orders that Redis or the database failed;
// the log has the first error.
const burstFailed = "Redis or the database failed (the server log has the first error)"

// burst places req.Orders orders at once, req.Concurrency at a time, and
// waits up to req.WaitMS for them to settle.
func (in *instance) burst(ctx context.Context, req BurstRequest) (BurstResult, error) {
	res := BurstResult{Orders: req.Orders, Failed: map[string]int{}}
	v0 := in.violations.Load()
	start := in.pace.now()
	products := map[int]bool{}
	for i := range req.Orders {
		products[burstProduct(req, i)] = true
	}
	in.placeBurst(ctx, req, &res)
	res.PlaceMS = ms(in.pace.now().Sub(start))
	res.Placed = len(res.orderIDs)
	if len(res.Failed) == 0 {
		res.Failed = nil
	}
	lines, err := in.waitSettled(ctx, res.orderIDs, time.Duration(req.WaitMS)*time.Millisecond)
	if err != nil && ctx.Err() == nil {
		return res, err
	}
	res.TookMS = ms(in.pace.now().Sub(start))
	var settle []float64
	for _, l := range lines {
		switch l.Status {
		case StatusConfirmed:
			res.Confirmed++
		case StatusCancelled:
			res.Cancelled++
		default:
			res.Pending++
		}
		if l.SettleMS != nil {
			settle = append(settle, float64(*l.SettleMS))
		}
	}
	res.Settle = settleStats(settle)
	stock, err := in.stock(ctx)
	if err != nil {
		return res, err
	}
	for _, s := range stock {
		if products[s.ProductID] {
			res.Stock = append(res.Stock, productStock(s))
		}
	}
	res.Violations = in.violations.Load() - v0
	res.Message = fmt.Sprintf("%d orders placed in %.0f ms: %d confirmed, %d cancelled, %d still pending after %.0f ms; settle p50 %.0f ms, p99 %.0f ms, max %.0f ms; %d invariant violations.",
		res.Placed, res.PlaceMS, res.Confirmed, res.Cancelled, res.Pending, res.TookMS, res.Settle.P50MS, res.Settle.P99MS, res.Settle.MaxMS, res.Violations)
	in.env.Metrics.Eventf("info", "burst: %s", res.Message)
	return res, nil
}

// placeBurst places a burst's orders, req.Concurrency at a time, released
// together, and records them in res.
func (in *instance) placeBurst(ctx context.Context, req BurstRequest, res *BurstResult) {
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		next   = make(chan int)
		gate   = make(chan struct{})
		failed error // the first failure of Redis or the database, for the log
	)
	for range min(req.Concurrency, req.Orders) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate // release them together
			for i := range next {
				p, err := in.placeOrder(ctx, burstProduct(req, i), req.Qty, "")
				mu.Lock()
				switch {
				case err == nil:
					res.orderIDs = append(res.orderIDs, p.OrderID)
				case errors.Is(err, errCrashed):
					res.orderIDs = append(res.orderIDs, p.OrderID) // committed before the crash
					res.Failed["crashed after commit"]++
				case ctx.Err() != nil:
					res.Failed["the burst ran out of time"]++
				default:
					if failed == nil {
						failed = err
					}
					res.Failed[burstFailed]++
				}
				mu.Unlock()
			}
		}()
	}
	close(gate)
	for i := range req.Orders {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if failed != nil { // one log line for the burst, not one per order
		in.env.Log.Error("lab request failed", "request_id", labhttp.RequestID(ctx), "what", "shop burst", "failed", res.Failed[burstFailed], "err", failed)
	}
}

func burstProduct(req BurstRequest, i int) int {
	if req.ProductID > 0 {
		return req.ProductID
	}
	return i%len(Catalogue) + 1
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// waitSettled polls the orders until none is pending or wait runs out on
// the shop's clock, and returns them. It runs in a request, outside the
// account of the shop's own work.
func (in *instance) waitSettled(ctx context.Context, ids []string, wait time.Duration) ([]OrderLine, error) {
	deadline := in.pace.now().Add(wait)
	for {
		lines, err := in.linesOf(ctx, ids)
		if err != nil {
			return nil, err
		}
		pending := 0
		for _, o := range lines {
			if o.Status == StatusPending {
				pending++
			}
		}
		if pending == 0 || !in.pace.now().Before(deadline) {
			return lines, nil
		}
		if err := labs.Sleep(ctx, in.pace.clock, settlePoll); err != nil {
			return lines, err
		}
	}
}
