package shop

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strconv"
	"time"
)

// naiveGap is the application's round trip between its read of the stock
// and its write with naive_read_then_write: the window in which another
// consumer reads the same value.
const naiveGap = 3 * time.Millisecond

// Order statuses.
const (
	StatusPending   = "pending"
	StatusConfirmed = "confirmed"
	StatusCancelled = "cancelled"
)

// errKeyReused is an Idempotency-Key sent again with a different body.
type errKeyReused struct{ orderID string }

func (e errKeyReused) Error() string {
	return "this Idempotency-Key was used for a different order (" + e.orderID + ")"
}

// errReplay ends the transaction of a request whose key already has an order.
var errReplay = errors.New("replay")

// placed is the answer to POST orders.
type placed struct {
	OrderID  string `json:"order_id"`
	Status   string `json:"status"`
	replayed bool
}

func bodyHash(productID, qty int) string {
	h := sha256.Sum256([]byte(strconv.Itoa(productID) + "×" + strconv.Itoa(qty)))
	return hex.EncodeToString(h[:8])
}

// placeOrder is the order service's POST orders: a pending order, its
// first saga message, and (with idempotency keys) the key that names it,
// in one transaction.
func (in *instance) placeOrder(ctx context.Context, productID, qty int, key string) (placed, error) {
	id := "o" + strconv.FormatInt(in.nextOrder.Add(1), 10)
	amount := Catalogue[productID-1].Price * int64(qty)
	var res placed
	ctx = context.WithValue(ctx, crashKey{}, crashFunc(func(point string) bool {
		if point != "after_commit" {
			return false
		}
		for {
			n := in.crashAfterCommit.Load()
			if n <= 0 {
				return false
			}
			if in.crashAfterCommit.CompareAndSwap(n, n-1) {
				return true
			}
		}
	}))
	_, err := in.transact(ctx, SvcOrder, nil, func(tx *sql.Tx, w *work) error {
		if key != "" && in.cfg.idem {
			r, err := tx.ExecContext(ctx, in.env.Rebind(`INSERT INTO shop_lab_idempotency (instance, idem_key, body_hash, order_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`),
				in.env.Instance, key, bodyHash(productID, qty), id)
			if err != nil {
				return fmt.Errorf("record the idempotency key: %w", err)
			}
			if n, err := r.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				// Another request holds this key (PostgreSQL made this
				// insert wait for its transaction): answer as it was answered.
				var hash, orderID string
				if err := tx.QueryRowContext(ctx, in.env.Rebind(`SELECT body_hash, order_id FROM shop_lab_idempotency WHERE instance = ? AND idem_key = ?`),
					in.env.Instance, key).Scan(&hash, &orderID); err != nil {
					return fmt.Errorf("read the idempotency key: %w", err)
				}
				if hash != bodyHash(productID, qty) {
					return errKeyReused{orderID}
				}
				res = placed{OrderID: orderID, Status: StatusPending, replayed: true}
				return errReplay
			}
		}
		if _, err := tx.ExecContext(ctx, in.env.Rebind(`INSERT INTO shop_lab_orders (instance, order_id, product_id, qty, amount, status, reason, created_ms)
			VALUES (?, ?, ?, ?, ?, ?, '', ?)`), in.env.Instance, id, productID, qty, amount, StatusPending, in.now().UnixMilli()); err != nil {
			return fmt.Errorf("insert the order: %w", err)
		}
		ev := event{OrderID: id, ProductID: productID, Qty: qty, Amount: amount}
		first := TOrderCreated
		if in.cfg.saga == SagaOrchestration {
			first = TReserveStock
		}
		w.send(first, ev)
		how := "committed, then " + first + " published to the stream (dual write)"
		if in.cfg.outbox {
			how = first + " written to the outbox in the same transaction"
		}
		outcome := fmt.Sprintf("pending: %d × %s, %s; %s", qty, Catalogue[productID-1].Name, money(amount), how)
		if key != "" && in.cfg.idem {
			outcome += "; Idempotency-Key recorded"
		}
		w.step(id, SvcOrder, "place order", outcome, false)
		w.onCommit(func() {
			in.placed.Add(1)
			in.env.Metrics.Count("orders_placed", 1)
		})
		return nil
	})
	switch {
	case errors.Is(err, errReplay):
		return res, nil
	case err != nil:
		return placed{OrderID: id}, err
	}
	return placed{OrderID: id, Status: StatusPending}, nil
}

func money(cents int64) string { return fmt.Sprintf("%d.%02d", cents/100, cents%100) }

// --- order service: the saga's state, and with orchestration its brain ---

func (in *instance) onOrderMsg(ctx context.Context, ev event) error {
	switch ev.Type {
	case TStockReserved:
		if in.cfg.saga == SagaOrchestration {
			return in.orchestrateCharge(ctx, ev)
		}
	case TStockRejected:
		return in.settle(ctx, ev, StatusCancelled, "out of stock", false)
	case TPaymentSucceeded:
		return in.settle(ctx, ev, StatusConfirmed, "", false)
	case TPaymentFailed:
		return in.settle(ctx, ev, StatusCancelled, "payment declined", true)
	}
	return nil // a message this service does not act on
}

// orchestrateCharge is the orchestrator's next step after a reservation.
func (in *instance) orchestrateCharge(ctx context.Context, ev event) error {
	_, err := in.transact(ctx, SvcOrder, &ev, func(tx *sql.Tx, w *work) error {
		status, err := in.orderStatus(ctx, tx, ev.OrderID)
		if err != nil {
			return err
		}
		if status != StatusPending {
			w.step(ev.OrderID, SvcOrder, "charge payment", "not sent: the order is already "+status, false)
			return nil
		}
		w.send(TChargePayment, ev)
		w.step(ev.OrderID, SvcOrder, "charge payment", "stock reserved; ChargePayment sent to the payment service", false)
		return nil
	})
	return err
}

func (in *instance) orderStatus(ctx context.Context, tx *sql.Tx, id string) (string, error) {
	var status string
	err := tx.QueryRowContext(ctx, in.env.Rebind(`SELECT status FROM shop_lab_orders WHERE instance = ? AND order_id = ?`), in.env.Instance, id).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return "missing", nil
	}
	return status, err
}

// settle confirms or cancels an order. The change is conditional on the
// order still being pending, so a second PaymentSucceeded (or a late
// PaymentFailed) changes nothing.
func (in *instance) settle(ctx context.Context, ev event, status, reason string, release bool) error {
	stepName := "confirm order"
	if status == StatusCancelled {
		stepName = "cancel order"
	}
	_, err := in.transact(ctx, SvcOrder, &ev, func(tx *sql.Tx, w *work) error {
		now := in.now()
		var created int64
		err := tx.QueryRowContext(ctx, in.env.Rebind(`UPDATE shop_lab_orders SET status = ?, reason = ?, settled_ms = ?
			WHERE instance = ? AND order_id = ? AND status = ? RETURNING created_ms`),
			status, reason, now.UnixMilli(), in.env.Instance, ev.OrderID, StatusPending).Scan(&created)
		if errors.Is(err, sql.ErrNoRows) {
			cur, err := in.orderStatus(ctx, tx, ev.OrderID)
			if err != nil {
				return err
			}
			w.step(ev.OrderID, SvcOrder, stepName, fmt.Sprintf("no change: %s arrived but the order is already %s", ev.Type, cur), false)
			return nil
		}
		if err != nil {
			return fmt.Errorf("settle order %s: %w", ev.OrderID, err)
		}
		took := now.Sub(time.UnixMilli(created))
		outcome := fmt.Sprintf("%s after %d ms", status, took.Milliseconds())
		if reason != "" {
			outcome = fmt.Sprintf("%s (%s) after %d ms", status, reason, took.Milliseconds())
		}
		// Cancelling is the compensation of placing the order.
		w.step(ev.OrderID, SvcOrder, stepName, outcome, status == StatusCancelled)
		w.onCommit(func() {
			in.env.Metrics.Latency("saga", took)
			if status == StatusConfirmed {
				in.confirmed.Add(1)
				in.env.Metrics.Count("orders_confirmed", 1)
			} else {
				in.cancelled.Add(1)
				in.env.Metrics.Count("orders_cancelled", 1)
			}
		})
		next := event{OrderID: ev.OrderID, ProductID: ev.ProductID, Qty: ev.Qty, Amount: ev.Amount, Reason: reason}
		if in.cfg.saga == SagaOrchestration {
			switch {
			case status == StatusConfirmed:
				w.send(TCommitStock, next)
			case release:
				w.send(TReleaseStock, next)
			}
			w.send(TSendNotification, next)
			return nil
		}
		if status == StatusConfirmed {
			w.send(TOrderConfirmed, next)
		} else {
			next.Release = release
			w.send(TOrderCancelled, next)
		}
		return nil
	})
	return err
}

// Hit places one order of one unit; the key picks the product.
func (in *instance) Hit(ctx context.Context, key string) (int, error) {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key)) // hash.Hash.Write never fails
	_, err := in.placeOrder(ctx, int(h.Sum32()%uint32(len(Catalogue)))+1, 1, "")
	switch {
	case err == nil:
		return http.StatusAccepted, nil
	case errors.Is(err, errCrashed):
		return http.StatusBadGateway, nil
	default:
		return http.StatusServiceUnavailable, err
	}
}
