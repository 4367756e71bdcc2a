package shop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// --- inventory service ---

func (in *instance) onInventoryMsg(ctx context.Context, ev event) error {
	switch ev.Type {
	case TOrderCreated, TReserveStock:
		return in.reserve(ctx, ev)
	case TOrderConfirmed, TCommitStock:
		return in.moveReservation(ctx, ev, "sold")
	case TOrderCancelled:
		if !ev.Release {
			return nil
		}
		return in.moveReservation(ctx, ev, "released")
	case TReleaseStock:
		return in.moveReservation(ctx, ev, "released")
	}
	return nil
}

// stockRow is an inventory row as a write left it.
type stockRow struct {
	ProductID int   `json:"product_id"`
	Initial   int64 `json:"initial"`
	Available int64 `json:"available"`
	Reserved  int64 `json:"reserved"`
	Sold      int64 `json:"sold"`
}

const returning = ` RETURNING product_id, initial, available, reserved, sold`

func scanRow(r *sql.Row) (stockRow, error) {
	var s stockRow
	err := r.Scan(&s.ProductID, &s.Initial, &s.Available, &s.Reserved, &s.Sold)
	return s, err
}

// reserve takes stock for an order. conditional_update lets the database
// decide (zero rows matched means not enough stock); naive_read_then_write
// decides in the application on a value read before the write.
func (in *instance) reserve(ctx context.Context, ev event) error {
	var seen int64
	naive := in.cfg.reservation == ReserveNaive
	if naive {
		if err := in.env.DB.QueryRowContext(ctx, in.env.Rebind(`SELECT available FROM shop_lab_inventory WHERE instance = ? AND product_id = ?`),
			in.env.Instance, ev.ProductID).Scan(&seen); err != nil {
			return fmt.Errorf("read stock: %w", err)
		}
		if err := in.pace.sleep(ctx, naiveGap); err != nil {
			return err
		}
	}
	_, err := in.transact(ctx, SvcInventory, &ev, func(tx *sql.Tx, w *work) error {
		var (
			row stockRow
			ok  bool
			err error
		)
		if naive {
			if seen >= int64(ev.Qty) {
				row, err = scanRow(tx.QueryRowContext(ctx, in.env.Rebind(`UPDATE shop_lab_inventory SET available = ?, reserved = reserved + ?
					WHERE instance = ? AND product_id = ?`+returning), seen-int64(ev.Qty), ev.Qty, in.env.Instance, ev.ProductID))
				if err != nil {
					return fmt.Errorf("write stock: %w", err)
				}
				ok = true
			}
		} else {
			row, err = scanRow(tx.QueryRowContext(ctx, in.env.Rebind(`UPDATE shop_lab_inventory SET available = available - ?, reserved = reserved + ?
				WHERE instance = ? AND product_id = ? AND available >= ?`+returning), ev.Qty, ev.Qty, in.env.Instance, ev.ProductID, ev.Qty))
			switch {
			case errors.Is(err, sql.ErrNoRows): // not enough stock: an outcome, not an error
			case err != nil:
				return fmt.Errorf("reserve stock: %w", err)
			default:
				ok = true
			}
		}
		if !ok {
			avail := seen
			if !naive {
				if err := tx.QueryRowContext(ctx, in.env.Rebind(`SELECT available FROM shop_lab_inventory WHERE instance = ? AND product_id = ?`),
					in.env.Instance, ev.ProductID).Scan(&avail); err != nil {
					return err
				}
			}
			w.step(ev.OrderID, SvcInventory, "reserve stock", fmt.Sprintf("rejected: %d of product %d wanted, %d available", ev.Qty, ev.ProductID, avail), false)
			w.send(TStockRejected, event{OrderID: ev.OrderID, ProductID: ev.ProductID, Qty: ev.Qty, Amount: ev.Amount, Reason: "out of stock"})
			return nil
		}
		if _, err := tx.ExecContext(ctx, in.env.Rebind(`INSERT INTO shop_lab_reservations (instance, order_id, product_id, qty, state) VALUES (?, ?, ?, ?, 'held')`),
			in.env.Instance, ev.OrderID, ev.ProductID, ev.Qty); err != nil {
			return fmt.Errorf("record the reservation: %w", err)
		}
		how := "UPDATE … WHERE available >= qty matched the row"
		if naive {
			how = fmt.Sprintf("read %d available, wrote %d", seen, seen-int64(ev.Qty))
		}
		w.step(ev.OrderID, SvcInventory, "reserve stock", fmt.Sprintf("reserved %d of product %d (%s); now available %d, reserved %d, sold %d",
			ev.Qty, ev.ProductID, how, row.Available, row.Reserved, row.Sold), false)
		w.send(TStockReserved, ev)
		w.onCommit(func() { in.checkRow(row, "reserve stock for "+ev.OrderID) })
		return nil
	})
	return err
}

// moveReservation turns an order's held reservation into a sale, or
// releases it (the compensation). The reservation's state change is
// conditional, so a second CommitStock or ReleaseStock moves nothing.
func (in *instance) moveReservation(ctx context.Context, ev event, to string) error {
	stepName, comp := "commit sale", false
	set := `reserved = reserved - ?, sold = sold + ?`
	if to == "released" {
		stepName, comp = "release stock", true
		set = `available = available + ?, reserved = reserved - ?`
	}
	_, err := in.transact(ctx, SvcInventory, &ev, func(tx *sql.Tx, w *work) error {
		var (
			resID int64
			qty   int
		)
		err := tx.QueryRowContext(ctx, in.env.Rebind(`SELECT id, qty FROM shop_lab_reservations WHERE instance = ? AND order_id = ? AND state = 'held' ORDER BY id LIMIT 1`),
			in.env.Instance, ev.OrderID).Scan(&resID, &qty)
		if errors.Is(err, sql.ErrNoRows) {
			w.step(ev.OrderID, SvcInventory, stepName, "nothing to do: the order holds no reservation", comp)
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the reservation: %w", err)
		}
		r, err := tx.ExecContext(ctx, in.env.Rebind(`UPDATE shop_lab_reservations SET state = ? WHERE id = ? AND state = 'held'`), to, resID)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil || n == 0 {
			w.step(ev.OrderID, SvcInventory, stepName, "nothing to do: the reservation was already moved", comp)
			return err
		}
		if (to == "released" && in.skipRelease.Load()) || (to == "sold" && in.skipSale.Load()) {
			return nil // test hook: the step is lost
		}
		row, err := scanRow(tx.QueryRowContext(ctx, in.env.Rebind(`UPDATE shop_lab_inventory SET `+set+` WHERE instance = ? AND product_id = ?`+returning),
			qty, qty, in.env.Instance, ev.ProductID))
		if err != nil {
			return fmt.Errorf("%s: %w", stepName, err)
		}
		outcome := fmt.Sprintf("%d of product %d sold; now available %d, reserved %d, sold %d", qty, ev.ProductID, row.Available, row.Reserved, row.Sold)
		if to == "released" {
			outcome = fmt.Sprintf("released %d of product %d (undoes the reservation); now available %d, reserved %d, sold %d", qty, ev.ProductID, row.Available, row.Reserved, row.Sold)
		}
		w.step(ev.OrderID, SvcInventory, stepName, outcome, comp)
		w.onCommit(func() { in.checkRow(row, stepName+" for "+ev.OrderID) })
		return nil
	})
	return err
}

// --- payment service ---

func (in *instance) onPaymentMsg(ctx context.Context, ev event) error {
	if ev.Type != TStockReserved && ev.Type != TChargePayment {
		return nil
	}
	return in.authorize(ctx, ev)
}

// authorize asks the provider to authorise the order's amount, retrying
// when an answer does not come back in time. The result arrives by
// callback (see webhook). With idempotency keys the call carries a key, so
// a retry (or a redelivered message) returns the first authorisation
// instead of making another.
func (in *instance) authorize(ctx context.Context, ev event) error {
	if in.cfg.idem {
		// A redelivered message the service has processed: skip the
		// provider call (the transaction below would skip it anyway).
		var one int
		err := in.env.DB.QueryRowContext(ctx, in.env.Rebind(`SELECT 1 FROM shop_lab_inbox WHERE instance = ? AND service = ? AND event_id = ?`),
			in.env.Instance, SvcPayment, ev.ID).Scan(&one)
		if err == nil {
			_, err := in.transact(ctx, SvcPayment, &ev, func(*sql.Tx, *work) error { return nil })
			return err
		}
	}
	key := ""
	if in.cfg.idem {
		key = "auth-" + ev.OrderID
	}
	var (
		auth     authorization
		replayed bool
		err      error
		notes    []string
	)
	refusals := 0
	for attempt := 1; attempt <= authAttempts; attempt++ {
		auth, replayed, err = in.prov.authorize(ctx, key, ev)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errProviderBusy) && refusals < maxRefusals {
			// A 429 is no attempt: wait as the provider asks, and call again.
			refusals++
			attempt--
			if err := in.pace.sleep(ctx, busyBackoff); err != nil {
				return err
			}
			continue
		}
		notes = append(notes, fmt.Sprintf("attempt %d: %v", attempt, err))
	}
	if refusals > 0 {
		notes = append(notes, fmt.Sprintf("refused %d times as too many authorisations were in flight, waiting %d ms each time", refusals, busyBackoff.Milliseconds()))
	}
	if err != nil {
		in.addStep(ctx, stepRow{order: ev.OrderID, service: SvcPayment, step: "authorise payment", at: in.now(),
			outcome: fmt.Sprintf("no answer after %d attempts (%s); the message stays pending and is tried again", authAttempts, joinNotes(notes))})
		return err
	}
	_, err = in.transact(ctx, SvcPayment, &ev, func(tx *sql.Tx, w *work) error {
		outcome := fmt.Sprintf("authorisation %s requested for %s", auth.ID, money(ev.Amount))
		if key != "" {
			outcome += " with key " + key
		}
		if replayed {
			outcome += " (the provider recognised the key and returned the first authorisation)"
		}
		if len(notes) > 0 {
			outcome += "; " + joinNotes(notes)
		}
		outcome += "; the result comes by callback"
		w.step(ev.OrderID, SvcPayment, "authorise payment", outcome, false)
		return nil
	})
	return err
}

func joinNotes(ns []string) string {
	s := ""
	for i, n := range ns {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}

// webhook is the payment service's callback endpoint: the provider calls
// it (at least once) with an authorisation's outcome. With idempotency keys
// a callback is recorded by its event id and a copy is ignored, and the
// capture carries a key; without them every copy captures the money again.
func (in *instance) webhook(ctx context.Context, cb callback) error {
	in.callbacks.Add(1)
	in.env.Metrics.Count("callbacks", 1)
	_, err := in.transact(ctx, SvcPayment, nil, func(tx *sql.Tx, w *work) error {
		if in.cfg.idem {
			r, err := tx.ExecContext(ctx, in.env.Rebind(`INSERT INTO shop_lab_provider_events (instance, event_id) VALUES (?, ?) ON CONFLICT DO NOTHING`),
				in.env.Instance, cb.EventID)
			if err != nil {
				return err
			}
			if n, err := r.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				w.step(cb.OrderID, SvcPayment, "payment callback", "duplicate callback "+cb.EventID+" ignored", false)
				w.onCommit(func() {
					in.dupCallbacks.Add(1)
					in.env.Metrics.Count("duplicate_callbacks_ignored", 1)
				})
				return nil
			}
		}
		ev := event{OrderID: cb.OrderID, ProductID: cb.ProductID, Qty: cb.Qty, Amount: cb.Amount, AuthID: cb.AuthID}
		if !cb.Approved {
			outcome := fmt.Sprintf("%s: authorisation %s declined", cb.EventID, cb.AuthID)
			if cb.DeclineReason != "" {
				outcome += " (" + cb.DeclineReason + ")"
			}
			w.step(cb.OrderID, SvcPayment, "payment callback", outcome, false)
			ev.Reason = "payment declined"
			w.send(TPaymentFailed, ev)
			return nil
		}
		capKey := ""
		if in.cfg.idem {
			capKey = "capture-" + cb.OrderID
		}
		capt, fresh := in.prov.capture(cb, capKey)
		if _, err := tx.ExecContext(ctx, in.env.Rebind(`INSERT INTO shop_lab_payments (instance, order_id, auth_id, capture_id, amount) VALUES (?, ?, ?, ?, ?)`),
			in.env.Instance, cb.OrderID, cb.AuthID, capt.ID, capt.Amount); err != nil {
			return err
		}
		outcome := fmt.Sprintf("%s: authorisation %s approved; captured %s (capture %s)", cb.EventID, cb.AuthID, money(capt.Amount), capt.ID)
		if !fresh {
			outcome = fmt.Sprintf("%s: authorisation %s approved; the provider returned capture %s for key %s (no new charge)", cb.EventID, cb.AuthID, capt.ID, capKey)
		}
		w.step(cb.OrderID, SvcPayment, "payment callback", outcome, false)
		w.send(TPaymentSucceeded, ev)
		return nil
	})
	return err
}

// --- notification service ---

func (in *instance) onNotificationMsg(ctx context.Context, ev event) error {
	var what string
	switch {
	case ev.Type == TOrderConfirmed, ev.Type == TSendNotification && ev.Reason == "":
		what = "confirmation email sent"
	case ev.Type == TOrderCancelled, ev.Type == TSendNotification:
		what = "cancellation email sent (" + ev.Reason + ")"
	default:
		return nil
	}
	_, err := in.transact(ctx, SvcNotification, &ev, func(tx *sql.Tx, w *work) error {
		w.step(ev.OrderID, SvcNotification, "notify customer", what, false)
		w.onCommit(func() { in.notifications.Add(1) })
		return nil
	})
	return err
}
