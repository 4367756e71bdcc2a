package shop

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/labs"
)

const (
	maxBodyBytes = 4 << 10
	maxKeyLen    = 255
	maxOrderID   = 24
	maxReplays   = 20
	maxListed    = 500
)

// Routes are the lab's endpoints under the instance.
func (in *instance) Routes() []labs.Route {
	return []labs.Route{
		{Method: http.MethodPost, Path: "orders", Handle: in.handlePlace},
		{Method: http.MethodGet, Path: "orders", Handle: in.handleList},
		{Method: http.MethodGet, Path: "orders/{order_id}", Handle: in.handleOrder},
		{Method: http.MethodPost, Path: "orders/{order_id}/callback", Handle: in.handleReplay},
		{Method: http.MethodPost, Path: "orders/{order_id}/redeliver", Handle: in.handleRedeliver},
		{Method: http.MethodGet, Path: "inventory", Handle: in.handleStock},
		{Method: http.MethodGet, Path: "inventory/{product_id}", Handle: in.handleProduct},
		{Method: http.MethodPost, Path: "burst", Handle: in.handleBurst},
		{Method: http.MethodGet, Path: "payment", Handle: in.handlePaymentGet},
		{Method: http.MethodPut, Path: "payment", Handle: in.handlePaymentPut},
		{Method: http.MethodGet, Path: "consumers", Handle: in.handleConsumers},
		{Method: http.MethodPost, Path: "consumers/{service}/kill", Handle: in.handleKill},
		{Method: http.MethodPost, Path: "consumers/{service}/restart", Handle: in.handleRestart},
		{Method: http.MethodGet, Path: "invariant", Handle: in.handleInvariant},
		{Method: http.MethodGet, Path: "outbox", Handle: in.handleOutbox},
		{Method: http.MethodPost, Path: "relay/stop", Handle: in.handleRelay("stop")},
		{Method: http.MethodPost, Path: "relay/start", Handle: in.handleRelay("start")},
		{Method: http.MethodPost, Path: "relay/crash", Handle: in.handleRelay("crash")},
		{Method: http.MethodPost, Path: "crash-after-commit", Handle: in.handleCrashAfterCommit},
		{Method: http.MethodPost, Path: "poison", Handle: in.handlePoison},
		{Method: http.MethodGet, Path: "dead-letters", Handle: in.handleDeadLetters},
		{Method: http.MethodGet, Path: "stats", Handle: in.handleStats},
	}
}

// The lab framework's JSON answers, under the names this package uses.
var (
	writeJSON  = labs.WriteJSON
	writeError = labs.WriteError
)

// inputError is a request the lab refuses: 400 for what cannot be read,
// 422 for a readable value outside what the shop accepts.
type inputError struct {
	status int
	field  string
	msg    string
}

func (e *inputError) Error() string { return e.msg }

func bad(field, format string, args ...any) *inputError {
	return &inputError{http.StatusBadRequest, field, fmt.Sprintf(format, args...)}
}

func invalid(field, format string, args ...any) *inputError {
	return &inputError{http.StatusUnprocessableEntity, field, fmt.Sprintf(format, args...)}
}

func writeInput(w http.ResponseWriter, e *inputError) { writeError(w, e.status, e.field, e.msg) }

// writeFailure answers an error of Redis or the database: a sentence for
// the learner, the error in the log.
func (in *instance) writeFailure(w http.ResponseWriter, r *http.Request, what string, err error) {
	labs.WriteFailure(w, r, in.env.Log, "The shop could not "+what+".", err)
}

// decodeStrict reads one JSON object with only known fields into v.
func decodeStrict(body []byte, v any, example string) *inputError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bad("", "The body must be a JSON object like %s: %v", example, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bad("", "The body must be one JSON object with nothing after it.")
	}
	return nil
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, *inputError) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return nil, bad("", "The body could not be read (at most %d bytes): %v", maxBodyBytes, err)
	}
	return b, nil
}

// wholeNumber reads a JSON integer field: absent is 422, not an integer 400.
func wholeNumber(raw json.RawMessage, field string, lo, hi int, def *int) (int, *inputError) {
	if len(raw) == 0 || string(raw) == "null" {
		if def != nil {
			return *def, nil
		}
		return 0, invalid(field, "%s is required: a whole number from %d to %d.", field, lo, hi)
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, bad(field, "%s must be a whole number (got %s).", field, clip(string(raw), 40))
	}
	if n < int64(lo) || n > int64(hi) {
		return 0, invalid(field, "%s must be from %d to %d (got %d).", field, lo, hi, n)
	}
	return int(n), nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// orderRequest is a parsed POST orders.
type orderRequest struct {
	ProductID int
	Qty       int
	Key       string
}

// parseOrder reads POST orders: the body {"product_id", "qty"} and an
// optional idempotency key, from the Idempotency-Key header or the
// idempotency_key query parameter (the lab page cannot send headers).
func parseOrder(body []byte, header, query string) (orderRequest, *inputError) {
	var b struct {
		ProductID json.RawMessage `json:"product_id"`
		Qty       json.RawMessage `json:"qty"`
	}
	if e := decodeStrict(body, &b, `{"product_id": 1, "qty": 2}`); e != nil {
		return orderRequest{}, e
	}
	var req orderRequest
	var e *inputError
	if req.ProductID, e = wholeNumber(b.ProductID, "product_id", 1, len(Catalogue), nil); e != nil {
		return orderRequest{}, e
	}
	if req.Qty, e = wholeNumber(b.Qty, "qty", 1, MaxQty, nil); e != nil {
		return orderRequest{}, e
	}
	if header != "" && query != "" && header != query {
		return orderRequest{}, bad("Idempotency-Key", "The Idempotency-Key header and the idempotency_key parameter differ; send one key.")
	}
	req.Key = header
	if req.Key == "" {
		req.Key = query
	}
	if msg := checkKey(req.Key); msg != "" {
		return orderRequest{}, bad("Idempotency-Key", "%s", msg)
	}
	return req, nil
}

// checkKey says what is wrong with an idempotency key, or "" ("" is no key).
func checkKey(k string) string {
	if len(k) > maxKeyLen {
		return fmt.Sprintf("An Idempotency-Key is at most %d characters.", maxKeyLen)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return "An Idempotency-Key is printable ASCII without spaces (a UUID, say)."
		}
	}
	return ""
}

func (in *instance) handlePlace(w http.ResponseWriter, r *http.Request, _ labs.Params) {
	body, e := readBody(w, r)
	if e != nil {
		writeInput(w, e)
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, "query", "The query string could not be read.")
		return
	}
	req, e := parseOrder(body, r.Header.Get("Idempotency-Key"), q.Get("idempotency_key"))
	if e != nil {
		writeInput(w, e)
		return
	}
	res, err := in.placeOrder(r.Context(), req.ProductID, req.Qty, req.Key)
	var reused errKeyReused
	switch {
	case errors.As(err, &reused):
		writeError(w, http.StatusConflict, "Idempotency-Key", fmt.Sprintf(
			"This Idempotency-Key already placed order %s with a different body; a retry must send the same body, and a new order needs a new key.", reused.orderID))
	case errors.Is(err, errCrashed):
		msg := fmt.Sprintf("The order service crashed right after committing order %s (POST crash-after-commit). ", res.OrderID)
		if in.cfg.outbox {
			msg += "Its OrderCreated is in the outbox, committed with the order, so the relay publishes it and the saga goes on."
		} else {
			msg += "With outbox=false it had not published OrderCreated yet, so nothing will ever process the order: it stays pending."
		}
		writeError(w, http.StatusBadGateway, "", msg)
	case err != nil:
		in.writeFailure(w, r, "place the order", err)
	default:
		if res.replayed {
			w.Header().Set("Idempotent-Replayed", "true")
		}
		writeJSON(w, http.StatusAccepted, res)
	}
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

// orderID checks an order id from the path.
func orderID(w http.ResponseWriter, p labs.Params) (string, bool) {
	id := p["order_id"]
	ok := len(id) >= 2 && len(id) <= maxOrderID && id[0] == 'o'
	for i := 1; ok && i < len(id); i++ {
		ok = id[i] >= '0' && id[i] <= '9'
	}
	if !ok {
		writeError(w, http.StatusBadRequest, "order_id", fmt.Sprintf("%q is not an order id; ids look like o17.", clip(id, 40)))
	}
	return id, ok
}

func (in *instance) handleOrder(w http.ResponseWriter, r *http.Request, p labs.Params) {
	id, ok := orderID(w, p)
	if !ok {
		return
	}
	v, err := in.order(r.Context(), id)
	switch {
	case errors.Is(err, errNoOrder):
		writeError(w, http.StatusNotFound, "order_id", "No order "+id+" in this shop.")
	case err != nil:
		in.writeFailure(w, r, "read the order", err)
	default:
		writeJSON(w, http.StatusOK, v)
	}
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

func (in *instance) handleList(w http.ResponseWriter, r *http.Request, _ labs.Params) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, "query", "The query string could not be read.")
		return
	}
	status := q.Get("status")
	if status != "" && status != StatusPending && status != StatusConfirmed && status != StatusCancelled {
		writeError(w, http.StatusUnprocessableEntity, "status", "status must be pending, confirmed or cancelled.")
		return
	}
	limit, e := queryInt(q, "limit", 1, maxListed, 50)
	if e != nil {
		writeInput(w, e)
		return
	}
	l, err := in.listOrders(r.Context(), status, limit)
	if err != nil {
		in.writeFailure(w, r, "list the orders", err)
		return
	}
	writeJSON(w, http.StatusOK, l)
}

// queryInt reads an optional whole-number query parameter.
func queryInt(q url.Values, name string, lo, hi, def int) (int, *inputError) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, bad(name, "%s must be a whole number.", name)
	}
	if n < lo || n > hi {
		return 0, invalid(name, "%s must be from %d to %d.", name, lo, hi)
	}
	return n, nil
}

// ReplayResult is POST orders/{order_id}/callback.
type ReplayResult struct {
	OrderID      string `json:"order_id"`
	EventID      string `json:"event_id"`
	Delivered    int    `json:"delivered"`
	ChargesAfter int    `json:"charges_after"`
	Status       string `json:"status"`
	Message      string `json:"message"`
}

func (in *instance) handleReplay(w http.ResponseWriter, r *http.Request, p labs.Params) {
	id, ok := orderID(w, p)
	if !ok {
		return
	}
	q, _ := url.ParseQuery(r.URL.RawQuery)
	times, e := queryInt(q, "times", 1, maxReplays, 1)
	if e != nil {
		writeInput(w, e)
		return
	}
	cb, ok := in.prov.lastCallback(id)
	if !ok {
		writeError(w, http.StatusConflict, "order_id", "The provider has sent no callback for "+id+" yet (no authorisation, or no such order).")
		return
	}
	res := ReplayResult{OrderID: id, EventID: cb.EventID}
	for range times {
		if err := in.webhook(r.Context(), cb); err != nil {
			in.writeFailure(w, r, "deliver the callback", err)
			return
		}
		res.Delivered++
	}
	v, err := in.order(r.Context(), id)
	if err != nil {
		in.writeFailure(w, r, "read the order", err)
		return
	}
	res.ChargesAfter, res.Status = len(v.Charges), v.Status
	if in.cfg.idem {
		res.Message = fmt.Sprintf("Callback %s delivered %d more times; the payment service had recorded its event id, so each copy was ignored.", cb.EventID, times)
	} else {
		res.Message = fmt.Sprintf("Callback %s delivered %d more times; with idempotency_keys=false each approved copy captured the money again.", cb.EventID, times)
	}
	writeJSON(w, http.StatusOK, res)
}

// RedeliverResult is POST orders/{order_id}/redeliver.
type RedeliverResult struct {
	OrderID   string `json:"order_id"`
	Type      string `json:"type"`
	MessageID string `json:"message_id"`
	Stream    string `json:"stream"`
	Message   string `json:"message"`
}

func (in *instance) handleRedeliver(w http.ResponseWriter, r *http.Request, p labs.Params) {
	id, ok := orderID(w, p)
	if !ok {
		return
	}
	q, _ := url.ParseQuery(r.URL.RawQuery)
	which := q.Get("message")
	if which == "" {
		which = "reserve"
	}
	v, err := in.order(r.Context(), id)
	if errors.Is(err, errNoOrder) {
		writeError(w, http.StatusNotFound, "order_id", "No order "+id+" in this shop.")
		return
	}
	if err != nil {
		in.writeFailure(w, r, "read the order", err)
		return
	}
	ev := event{OrderID: id, ProductID: v.ProductID, Qty: v.Qty, Amount: v.AmountCents}
	orch := in.cfg.saga == SagaOrchestration
	var typ string
	switch which {
	case "reserve":
		typ = TOrderCreated
		if orch {
			typ = TReserveStock
		}
	case "release":
		if v.Status != StatusCancelled {
			writeError(w, http.StatusConflict, "message", "Order "+id+" is "+v.Status+"; only a cancelled order sent a release.")
			return
		}
		typ, ev.Release, ev.Reason = TOrderCancelled, true, v.Reason
		if orch {
			typ = TReleaseStock
		}
	case "commit":
		if v.Status != StatusConfirmed {
			writeError(w, http.StatusConflict, "message", "Order "+id+" is "+v.Status+"; only a confirmed order sent a commit.")
			return
		}
		typ = TOrderConfirmed
		if orch {
			typ = TCommitStock
		}
	default:
		writeError(w, http.StatusUnprocessableEntity, "message", "message must be reserve, release or commit.")
		return
	}
	wk := &work{in: in}
	wk.send(typ, ev)
	// The same message again, same id: what a redelivery or a relay that
	// publishes twice produces.
	raw, _ := json.Marshal(wk.outs[0].ev) // an event always encodes
	msgID, err := in.rdb.XAdd(r.Context(), &goredis.XAddArgs{Stream: wk.outs[0].stream, MaxLen: streamMaxLen, Approx: true,
		Values: map[string]any{"type": typ, "e": string(raw)}}).Result()
	if err != nil {
		in.writeFailure(w, r, "publish the message", err)
		return
	}
	in.ring(wk.outs[0].stream, 1)
	msg := "Published " + typ + " for " + id + " again. "
	if in.cfg.idem {
		msg += "Its consumers recorded its id when they processed it, so they skip it: GET orders/" + id + " shows a duplicate delivery step."
	} else {
		msg += "With idempotency_keys=false its consumers process it again; GET orders/" + id + " and GET inventory/" + itoa(v.ProductID) + " show what that does."
	}
	writeJSON(w, http.StatusAccepted, RedeliverResult{OrderID: id, Type: typ, MessageID: msgID, Stream: strings.TrimPrefix(wk.outs[0].stream, in.env.Prefix), Message: msg})
}

// ProductStock is GET inventory/{product_id}.
type ProductStock struct {
	ProductID  int    `json:"product_id"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
	Initial    int64  `json:"initial"`
	Available  int64  `json:"available"`
	Reserved   int64  `json:"reserved"`
	Sold       int64  `json:"sold"`
}

func productStock(r stockRow) ProductStock {
	p := Catalogue[r.ProductID-1]
	return ProductStock{ProductID: p.ID, Name: p.Name, PriceCents: p.Price, Initial: r.Initial, Available: r.Available, Reserved: r.Reserved, Sold: r.Sold}
}

func (in *instance) handleStock(w http.ResponseWriter, r *http.Request, _ labs.Params) {
	rows, err := in.stock(r.Context())
	if err != nil {
		in.writeFailure(w, r, "read the stock", err)
		return
	}
	out := struct {
		Products []ProductStock `json:"products"`
	}{Products: []ProductStock{}}
	for _, s := range rows {
		out.Products = append(out.Products, productStock(s))
	}
	writeJSON(w, http.StatusOK, out)
}

func (in *instance) handleProduct(w http.ResponseWriter, r *http.Request, p labs.Params) {
	id, err := strconv.Atoi(p["product_id"])
	if err != nil {
		writeError(w, http.StatusBadRequest, "product_id", fmt.Sprintf("%q is not a product id; products are 1 to %d.", clip(p["product_id"], 40), len(Catalogue)))
		return
	}
	if !productOK(id) {
		writeError(w, http.StatusNotFound, "product_id", fmt.Sprintf("No product %d; products are 1 to %d.", id, len(Catalogue)))
		return
	}
	rows, err := in.stock(r.Context())
	if err != nil {
		in.writeFailure(w, r, "read the stock", err)
		return
	}
	for _, s := range rows {
		if s.ProductID == id {
			writeJSON(w, http.StatusOK, productStock(s))
			return
		}
	}
	in.writeFailure(w, r, "read the stock", fmt.Errorf("no row for product %d", id))
}

func (in *instance) handlePaymentGet(w http.ResponseWriter, _ *http.Request, _ labs.Params) {
	writeJSON(w, http.StatusOK, in.prov.view())
}

// parseProvider applies a PUT payment body to the current settings.
func parseProvider(body []byte, cur ProviderSettings) (ProviderSettings, *inputError) {
	var b struct {
		FailureRate           *float64        `json:"failure_rate"`
		LatencyMS             json.RawMessage `json:"latency_ms"`
		TimeoutRate           *float64        `json:"timeout_rate"`
		DuplicateCallbackRate *float64        `json:"duplicate_callback_rate"`
	}
	if e := decodeStrict(body, &b, `{"failure_rate": 0.2, "latency_ms": 100, "timeout_rate": 0.1, "duplicate_callback_rate": 0.5}`); e != nil {
		return cur, e
	}
	for _, r := range []struct {
		name string
		v    *float64
		dst  *float64
	}{{"failure_rate", b.FailureRate, &cur.FailureRate}, {"timeout_rate", b.TimeoutRate, &cur.TimeoutRate},
		{"duplicate_callback_rate", b.DuplicateCallbackRate, &cur.DuplicateCallbackRate}} {
		if r.v == nil {
			continue
		}
		if *r.v < 0 || *r.v > 1 {
			return cur, invalid(r.name, "%s must be from 0 to 1.", r.name)
		}
		*r.dst = *r.v
	}
	if len(b.LatencyMS) > 0 && string(b.LatencyMS) != "null" {
		n, e := wholeNumber(b.LatencyMS, "latency_ms", 0, 2000, nil)
		if e != nil {
			return cur, e
		}
		cur.LatencyMS = n
	}
	return cur, nil
}

func (in *instance) handlePaymentPut(w http.ResponseWriter, r *http.Request, _ labs.Params) {
	body, e := readBody(w, r)
	if e != nil {
		writeInput(w, e)
		return
	}
	s, e := parseProvider(body, in.prov.settings())
	if e != nil {
		writeInput(w, e)
		return
	}
	in.prov.configure(s)
	in.env.Metrics.Eventf("info", "payment provider: failure rate %.2f, latency %d ms, timeout rate %.2f, duplicate callbacks %.2f",
		s.FailureRate, s.LatencyMS, s.TimeoutRate, s.DuplicateCallbackRate)
	writeJSON(w, http.StatusOK, in.prov.view())
}

// ConsumerView is one consumer in GET consumers.
type ConsumerView struct {
	Name   string `json:"name"`
	Alive  bool   `json:"alive"`
	Deaths int    `json:"deaths"`
	// DiedIn is the message the consumer died in, left pending.
	DiedIn string `json:"died_in,omitempty"`
	// Armed is where the consumer will die in its next message.
	Armed string `json:"armed_to_die,omitempty"`
}

// ServiceView is one service in GET consumers.
type ServiceView struct {
	Service string   `json:"service"`
	Streams []string `json:"streams"`
	// Pending is the messages of its streams the service has not finished:
	// delivered and not acknowledged, or not delivered yet.
	Pending   int64          `json:"pending"`
	Consumers []ConsumerView `json:"consumers"`
}

// ConsumersView is GET consumers.
type ConsumersView struct {
	ClaimIdleMS   int64         `json:"claim_idle_ms"`
	MaxDeliveries int           `json:"max_deliveries"`
	Services      []ServiceView `json:"services"`
}

func (in *instance) consumers(ctx context.Context) (ConsumersView, error) {
	v := ConsumersView{ClaimIdleMS: in.cfg.claimIdle.Milliseconds(), MaxDeliveries: in.cfg.maxDeliver}
	bl, err := in.backlog(ctx)
	if err != nil {
		return v, err
	}
	for _, name := range services {
		s := in.svcs[name]
		sv := ServiceView{Service: name, Pending: bl.ByService[name]}
		for _, st := range s.streams {
			sv.Streams = append(sv.Streams, strings.TrimPrefix(st, in.env.Prefix))
		}
		for _, c := range s.consumers {
			c.mu.Lock()
			cv := ConsumerView{Name: c.name, Alive: c.run != nil, Deaths: c.deaths, DiedIn: c.diedOn}
			c.mu.Unlock()
			if p := c.kill.Load(); p != nil && cv.Alive {
				cv.Armed = *p
			}
			sv.Consumers = append(sv.Consumers, cv)
		}
		v.Services = append(v.Services, sv)
	}
	return v, nil
}

func (in *instance) handleConsumers(w http.ResponseWriter, r *http.Request, _ labs.Params) {
	v, err := in.consumers(r.Context())
	if err != nil {
		in.writeFailure(w, r, "read the consumer groups", err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// pickConsumers reads the service and ?consumer= (a number or all).
func (in *instance) pickConsumers(w http.ResponseWriter, r *http.Request, p labs.Params, def string) (*service, []*consumer, url.Values, bool) {
	s, ok := in.svcs[p["service"]]
	if !ok {
		writeError(w, http.StatusNotFound, "service", fmt.Sprintf("No service %q; the services are %s.", clip(p["service"], 40), strings.Join(services, ", ")))
		return nil, nil, nil, false
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, "query", "The query string could not be read.")
		return nil, nil, nil, false
	}
	which := q.Get("consumer")
	if which == "" {
		which = def
	}
	if which == "all" {
		return s, s.consumers, q, true
	}
	i, err := strconv.Atoi(which)
	if err != nil || i < 0 || i >= len(s.consumers) {
		writeError(w, http.StatusUnprocessableEntity, "consumer", fmt.Sprintf("consumer must be all or a number from 0 to %d.", len(s.consumers)-1))
		return nil, nil, nil, false
	}
	return s, s.consumers[i : i+1], q, true
}

// KillResult is POST consumers/{service}/kill and …/restart.
type KillResult struct {
	Service string   `json:"service"`
	At      string   `json:"at,omitempty"`
	Changed []string `json:"consumers"`
	Message string   `json:"message"`
}

func (in *instance) handleKill(w http.ResponseWriter, r *http.Request, p labs.Params) {
	s, cs, q, ok := in.pickConsumers(w, r, p, "0")
	if !ok {
		return
	}
	at := q.Get("at")
	if at == "" {
		at = "after_commit"
	}
	if at != "after_commit" && at != "before_commit" && at != "now" {
		writeError(w, http.StatusUnprocessableEntity, "at", "at must be after_commit (dies after its next message's commit, before publishing or acknowledging), before_commit, or now.")
		return
	}
	res := KillResult{Service: s.name, At: at, Changed: []string{}}
	for _, c := range cs {
		if !c.alive() {
			continue
		}
		if at == "now" {
			if c.killNow() {
				res.Changed = append(res.Changed, c.name)
			}
			continue
		}
		point := at
		c.kill.Store(&point)
		res.Changed = append(res.Changed, c.name)
	}
	if len(res.Changed) == 0 {
		writeError(w, http.StatusConflict, "consumer", "No live consumer to kill; POST consumers/"+s.name+"/restart first.")
		return
	}
	switch at {
	case "now":
		res.Message = "Killed. Whatever they were processing stays pending until a restart replays it or another consumer claims it after claim_idle_ms."
	case "before_commit":
		res.Message = "Armed: each dies in its next message before committing, so nothing of that message happens and it stays pending."
	default:
		res.Message = "Armed: each dies in its next message after committing its change and before publishing or acknowledging; the message stays pending."
	}
	in.env.Metrics.Eventf("warn", "consumers %s: kill (%s)", strings.Join(res.Changed, ", "), at)
	writeJSON(w, http.StatusOK, res)
}

func (in *instance) handleRestart(w http.ResponseWriter, r *http.Request, p labs.Params) {
	s, cs, _, ok := in.pickConsumers(w, r, p, "all")
	if !ok {
		return
	}
	res := KillResult{Service: s.name, Changed: []string{}}
	for _, c := range cs {
		if in.startConsumer(c) {
			res.Changed = append(res.Changed, c.name)
		}
	}
	if len(res.Changed) == 0 {
		writeError(w, http.StatusConflict, "consumer", "No dead consumer to restart.")
		return
	}
	res.Message = "Restarted. Each first reads the messages it left pending (their delivery count rises), then new ones."
	in.env.Metrics.Eventf("info", "consumers %s restarted", strings.Join(res.Changed, ", "))
	writeJSON(w, http.StatusOK, res)
}

func (in *instance) handleInvariant(w http.ResponseWriter, r *http.Request, _ labs.Params) {
	v, err := in.invariant(r.Context())
	if err != nil {
		in.writeFailure(w, r, "check the invariant", err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// OutboxRow is a row of GET outbox.
type OutboxRow struct {
	ID          int64      `json:"id"`
	Stream      string     `json:"stream"`
	Type        string     `json:"type"`
	EventID     string     `json:"event_id"`
	CreatedAt   time.Time  `json:"created_at"`
	PublishedAt *time.Time `json:"published_at"`
}

// OutboxView is GET outbox.
type OutboxView struct {
	Enabled     bool        `json:"enabled"`
	Relay       string      `json:"relay"`
	Unpublished int64       `json:"unpublished"`
	Published   int64       `json:"published"`
	RelayCrash  int64       `json:"relay_crashes"`
	Recent      []OutboxRow `json:"recent"`
	Message     string      `json:"message,omitempty"`
}

func (in *instance) handleOutbox(w http.ResponseWriter, r *http.Request, _ labs.Params) {
	if !in.cfg.outbox {
		writeJSON(w, http.StatusOK, OutboxView{Relay: "none", Recent: []OutboxRow{},
			Message: "outbox=false: services commit and then XADD (a dual write); there is no outbox and no relay."})
		return
	}
	v := OutboxView{Enabled: true, Relay: "stopped", Published: in.relay.published.Load(), RelayCrash: in.relay.crashes.Load(), Recent: []OutboxRow{}}
	if in.relay.running() {
		v.Relay = "running"
	}
	var err error
	if v.Unpublished, err = in.outboxBacklog(r.Context()); err != nil {
		in.writeFailure(w, r, "read the outbox", err)
		return
	}
	rows, err := in.env.DB.QueryContext(r.Context(), in.env.Rebind(`SELECT id, stream, type, event_id, created_ms, published_ms FROM shop_lab_outbox WHERE instance = ? ORDER BY id DESC LIMIT 20`),
		in.env.Instance)
	if err != nil {
		in.writeFailure(w, r, "read the outbox", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var o OutboxRow
		var c int64
		var pub sql.NullInt64
		if err := rows.Scan(&o.ID, &o.Stream, &o.Type, &o.EventID, &c, &pub); err != nil {
			in.writeFailure(w, r, "read the outbox", err)
			return
		}
		o.Stream = strings.TrimPrefix(o.Stream, in.env.Prefix)
		o.CreatedAt = time.UnixMilli(c).UTC()
		if pub.Valid {
			t := time.UnixMilli(pub.Int64).UTC()
			o.PublishedAt = &t
		}
		v.Recent = append(v.Recent, o)
	}
	writeJSON(w, http.StatusOK, v)
}

func (in *instance) handleRelay(action string) func(http.ResponseWriter, *http.Request, labs.Params) {
	return func(w http.ResponseWriter, _ *http.Request, _ labs.Params) {
		if !in.cfg.outbox {
			writeError(w, http.StatusConflict, "outbox", "There is no relay with outbox=false: services publish right after their commit.")
			return
		}
		msg := ""
		switch action {
		case "stop":
			if !in.relay.stop() {
				msg = "The relay was not running."
			} else {
				msg = "Relay stopped: new outbox rows wait, committed, until it starts again."
			}
		case "start":
			if !in.relay.start() {
				msg = "The relay was already running."
			} else {
				msg = "Relay started: it publishes every row it has not marked published."
			}
		case "crash":
			if !in.relay.running() {
				writeError(w, http.StatusConflict, "relay", "The relay is not running; POST relay/start first.")
				return
			}
			in.relay.crashNext.Store(true)
			in.relay.ring()
			msg = fmt.Sprintf("Armed: the relay dies after its next publish and before marking the rows published; it restarts after %d ms and "+
				"publishes them again, so consumers see each of those messages twice.", relayRestart.Milliseconds())
		}
		in.env.Metrics.Eventf("info", "relay %s: %s", action, msg)
		writeJSON(w, http.StatusOK, map[string]string{"relay": action, "message": msg})
	}
}

func (in *instance) handleCrashAfterCommit(w http.ResponseWriter, r *http.Request, _ labs.Params) {
	q, _ := url.ParseQuery(r.URL.RawQuery)
	n, e := queryInt(q, "count", 1, 100, 1)
	if e != nil {
		writeInput(w, e)
		return
	}
	in.crashAfterCommit.Store(int64(n))
	msg := fmt.Sprintf("Armed: the next %d order placements crash right after their commit. ", n)
	if in.cfg.outbox {
		msg += "Their OrderCreated is already in the outbox, so the relay still publishes it."
	} else {
		msg += "With outbox=false the publish that follows the commit never happens: those orders stay pending."
	}
	writeJSON(w, http.StatusOK, map[string]any{"armed": n, "message": msg})
}

func (in *instance) handlePoison(w http.ResponseWriter, r *http.Request, _ labs.Params) {
	st, id, err := in.poison(r.Context())
	if err != nil {
		in.writeFailure(w, r, "publish the message", err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"stream": st, "message_id": id,
		"message": fmt.Sprintf("A message no consumer can decode, on %s (consumed by %s). It is never acknowledged, so each group claims it again "+
			"after %d ms (claim_idle_ms) until it has been delivered %d times (max_deliveries); then GET dead-letters lists it, once per group.",
			st, strings.Join(in.groupsOf(in.key(st)), " and "), in.cfg.claimIdle.Milliseconds(), in.cfg.maxDeliver)})
}

// DeadLetter is an entry of GET dead-letters.
type DeadLetter struct {
	ID         string `json:"id"`
	Stream     string `json:"stream"`
	Group      string `json:"group"`
	OriginalID string `json:"original_id"`
	Deliveries string `json:"deliveries"`
	Type       string `json:"type"`
	Payload    string `json:"payload"`
}

func (in *instance) handleDeadLetters(w http.ResponseWriter, r *http.Request, _ labs.Params) {
	// One MULTI, so the count and the entries agree.
	var (
		rng *goredis.XMessageSliceCmd
		ln  *goredis.IntCmd
	)
	if _, err := in.rdb.TxPipelined(r.Context(), func(p goredis.Pipeliner) error {
		rng = p.XRevRangeN(r.Context(), in.key(stDeadLetters), "+", "-", 20)
		ln = p.XLen(r.Context(), in.key(stDeadLetters))
		return nil
	}); err != nil {
		in.writeFailure(w, r, "read the dead letters", err)
		return
	}
	msgs, n := rng.Val(), ln.Val()
	out := struct {
		Count   int64        `json:"count"`
		Entries []DeadLetter `json:"entries"`
	}{Count: n, Entries: []DeadLetter{}}
	str := func(m goredis.XMessage, k string) string { s, _ := m.Values[k].(string); return s }
	for _, m := range msgs {
		out.Entries = append(out.Entries, DeadLetter{ID: m.ID, Stream: str(m, "stream"), Group: str(m, "group"), OriginalID: str(m, "id"),
			Deliveries: str(m, "deliveries"), Type: str(m, "type"), Payload: str(m, "e")})
	}
	writeJSON(w, http.StatusOK, out)
}

func (in *instance) handleStats(w http.ResponseWriter, r *http.Request, _ labs.Params) {
	s, err := in.State(r.Context())
	if err != nil {
		in.writeFailure(w, r, "read the stats", err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}
