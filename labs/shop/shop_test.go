package shop

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// fast is a design whose provider answers at once and always approves.
func fast(extra map[string]any) map[string]any {
	d := map[string]any{"payment_latency_ms": 5, "payment_failure_rate": 0, "duplicate_callback_rate": 0,
		"idempotency_keys": true, "outbox": true}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

func place(tb testing.TB, in *instance, product, qty int) string {
	tb.Helper()
	return callJSON[placed](tb, in, http.MethodPost, "orders", map[string]any{"product_id": product, "qty": qty}, nil, http.StatusAccepted).OrderID
}

func stockOf(tb testing.TB, in *instance, product int) ProductStock {
	tb.Helper()
	return callJSON[ProductStock](tb, in, http.MethodGet, fmt.Sprintf("inventory/%d", product), nil, nil, http.StatusOK)
}

// quiet waits until nothing is in flight and returns the invariant.
func quiet(tb testing.TB, in *instance) InvariantView {
	tb.Helper()
	var v InvariantView
	waitFor(tb, 10*time.Second, "the shop to go quiet", func() bool {
		v = callJSON[InvariantView](tb, in, http.MethodGet, "invariant", nil, nil, http.StatusOK)
		return v.Quiescent
	})
	return v
}

func steps(v OrderView) []string {
	var out []string
	for _, s := range v.Steps {
		out = append(out, s.Service+":"+s.Step)
	}
	return out
}

func hasStep(v OrderView, service, step string, comp bool) bool {
	for _, s := range v.Steps {
		if s.Service == service && s.Step == step && s.Compensation == comp {
			return true
		}
	}
	return false
}

// The saga confirms an approved order and sells its stock, and cancels a
// declined one and releases it, in both saga styles, on both backends.
func TestSagaConfirmsAndCompensates(t *testing.T) {
	for _, e := range labtest.Envs(t, "saga") {
		t.Run(e.Name, func(t *testing.T) {
			for _, saga := range []string{SagaChoreography, SagaOrchestration} {
				t.Run(saga, func(t *testing.T) {
					in := launch(t, withID(e.Env, "saga"+saga[:5]), fast(map[string]any{"saga": saga, "initial_stock": 10}))
					sagaConfirms(t, in, saga)
					sagaCompensates(t, in)
					// Out of stock: rejected by the reservation, nothing charged.
					callJSON[PaymentView](t, in, http.MethodPut, "payment", map[string]any{"failure_rate": 0}, nil, http.StatusOK)
					id := place(t, in, 2, 8)
					if v := waitOrder(t, in, id, 5*time.Second); v.Status != StatusCancelled || v.Reason != "out of stock" || len(v.Charges) != 0 {
						t.Errorf("order beyond the stock: %+v", v)
					}
					if inv := quiet(t, in); !inv.OK || inv.Violations != 0 {
						t.Errorf("invariant: %+v", inv)
					}
				})
			}
		})
	}
}

// sagaConfirms places an order the provider approves and checks its
// saga's steps and the sale.
func sagaConfirms(t *testing.T, in *instance, saga string) {
	t.Helper()
	id := place(t, in, 2, 3)
	waitOrder(t, in, id, 5*time.Second)
	quiet(t, in)
	v := callJSON[OrderView](t, in, http.MethodGet, "orders/"+id, nil, nil, http.StatusOK)
	if v.Status != StatusConfirmed || len(v.Charges) != 1 || v.ChargedCents != 3*Catalogue[1].Price || v.SettleMS == nil {
		t.Fatalf("order %+v", v)
	}
	for _, want := range [][2]string{{SvcOrder, "place order"}, {SvcInventory, "reserve stock"}, {SvcPayment, "authorise payment"},
		{SvcPayment, "payment callback"}, {SvcOrder, "confirm order"}, {SvcInventory, "commit sale"}, {SvcNotification, "notify customer"}} {
		if !hasStep(v, want[0], want[1], false) {
			t.Errorf("no step %v in %v", want, steps(v))
		}
	}
	if saga == SagaOrchestration && !hasStep(v, SvcOrder, "charge payment", false) {
		t.Errorf("orchestration: no orchestrator step in %v", steps(v))
	}
	if s := stockOf(t, in, 2); s.Available != 7 || s.Reserved != 0 || s.Sold != 3 {
		t.Errorf("stock after a sale: %+v", s)
	}
}

// sagaCompensates places an order the provider declines and checks the
// compensations and the released stock.
func sagaCompensates(t *testing.T, in *instance) {
	t.Helper()
	callJSON[PaymentView](t, in, http.MethodPut, "payment", map[string]any{"failure_rate": 1}, nil, http.StatusOK)
	id := place(t, in, 3, 4)
	waitOrder(t, in, id, 5*time.Second)
	quiet(t, in)
	v := callJSON[OrderView](t, in, http.MethodGet, "orders/"+id, nil, nil, http.StatusOK)
	if v.Status != StatusCancelled || v.Reason != "payment declined" || len(v.Charges) != 0 {
		t.Fatalf("declined order %+v", v)
	}
	if !hasStep(v, SvcInventory, "release stock", true) || !hasStep(v, SvcOrder, "cancel order", true) {
		t.Errorf("no compensations in %v", steps(v))
	}
	if s := stockOf(t, in, 3); s.Available != 10 || s.Reserved != 0 || s.Sold != 0 {
		t.Errorf("stock after a release: %+v", s)
	}
}

// A conditional update never oversells; a read-then-write does, and the
// invariant view says so.
func TestReservationUnderConcurrency(t *testing.T) {
	for _, e := range labtest.Envs(t, "conc") {
		t.Run(e.Name, func(t *testing.T) {
			for _, mode := range []string{ReserveConditional, ReserveNaive} {
				t.Run(mode, func(t *testing.T) {
					in := launch(t, withID(e.Env, "conc"+mode[:5]), fast(map[string]any{"reservation": mode, "initial_stock": 30}))
					r := callJSON[BurstResult](t, in, http.MethodPost, "burst", map[string]any{"orders": 120, "product_id": 4, "concurrency": 40}, nil, http.StatusOK)
					inv := quiet(t, in)
					var p ProductInvariant
					for _, pi := range inv.Products {
						if pi.ProductID == 4 {
							p = pi
						}
					}
					t.Logf("%s: %s; invariant %+v", mode, r.Message, p)
					if r.Placed != 120 || r.Pending != 0 {
						t.Fatalf("burst %+v", r)
					}
					if mode == ReserveConditional {
						if r.Confirmed != 30 || !inv.OK || inv.Violations != 0 || p.Sold != 30 || p.Available != 0 {
							t.Errorf("conditional update: %d confirmed, invariant %+v", r.Confirmed, inv)
						}
						return
					}
					if r.Confirmed <= 30 || inv.OK || inv.Violations == 0 || r.Violations == 0 {
						t.Errorf("naive read-then-write did not oversell: %d confirmed, invariant %+v", r.Confirmed, inv)
					}
					if !strings.Contains(strings.Join(p.Problems, ";"), "oversold") {
						t.Errorf("invariant problems %v do not say oversold", p.Problems)
					}
				})
			}
		})
	}
}

// The same Idempotency-Key (header or query) names the same order; another
// body under it is refused; without idempotency keys every retry is new.
func TestIdempotencyKeys(t *testing.T) {
	for _, e := range labtest.Envs(t, "idem") {
		t.Run(e.Name, func(t *testing.T) {
			in := launch(t, withID(e.Env, "idemon"), fast(nil))
			body := map[string]any{"product_id": 1, "qty": 1}
			hdr := map[string]string{"Idempotency-Key": "k-1"}
			a := callJSON[placed](t, in, http.MethodPost, "orders", body, hdr, http.StatusAccepted)
			var wg sync.WaitGroup
			ids := make([]string, 8)
			for i := range ids {
				wg.Add(1)
				go func() {
					defer wg.Done()
					code, raw := call(t, in, http.MethodPost, "orders?idempotency_key=k-1", body, nil)
					ids[i] = fmt.Sprintf("%d %s", code, raw)
				}()
			}
			wg.Wait()
			for _, got := range ids {
				if !strings.HasPrefix(got, "202 ") || !strings.Contains(got, `"order_id":"`+a.OrderID+`"`) {
					t.Errorf("retry answered %s, want 202 with %s", got, a.OrderID)
				}
			}
			code, raw := call(t, in, http.MethodPost, "orders", map[string]any{"product_id": 1, "qty": 2}, hdr)
			if code != http.StatusConflict || !strings.Contains(string(raw), `"fields":{"Idempotency-Key":`) {
				t.Errorf("other body: %d %s", code, raw)
			}
			code, _ = call(t, in, http.MethodPost, "orders?idempotency_key=k-2", body, hdr)
			if code != http.StatusBadRequest {
				t.Errorf("header and query differ: %d", code)
			}
			if l := callJSON[OrderList](t, in, http.MethodGet, "orders", nil, nil, http.StatusOK); len(l.Orders) != 1 {
				t.Errorf("%d orders for one key", len(l.Orders))
			}

			off := launch(t, withID(e.Env, "idemoff"), fast(map[string]any{"idempotency_keys": false}))
			x := callJSON[placed](t, off, http.MethodPost, "orders", body, hdr, http.StatusAccepted)
			y := callJSON[placed](t, off, http.MethodPost, "orders", map[string]any{"product_id": 1, "qty": 2}, hdr, http.StatusAccepted)
			if x.OrderID == y.OrderID {
				t.Errorf("idempotency_keys=false answered the same order twice: %s", x.OrderID)
			}
		})
	}
}

// Replayed callbacks are ignored with idempotency keys and charge again
// without them; redelivered messages are skipped or processed again.
func TestDuplicatesCallbacksAndRedelivery(t *testing.T) {
	for _, e := range labtest.Envs(t, "dups") {
		t.Run(e.Name, func(t *testing.T) {
			for _, idem := range []bool{true, false} {
				t.Run(fmt.Sprint("idempotency_keys=", idem), func(t *testing.T) {
					in := launch(t, withID(e.Env, fmt.Sprint("dups", idem)), fast(map[string]any{"idempotency_keys": idem, "initial_stock": 10}))
					id := place(t, in, 5, 2)
					waitOrder(t, in, id, 5*time.Second)
					quiet(t, in)
					r := callJSON[ReplayResult](t, in, http.MethodPost, "orders/"+id+"/callback?times=3", nil, nil, http.StatusOK)
					want := 1
					if !idem {
						want = 4
					}
					if r.ChargesAfter != want || r.Status != StatusConfirmed || r.Delivered != 3 {
						t.Errorf("after 3 replays: %+v, want %d charges", r, want)
					}
					callJSON[RedeliverResult](t, in, http.MethodPost, "orders/"+id+"/redeliver?message=reserve", nil, nil, http.StatusAccepted)
					quiet(t, in)
					s := stockOf(t, in, 5)
					v := callJSON[OrderView](t, in, http.MethodGet, "orders/"+id, nil, nil, http.StatusOK)
					if idem {
						if s.Available != 8 || s.Reserved != 0 || s.Sold != 2 || !hasStep(v, SvcInventory, "duplicate delivery", false) {
							t.Errorf("redelivery with idempotency keys: %+v, steps %v", s, steps(v))
						}
					} else if s.Reserved != 2 {
						// Reserved again: the leaked units are held by an order already settled.
						t.Errorf("redelivery without idempotency keys: %+v", s)
					}
					code, _ := call(t, in, http.MethodPost, "orders/"+id+"/redeliver?message=release", nil, nil)
					if code != http.StatusConflict {
						t.Errorf("release of a confirmed order: %d", code)
					}
				})
			}
		})
	}
}

// A consumer that dies after its commit leaves its message pending; a
// restart replays it, and another consumer claims it after claim_idle_ms.
func TestConsumerCrashAndClaim(t *testing.T) {
	for _, e := range labtest.Envs(t, "crash") {
		t.Run(e.Name, func(t *testing.T) {
			in := launch(t, withID(e.Env, "crashrestart"), fast(map[string]any{"consumers": 1}))
			callJSON[KillResult](t, in, http.MethodPost, "consumers/inventory/kill", nil, nil, http.StatusOK)
			id := place(t, in, 1, 1)
			var cv ConsumersView
			waitFor(t, 5*time.Second, "the consumer to die", func() bool {
				cv = callJSON[ConsumersView](t, in, http.MethodGet, "consumers", nil, nil, http.StatusOK)
				return !cv.Services[1].Consumers[0].Alive
			})
			// Its reservation and StockReserved were committed (the outbox), so
			// the saga may go on; the message it died in stays pending.
			if s := cv.Services[1]; s.Service != SvcInventory || s.Pending < 1 || s.Consumers[0].DiedIn == "" || s.Consumers[0].Deaths != 1 {
				t.Errorf("after the crash: %+v", s)
			}
			callJSON[KillResult](t, in, http.MethodPost, "consumers/inventory/restart", nil, nil, http.StatusOK)
			waitOrder(t, in, id, 5*time.Second)
			if inv := quiet(t, in); !inv.OK {
				t.Errorf("invariant after the restart: %+v", inv)
			}
			v := callJSON[OrderView](t, in, http.MethodGet, "orders/"+id, nil, nil, http.StatusOK)
			if v.Status != StatusConfirmed || !hasStep(v, SvcInventory, "duplicate delivery", false) || !hasStep(v, SvcInventory, "commit sale", false) {
				t.Errorf("after the restart: %s, steps %v", v.Status, steps(v))
			}

			// Two consumers: the survivor claims the dead one's message.
			cl := launch(t, withID(e.Env, "crashclaim"), fast(map[string]any{"consumers": 2, "claim_idle_ms": 200}))
			callJSON[KillResult](t, cl, http.MethodPost, "consumers/payment/kill?consumer=0&at=after_commit", nil, nil, http.StatusOK)
			var ids []string
			for i := range 4 {
				ids = append(ids, place(t, cl, i+1, 1))
			}
			for _, id := range ids {
				if v := waitOrder(t, cl, id, 5*time.Second); v.Status != StatusConfirmed || len(v.Charges) != 1 {
					t.Errorf("order %s with a dead payment consumer: %s, %d charges", id, v.Status, len(v.Charges))
				}
			}
			quiet(t, cl)
			st := callJSON[State](t, cl, http.MethodGet, "stats", nil, nil, http.StatusOK)
			if st.Messages.Claimed < 1 || st.Messages.DuplicatesSkipped < 1 {
				t.Errorf("no claim: %+v", st.Messages)
			}
		})
	}
}

// With outbox=false a crash after the commit loses the order's first
// message; with the outbox the relay publishes it, and a relay that
// crashes after publishing publishes again, harmlessly.
func TestCrashAfterCommitAndRelay(t *testing.T) {
	for _, e := range labtest.Envs(t, "dual") {
		t.Run(e.Name, func(t *testing.T) {
			dual := launch(t, withID(e.Env, "dualwrite"), fast(map[string]any{"outbox": false}))
			callJSON[map[string]any](t, dual, http.MethodPost, "crash-after-commit?count=2", nil, nil, http.StatusOK)
			for range 2 {
				code, raw := call(t, dual, http.MethodPost, "orders", map[string]any{"product_id": 1, "qty": 1}, nil)
				if code != http.StatusBadGateway || !strings.Contains(string(raw), "stays pending") {
					t.Errorf("crashed placement: %d %s", code, raw)
				}
			}
			ok := place(t, dual, 1, 1)
			waitOrder(t, dual, ok, 5*time.Second)
			time.Sleep(200 * time.Millisecond)
			l := callJSON[OrderList](t, dual, http.MethodGet, "orders", nil, nil, http.StatusOK)
			if l.Counts[StatusPending] != 2 || l.Counts[StatusConfirmed] != 1 {
				t.Errorf("dual write after two crashes: %+v", l.Counts)
			}
			if st := callJSON[State](t, dual, http.MethodGet, "stats", nil, nil, http.StatusOK); st.Messages.LostPublishes != 2 {
				t.Errorf("lost publishes %d, want 2", st.Messages.LostPublishes)
			}
			code, _ := call(t, dual, http.MethodPost, "relay/stop", nil, nil)
			if code != http.StatusConflict {
				t.Errorf("relay/stop without an outbox: %d", code)
			}

			ob := launch(t, withID(e.Env, "outboxed"), fast(nil))
			callJSON[map[string]any](t, ob, http.MethodPost, "crash-after-commit", nil, nil, http.StatusOK)
			code, raw := call(t, ob, http.MethodPost, "orders", map[string]any{"product_id": 2, "qty": 1}, nil)
			if code != http.StatusBadGateway || !strings.Contains(string(raw), "relay publishes it") {
				t.Errorf("crashed placement with the outbox: %d %s", code, raw)
			}
			waitFor(t, 5*time.Second, "the crashed order to settle", func() bool {
				return callJSON[OrderList](t, ob, http.MethodGet, "orders", nil, nil, http.StatusOK).Counts[StatusConfirmed] == 1
			})
			// Stopped relay: rows wait in the outbox.
			quiet(t, ob)
			callJSON[map[string]string](t, ob, http.MethodPost, "relay/stop", nil, nil, http.StatusOK)
			id := place(t, ob, 2, 1)
			time.Sleep(300 * time.Millisecond)
			o := callJSON[OutboxView](t, ob, http.MethodGet, "outbox", nil, nil, http.StatusOK)
			if o.Relay != "stopped" || o.Unpublished != 1 || o.Recent[0].PublishedAt != nil {
				t.Errorf("outbox with the relay stopped: %+v", o)
			}
			if v := callJSON[OrderView](t, ob, http.MethodGet, "orders/"+id, nil, nil, http.StatusOK); v.Status != StatusPending || len(v.Steps) != 1 {
				t.Errorf("order moved with the relay stopped: %+v", v)
			}
			callJSON[map[string]string](t, ob, http.MethodPost, "relay/start", nil, nil, http.StatusOK)
			if v := waitOrder(t, ob, id, 5*time.Second); v.Status != StatusConfirmed {
				t.Errorf("after the relay started: %s", v.Status)
			}
			// A relay crash between publishing and marking: published twice, skipped once.
			quiet(t, ob)
			callJSON[map[string]string](t, ob, http.MethodPost, "relay/crash", nil, nil, http.StatusOK)
			id = place(t, ob, 3, 1)
			if v := waitOrder(t, ob, id, 5*time.Second); v.Status != StatusConfirmed || len(v.Charges) != 1 {
				t.Errorf("after a relay crash: %+v", v)
			}
			waitFor(t, 5*time.Second, "the duplicate to be skipped", func() bool {
				v := callJSON[OrderView](t, ob, http.MethodGet, "orders/"+id, nil, nil, http.StatusOK)
				return hasStep(v, SvcInventory, "duplicate delivery", false)
			})
			if o := callJSON[OutboxView](t, ob, http.MethodGet, "outbox", nil, nil, http.StatusOK); o.RelayCrash != 1 || o.Relay != "running" {
				t.Errorf("outbox after a relay crash: %+v", o)
			}
			if inv := quiet(t, ob); !inv.OK {
				t.Errorf("invariant: %+v", inv)
			}
		})
	}
}

// A message no consumer can decode is claimed again until it is
// dead-lettered after max_deliveries.
func TestPoisonIsDeadLettered(t *testing.T) {
	for _, e := range labtest.Envs(t, "poison") {
		t.Run(e.Name, func(t *testing.T) {
			in := launch(t, withID(e.Env, "poison"), fast(map[string]any{"max_deliveries": 2, "claim_idle_ms": 100, "consumers": 2}))
			callJSON[map[string]any](t, in, http.MethodPost, "poison", nil, nil, http.StatusAccepted)
			groups := in.groupsOf(in.svcs[SvcInventory].streams[0]) // inventory and notification both read order events
			type deadLetters struct {
				Count   int64        `json:"count"`
				Entries []DeadLetter `json:"entries"`
			}
			var dl deadLetters
			waitFor(t, 10*time.Second, "the poison message to be dead-lettered", func() bool {
				dl = callJSON[deadLetters](t, in, http.MethodGet, "dead-letters", nil, nil, http.StatusOK)
				return dl.Count == int64(len(groups))
			})
			seen := map[string]bool{}
			for _, e := range dl.Entries {
				seen[e.Group] = true
				if e.Deliveries != "2" || e.Type != TOrderCreated || e.Stream != "stream:orders" {
					t.Errorf("dead letter %+v", e)
				}
			}
			if !seen[SvcInventory] {
				t.Errorf("the inventory group did not dead-letter it: %+v", dl.Entries)
			}
			// The shop still works.
			if v := waitOrder(t, in, place(t, in, 1, 1), 5*time.Second); v.Status != StatusConfirmed {
				t.Errorf("order after a poison message: %s", v.Status)
			}
			quiet(t, in)
		})
	}
}

// Close stops everything and removes keys and rows (launch checks), and
// may be called twice; load runs drive Hit.
func TestCloseAndHit(t *testing.T) {
	for _, e := range labtest.Envs(t, "close") {
		t.Run(e.Name, func(t *testing.T) {
			env := withID(e.Env, "closehit")
			ctx := context.Background()
			li, err := Lab.New(ctx, env, mustDesign(t, fast(nil)))
			if err != nil {
				t.Fatal(err)
			}
			in := li.(*instance)
			sum := labs.RunLoad(ctx, in, labs.LoadSpec{Requests: 40, Concurrency: 8, Keys: 5})
			if sum.ByStatus["202"] != 40 {
				t.Fatalf("load: %+v", sum)
			}
			quiet(t, in)
			st, err := in.State(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s := st.(State); s.Orders.Placed != 40 || s.Orders.Confirmed != 40 || s.Payments.Charges != 40 {
				t.Errorf("state after a load: %+v", s)
			}
			// Work in flight at Close: kill a consumer, leave orders pending.
			callJSON[KillResult](t, in, http.MethodPost, "consumers/payment/kill?consumer=all", nil, nil, http.StatusOK)
			labs.RunLoad(ctx, in, labs.LoadSpec{Requests: 20, Concurrency: 4, Keys: 5})
			if err := in.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if err := in.Close(ctx); err != nil {
				t.Fatalf("second close: %v", err)
			}
			assertGone(t, env)
			env.Metrics.Close()
		})
	}
}
