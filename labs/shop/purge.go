package shop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/sdworkbook/workbook/labs"
)

// orphanReason is why an orphaned shop's pending orders were cancelled.
const orphanReason = "the server running the shop stopped"

// Purge removes a shop whose replica stopped: its pending orders are
// cancelled and the stock they held released (so available + reserved +
// sold = initial stock with nothing reserved, as after a clean stop), then
// its rows and keys go.
func (lab) Purge(ctx context.Context, env labs.Env) error {
	in := &instance{env: env}
	orders, units, err := in.settleOrphan(ctx)
	if err != nil {
		return errors.Join(err, labs.DeleteKeys(ctx, env.Redis, env.Prefix))
	}
	if orders > 0 {
		env.Log.Info("orphaned shop settled before removal", "cancelled_orders", orders, "released_units", units)
	}
	return errors.Join(in.deleteRows(ctx), labs.DeleteKeys(ctx, env.Redis, env.Prefix))
}

// restore seeds a fresh shop, or, resuming, keeps the one in the database
// (when there is one) with its pending orders settled.
func (in *instance) restore(ctx context.Context, resume bool) error {
	if resume {
		var n int
		err := in.env.DB.QueryRowContext(ctx, in.env.Rebind(`SELECT COUNT(*) FROM shop_lab_inventory WHERE instance = ?`), in.env.Instance).Scan(&n)
		if err != nil {
			return err
		}
		if n > 0 {
			orders, units, err := in.settleOrphan(ctx)
			if err != nil {
				return err
			}
			var last sql.NullInt64 // order ids are "o" and a count: go on from the last
			if err := in.env.DB.QueryRowContext(ctx, in.env.Rebind(`SELECT MAX(CAST(SUBSTR(order_id, 2) AS BIGINT)) FROM shop_lab_orders WHERE instance = ?`),
				in.env.Instance).Scan(&last); err != nil {
				return fmt.Errorf("read the last order: %w", err)
			}
			in.nextOrder.Store(last.Int64)
			in.env.Metrics.Eventf("info", "The shop carries on from the database. %d pending orders were cancelled and %d units of stock released: the saga steps they waited on ended with the server that stopped.",
				orders, units)
			return nil
		}
	}
	return in.seed(ctx)
}

// settleOrphan cancels every pending order and releases every held
// reservation, in one transaction; it returns the orders cancelled and
// the units released.
func (in *instance) settleOrphan(ctx context.Context) (orders, units int64, err error) {
	tx, err := in.env.DB.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, err
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, in.env.Rebind(`SELECT product_id, SUM(qty) FROM shop_lab_reservations WHERE instance = ? AND state = 'held' GROUP BY product_id`),
		in.env.Instance)
	if err != nil {
		return 0, 0, fmt.Errorf("read held stock: %w", err)
	}
	held := map[int]int64{}
	for rows.Next() {
		var p int
		var q int64
		if err := rows.Scan(&p, &q); err != nil {
			_ = rows.Close()
			return 0, 0, err
		}
		held[p] = q
	}
	_ = rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	for p, q := range held {
		if _, err := tx.ExecContext(ctx, in.env.Rebind(`UPDATE shop_lab_inventory SET available = available + ?, reserved = reserved - ? WHERE instance = ? AND product_id = ?`),
			q, q, in.env.Instance, p); err != nil {
			return 0, 0, fmt.Errorf("release held stock: %w", err)
		}
		units += q
	}
	if _, err := tx.ExecContext(ctx, in.env.Rebind(`UPDATE shop_lab_reservations SET state = 'released' WHERE instance = ? AND state = 'held'`), in.env.Instance); err != nil {
		return 0, 0, fmt.Errorf("release reservations: %w", err)
	}
	res, err := tx.ExecContext(ctx, in.env.Rebind(`UPDATE shop_lab_orders SET status = ?, reason = ?, settled_ms = ? WHERE instance = ? AND status = ?`),
		StatusCancelled, orphanReason, in.env.Now().UnixMilli(), in.env.Instance, StatusPending)
	if err != nil {
		return 0, 0, fmt.Errorf("cancel pending orders: %w", err)
	}
	orders, _ = res.RowsAffected()
	return orders, units, tx.Commit()
}
