package shop

import (
	"context"
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
