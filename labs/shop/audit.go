package shop

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// auditEvery is how often the auditor samples the backlog and looks for
// oversold products.
const auditEvery = 250 * time.Millisecond

// auditor watches the shop from outside the services: backlog gauges, and
// products whose confirmed orders exceed their stock.
type auditor struct {
	mu       sync.Mutex
	oversold map[int]bool
}

func (a *auditor) run(in *instance) func(ctx context.Context) {
	return func(ctx context.Context) {
		for in.pace.sleep(ctx, in.pace.toTick(auditEvery)) == nil {
			a.pass(ctx, in)
		}
	}
}

func (a *auditor) pass(ctx context.Context, in *instance) {
	if b, err := in.backlog(ctx); err == nil {
		in.env.Metrics.Gauge("pending_messages", float64(b.Pending))
		in.env.Metrics.Gauge("stream_lag", float64(b.Lag))
	}
	if n, err := in.inboxRows(ctx); err == nil {
		in.env.Metrics.Gauge("inbox_rows", float64(n))
	}
	if in.cfg.outbox {
		if n, err := in.outboxBacklog(ctx); err == nil {
			in.env.Metrics.Gauge("outbox_backlog", float64(n))
		}
	}
	confirmed, err := in.confirmedUnits(ctx)
	if err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.oversold == nil {
		a.oversold = map[int]bool{}
	}
	for p, u := range confirmed {
		if u > int64(in.cfg.initialStock) && !a.oversold[p] {
			a.oversold[p] = true
			in.violations.Add(1)
			in.env.Metrics.Count("invariant_violations", 1)
			in.env.Metrics.Eventf("error", "product %d is oversold: %s confirmed to customers, %d were in stock", p, units(u), in.cfg.initialStock)
		}
	}
}

func (in *instance) outboxBacklog(ctx context.Context) (int64, error) {
	var n int64
	err := in.env.DB.QueryRowContext(ctx, in.env.Rebind(`SELECT COUNT(*) FROM shop_lab_outbox WHERE instance = ? AND published_ms IS NULL`),
		in.env.Instance).Scan(&n)
	return n, err
}

// confirmedUnits sums the quantities of confirmed orders per product.
func (in *instance) confirmedUnits(ctx context.Context) (map[int]int64, error) {
	rows, err := in.env.DB.QueryContext(ctx, in.env.Rebind(`SELECT product_id, SUM(qty) FROM shop_lab_orders WHERE instance = ? AND status = ? GROUP BY product_id`),
		in.env.Instance, StatusConfirmed)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int]int64{}
	for rows.Next() {
		var p int
		var u int64
		if err := rows.Scan(&p, &u); err != nil {
			return nil, err
		}
		out[p] = u
	}
	return out, rows.Err()
}

// units writes n units, or 1 unit.
func units(n int64) string {
	if n == 1 {
		return "1 unit"
	}
	return fmt.Sprintf("%d units", n)
}

// rowProblems says how an inventory row breaks the invariant.
func rowProblems(r stockRow) []string {
	var out []string
	if sum := r.Available + r.Reserved + r.Sold; sum != r.Initial {
		out = append(out, fmt.Sprintf("available %d + reserved %d + sold %d = %d, not the initial %d", r.Available, r.Reserved, r.Sold, sum, r.Initial))
	}
	for _, c := range []struct {
		name string
		v    int64
	}{{"available", r.Available}, {"reserved", r.Reserved}, {"sold", r.Sold}} {
		if c.v < 0 {
			out = append(out, fmt.Sprintf("%s is negative (%d)", c.name, c.v))
		}
	}
	return out
}

// checkRow counts a violation when an inventory write left its row broken.
func (in *instance) checkRow(r stockRow, what string) {
	ps := rowProblems(r)
	if len(ps) == 0 {
		return
	}
	in.violations.Add(1)
	in.env.Metrics.Count("invariant_violations", 1)
	in.logf(fmt.Sprintf("row:%d", r.ProductID), "error", "invariant broken by %s on product %d: %s", what, r.ProductID, ps[0])
}

// ProductInvariant is one product's stock and what it should add up to.
type ProductInvariant struct {
	stockRow
	Sum int64 `json:"sum"`
	// ConfirmedUnits are the units of the product's confirmed orders: what
	// the shop has promised customers.
	ConfirmedUnits int64 `json:"confirmed_units"`
	// PendingUnits are the units of its pending orders.
	PendingUnits int64    `json:"pending_units"`
	OK           bool     `json:"ok"`
	Problems     []string `json:"problems"`
}

// InvariantView is GET invariant.
type InvariantView struct {
	Rule string `json:"rule"`
	OK   bool   `json:"ok"`
	// Violations counts inventory writes that left a row broken and
	// products found oversold, since launch.
	Violations int64 `json:"violations"`
	// Quiescent is true when no order is pending, every published message
	// has been delivered and acknowledged, and the outbox is empty: then
	// nothing may be reserved and sold must equal the confirmed units.
	Quiescent bool `json:"quiescent"`
	// Idle is true when no message is in flight and the outbox is empty,
	// whether or not orders are pending: pending orders in an idle shop
	// are stuck, as nothing is left to move them on.
	Idle     bool               `json:"idle"`
	Products []ProductInvariant `json:"products"`
}

func (in *instance) invariant(ctx context.Context) (InvariantView, error) {
	v := InvariantView{Rule: "available + reserved + sold = initial stock; none negative; confirmed units ≤ initial stock; " +
		"once nothing is in flight, reserved = 0 and sold = confirmed units", OK: true}
	// Nothing is in flight when the backlog is empty both before and after
	// the rows are read: the rows then are the shop at rest.
	idle, err := in.idle(ctx)
	if err != nil {
		return v, err
	}
	stock, err := in.stock(ctx)
	if err != nil {
		return v, err
	}
	byStatus := map[string]map[int]int64{}
	rows, err := in.env.DB.QueryContext(ctx, in.env.Rebind(`SELECT status, product_id, SUM(qty) FROM shop_lab_orders WHERE instance = ? GROUP BY status, product_id`),
		in.env.Instance)
	if err != nil {
		return v, err
	}
	for rows.Next() {
		var s string
		var p int
		var u int64
		if err := rows.Scan(&s, &p, &u); err != nil {
			_ = rows.Close()
			return v, err
		}
		if byStatus[s] == nil {
			byStatus[s] = map[int]int64{}
		}
		byStatus[s][p] = u
	}
	_ = rows.Close()
	if err := rows.Err(); err != nil {
		return v, err
	}
	pendingOrders := int64(0)
	for _, u := range byStatus[StatusPending] {
		pendingOrders += u
	}
	idleAfter, err := in.idle(ctx)
	if err != nil {
		return v, err
	}
	v.Idle = idle && idleAfter
	v.Quiescent = v.Idle && pendingOrders == 0
	for _, r := range stock {
		p := ProductInvariant{stockRow: r, Sum: r.Available + r.Reserved + r.Sold, ConfirmedUnits: byStatus[StatusConfirmed][r.ProductID],
			PendingUnits: byStatus[StatusPending][r.ProductID], Problems: rowProblems(r)}
		if p.ConfirmedUnits > r.Initial {
			p.Problems = append(p.Problems, fmt.Sprintf("%s confirmed to customers, %d in stock: oversold by %d", units(p.ConfirmedUnits), r.Initial, p.ConfirmedUnits-r.Initial))
		}
		if v.Quiescent {
			if r.Reserved != 0 {
				p.Problems = append(p.Problems, fmt.Sprintf("%s reserved though no order is pending: a reservation leaked", units(r.Reserved)))
			}
			if r.Sold != p.ConfirmedUnits {
				p.Problems = append(p.Problems, fmt.Sprintf("%s sold but %d confirmed to customers", units(r.Sold), p.ConfirmedUnits))
			}
		}
		if p.Problems == nil {
			p.Problems = []string{}
		}
		p.OK = len(p.Problems) == 0
		v.OK = v.OK && p.OK
		v.Products = append(v.Products, p)
	}
	v.Violations = in.violations.Load()
	return v, nil
}

// idle reports whether every published message has been delivered and
// acknowledged and the outbox is empty.
func (in *instance) idle(ctx context.Context) (bool, error) {
	bl, err := in.backlog(ctx)
	if err != nil || bl.Pending > 0 || bl.Lag > 0 {
		return false, err
	}
	if !in.cfg.outbox {
		return true, nil
	}
	n, err := in.outboxBacklog(ctx)
	return n == 0, err
}

// stock reads every product's inventory row.
func (in *instance) stock(ctx context.Context) ([]stockRow, error) {
	rows, err := in.env.DB.QueryContext(ctx, in.env.Rebind(`SELECT product_id, initial, available, reserved, sold FROM shop_lab_inventory WHERE instance = ? ORDER BY product_id`),
		in.env.Instance)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []stockRow
	for rows.Next() {
		var s stockRow
		if err := rows.Scan(&s.ProductID, &s.Initial, &s.Available, &s.Reserved, &s.Sold); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
