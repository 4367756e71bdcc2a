package shop

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// Step is one step of an order's saga.
type Step struct {
	Step         string    `json:"step"`
	Service      string    `json:"service"`
	At           time.Time `json:"at"`
	AfterMS      int64     `json:"after_ms"` // since the order was placed
	Outcome      string    `json:"outcome"`
	Compensation bool      `json:"compensation"`
}

// OrderView is GET orders/{order_id}.
type OrderView struct {
	OrderID      string     `json:"order_id"`
	ProductID    int        `json:"product_id"`
	Qty          int        `json:"qty"`
	AmountCents  int64      `json:"amount_cents"`
	Status       string     `json:"status"`
	Reason       string     `json:"reason,omitempty"`
	Saga         string     `json:"saga"`
	PlacedAt     time.Time  `json:"placed_at"`
	SettledAt    *time.Time `json:"settled_at,omitempty"`
	SettleMS     *int64     `json:"settle_ms,omitempty"`
	Charges      []Capture  `json:"charges"` // the customer's card statement for this order
	ChargedCents int64      `json:"charged_cents"`
	Steps        []Step     `json:"steps"`
}

var errNoOrder = errors.New("no such order")

func (in *instance) order(ctx context.Context, id string) (OrderView, error) {
	v := OrderView{OrderID: id, Saga: in.cfg.saga}
	var created int64
	var settled sql.NullInt64
	err := in.env.DB.QueryRowContext(ctx, in.env.Rebind(`SELECT product_id, qty, amount, status, reason, created_ms, settled_ms FROM shop_lab_orders WHERE instance = ? AND order_id = ?`),
		in.env.Instance, id).Scan(&v.ProductID, &v.Qty, &v.AmountCents, &v.Status, &v.Reason, &created, &settled)
	if errors.Is(err, sql.ErrNoRows) {
		return v, errNoOrder
	}
	if err != nil {
		return v, err
	}
	v.PlacedAt = time.UnixMilli(created).UTC()
	if settled.Valid {
		t := time.UnixMilli(settled.Int64).UTC()
		d := settled.Int64 - created
		v.SettledAt, v.SettleMS = &t, &d
	}
	v.Charges = in.prov.chargesOf(id)
	for _, c := range v.Charges {
		v.ChargedCents += c.Amount
	}
	rows, err := in.env.DB.QueryContext(ctx, in.env.Rebind(`SELECT step, service, at_ms, outcome, compensation FROM shop_lab_steps WHERE instance = ? AND order_id = ? ORDER BY at_ms, id`),
		in.env.Instance, id)
	if err != nil {
		return v, err
	}
	defer rows.Close()
	v.Steps = []Step{}
	for rows.Next() {
		var s Step
		var at int64
		var comp int
		if err := rows.Scan(&s.Step, &s.Service, &at, &s.Outcome, &comp); err != nil {
			return v, err
		}
		s.At, s.AfterMS, s.Compensation = time.UnixMilli(at).UTC(), at-created, comp != 0
		v.Steps = append(v.Steps, s)
	}
	return v, rows.Err()
}

// OrderLine is an order in GET orders.
type OrderLine struct {
	OrderID   string `json:"order_id"`
	ProductID int    `json:"product_id"`
	Qty       int    `json:"qty"`
	Status    string `json:"status"`
	Reason    string `json:"reason,omitempty"`
	SettleMS  *int64 `json:"settle_ms,omitempty"`
}

// SettleStats are saga latencies, placed to settled, in milliseconds.
type SettleStats struct {
	Settled int     `json:"settled"`
	P50MS   float64 `json:"p50_ms"`
	P99MS   float64 `json:"p99_ms"`
	MaxMS   float64 `json:"max_ms"`
}

func settleStats(ms []float64) SettleStats {
	s := SettleStats{Settled: len(ms)}
	if len(ms) == 0 {
		return s
	}
	s.P50MS, s.P99MS = labs.Percentile(ms, 50), labs.Percentile(ms, 99)
	for _, v := range ms {
		s.MaxMS = max(s.MaxMS, v)
	}
	return s
}

// OrderList is GET orders.
type OrderList struct {
	Counts map[string]int `json:"counts"`
	Settle SettleStats    `json:"settle"`
	// Orders are the newest orders (limit, default 50), optionally of one status.
	Orders []OrderLine `json:"orders"`
}

// settleSample bounds the settled orders GET orders computes its
// percentiles over: the newest ones.
const settleSample = 5000

func (in *instance) listOrders(ctx context.Context, status string, limit int) (OrderList, error) {
	l := OrderList{Counts: map[string]int{StatusPending: 0, StatusConfirmed: 0, StatusCancelled: 0}, Orders: []OrderLine{}}
	rows, err := in.env.DB.QueryContext(ctx, in.env.Rebind(`SELECT status, COUNT(*) FROM shop_lab_orders WHERE instance = ? GROUP BY status`), in.env.Instance)
	if err != nil {
		return l, err
	}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			_ = rows.Close()
			return l, err
		}
		l.Counts[st] = n
	}
	_ = rows.Close()
	if err := rows.Err(); err != nil {
		return l, err
	}
	rows, err = in.env.DB.QueryContext(ctx, in.env.Rebind(`SELECT settled_ms - created_ms FROM shop_lab_orders
		WHERE instance = ? AND settled_ms IS NOT NULL ORDER BY settled_ms DESC LIMIT ?`), in.env.Instance, settleSample)
	if err != nil {
		return l, err
	}
	var settle []float64
	for rows.Next() {
		var d int64
		if err := rows.Scan(&d); err != nil {
			_ = rows.Close()
			return l, err
		}
		settle = append(settle, float64(d))
	}
	_ = rows.Close()
	if err := rows.Err(); err != nil {
		return l, err
	}
	l.Settle = settleStats(settle)
	if limit <= 0 {
		return l, nil
	}
	q := `SELECT order_id, product_id, qty, status, reason, created_ms, settled_ms FROM shop_lab_orders WHERE instance = ?`
	args := []any{in.env.Instance}
	if status != "" {
		q += ` AND status = ?`
		args = append(args, status)
	}
	q += ` ORDER BY created_ms DESC LIMIT ?`
	args = append(args, limit)
	rows, err = in.env.DB.QueryContext(ctx, in.env.Rebind(q), args...)
	if err != nil {
		return l, err
	}
	if l.Orders, err = scanLines(rows); err != nil {
		return l, err
	}
	sort.SliceStable(l.Orders, func(i, j int) bool { return orderLess(l.Orders[j].OrderID, l.Orders[i].OrderID) })
	return l, nil
}

// scanLines reads order lines and closes rows.
func scanLines(rows *sql.Rows) ([]OrderLine, error) {
	defer rows.Close()
	out := []OrderLine{}
	for rows.Next() {
		var o OrderLine
		var c int64
		var s sql.NullInt64
		if err := rows.Scan(&o.OrderID, &o.ProductID, &o.Qty, &o.Status, &o.Reason, &c, &s); err != nil {
			return nil, err
		}
		if s.Valid {
			d := s.Int64 - c
			o.SettleMS = &d
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// linesOf reads the given orders.
func (in *instance) linesOf(ctx context.Context, ids []string) ([]OrderLine, error) {
	const chunk = 400 // placeholders per query, well under every driver's limit
	var out []OrderLine
	for len(ids) > 0 {
		n := min(chunk, len(ids))
		args := make([]any, 0, n+1)
		args = append(args, in.env.Instance)
		for _, id := range ids[:n] {
			args = append(args, id)
		}
		rows, err := in.env.DB.QueryContext(ctx, in.env.Rebind(`SELECT order_id, product_id, qty, status, reason, created_ms, settled_ms FROM shop_lab_orders
			WHERE instance = ? AND order_id IN (?`+strings.Repeat(", ?", n-1)+`)`), args...)
		if err != nil {
			return nil, err
		}
		lines, err := scanLines(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, lines...)
		ids = ids[n:]
	}
	sort.Slice(out, func(i, j int) bool { return orderLess(out[i].OrderID, out[j].OrderID) })
	return out, nil
}
