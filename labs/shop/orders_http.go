package shop

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

// orderBody is the body of POST orders: {"product_id", "qty"}.
type orderBody struct {
	ProductID *int `json:"product_id"`
	Qty       *int `json:"qty"`
}

// orderRequest is a parsed POST orders.
type orderRequest struct {
	ProductID int
	Qty       int
	Key       string
}

// parseOrder reads POST orders: the body and an optional idempotency key,
// from the Idempotency-Key header or the idempotency_key query parameter
// (the lab page cannot send headers).
func parseOrder(body []byte, header, query string) (orderRequest, error) {
	var b orderBody
	if err := labhttp.Unmarshal(body, &b); err != nil {
		return orderRequest{}, err
	}
	return b.request(header, query)
}

// request checks a decoded body and the key.
func (b orderBody) request(header, query string) (orderRequest, error) {
	var req orderRequest
	var err error
	if req.ProductID, err = required(b.ProductID, "product_id", 1, len(Catalogue)); err != nil {
		return orderRequest{}, err
	}
	if req.Qty, err = required(b.Qty, "qty", 1, MaxQty); err != nil {
		return orderRequest{}, err
	}
	if header != "" && query != "" && header != query {
		return orderRequest{}, labhttp.BadRequest("Idempotency-Key", "The Idempotency-Key header and the idempotency_key parameter differ; send one key.")
	}
	req.Key = header
	if req.Key == "" {
		req.Key = query
	}
	if msg := checkKey(req.Key); msg != "" {
		return orderRequest{}, labhttp.BadRequest("Idempotency-Key", "%s", msg)
	}
	return req, nil
}

// required checks a whole number a body must have, from lo to hi.
func required(v *int, field string, lo, hi int) (int, error) {
	if v == nil {
		return 0, labhttp.Invalid(field, "%s is required: a whole number from %d to %d.", field, lo, hi)
	}
	return optional(v, field, lo, hi, 0)
}

// optional checks a whole number a body may have: def when absent.
func optional(v *int, field string, lo, hi, def int) (int, error) {
	if v == nil {
		return def, nil
	}
	if *v < lo || *v > hi {
		return 0, labhttp.Invalid(field, "%s must be from %d to %d (got %d).", field, lo, hi, *v)
	}
	return *v, nil
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

func (in *instance) handlePlace(w http.ResponseWriter, r *http.Request) error {
	var b orderBody
	if err := labhttp.DecodeJSON(r, &b, maxBodyBytes); err != nil {
		return err
	}
	q, err := labhttp.Query(r)
	if err != nil {
		return err
	}
	req, err := b.request(r.Header.Get("Idempotency-Key"), q.Get("idempotency_key"))
	if err != nil {
		return err
	}
	res, err := in.placeOrder(r.Context(), req.ProductID, req.Qty, req.Key)
	var reused errKeyReused
	switch {
	case errors.As(err, &reused):
		return labhttp.Conflict("Idempotency-Key", "This Idempotency-Key already placed order %s with a different body; "+
			"a retry must send the same body, and a new order needs a new key.", reused.orderID)
	case errors.Is(err, errCrashed):
		msg := fmt.Sprintf("The order service crashed right after committing order %s (POST crash-after-commit). ", res.OrderID)
		if in.cfg.outbox {
			msg += "Its OrderCreated is in the outbox, committed with the order, so the relay publishes it and the saga goes on."
		} else {
			msg += "With outbox=false it had not published OrderCreated yet, so nothing will ever process the order: it stays pending."
		}
		return labhttp.Errorf(http.StatusBadGateway, labhttp.CodeInternal, "%s", msg)
	case err != nil:
		return failure("place the order", err)
	}
	if res.replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	labhttp.WriteJSON(w, http.StatusAccepted, res)
	return nil
}

func (in *instance) handleOrder(w http.ResponseWriter, r *http.Request) error {
	id, err := orderID(r)
	if err != nil {
		return err
	}
	v, err := in.order(r.Context(), id)
	switch {
	case errors.Is(err, errNoOrder):
		return notFound("order_id", "No order %s in this shop.", id)
	case err != nil:
		return failure("read the order", err)
	}
	labhttp.WriteJSON(w, http.StatusOK, v)
	return nil
}

func (in *instance) handleList(w http.ResponseWriter, r *http.Request) error {
	q, err := labhttp.Query(r)
	if err != nil {
		return err
	}
	status := q.Get("status")
	if status != "" && status != StatusPending && status != StatusConfirmed && status != StatusCancelled {
		return labhttp.Invalid("status", "status must be pending, confirmed or cancelled.")
	}
	limit, err := labhttp.QueryInt(q, "limit", 50, 1, maxListed)
	if err != nil {
		return err
	}
	l, err := in.listOrders(r.Context(), status, limit)
	if err != nil {
		return failure("list the orders", err)
	}
	labhttp.WriteJSON(w, http.StatusOK, l)
	return nil
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

func (in *instance) handleReplay(w http.ResponseWriter, r *http.Request) error {
	id, err := orderID(r)
	if err != nil {
		return err
	}
	q, err := labhttp.Query(r)
	if err != nil {
		return err
	}
	times, err := labhttp.QueryInt(q, "times", 1, 1, maxReplays)
	if err != nil {
		return err
	}
	cb, ok := in.prov.lastCallback(id)
	if !ok {
		return labhttp.Conflict("order_id", "The provider has sent no callback for %s yet (no authorisation, or no such order).", id)
	}
	res := ReplayResult{OrderID: id, EventID: cb.EventID}
	for range times {
		if err := in.webhook(r.Context(), cb); err != nil {
			return failure("deliver the callback", err)
		}
		res.Delivered++
	}
	v, err := in.order(r.Context(), id)
	if err != nil {
		return failure("read the order", err)
	}
	res.ChargesAfter, res.Status = len(v.Charges), v.Status
	if in.cfg.idem {
		res.Message = fmt.Sprintf("Callback %s delivered %d more times; the payment service had recorded its event id, so each copy was ignored.", cb.EventID, times)
	} else {
		res.Message = fmt.Sprintf("Callback %s delivered %d more times; with idempotency_keys=false each approved copy captured the money again.", cb.EventID, times)
	}
	labhttp.WriteJSON(w, http.StatusOK, res)
	return nil
}

// RedeliverResult is POST orders/{order_id}/redeliver.
type RedeliverResult struct {
	OrderID   string `json:"order_id"`
	Type      string `json:"type"`
	MessageID string `json:"message_id"`
	Stream    string `json:"stream"`
	Message   string `json:"message"`
}

func (in *instance) handleRedeliver(w http.ResponseWriter, r *http.Request) error {
	id, err := orderID(r)
	if err != nil {
		return err
	}
	q, err := labhttp.Query(r)
	if err != nil {
		return err
	}
	v, err := in.order(r.Context(), id)
	if errors.Is(err, errNoOrder) {
		return notFound("order_id", "No order %s in this shop.", id)
	}
	if err != nil {
		return failure("read the order", err)
	}
	ev, err := in.redelivery(v, q.Get("message"))
	if err != nil {
		return err
	}
	wk := &work{in: in}
	wk.send(ev.Type, ev)
	// The same message again, same id: what a redelivery or a relay that
	// publishes twice produces.
	out := wk.outs[0]
	raw, _ := json.Marshal(out.ev) // an event always encodes
	msgID, err := in.rdb.XAdd(r.Context(), &goredis.XAddArgs{Stream: out.stream, MaxLen: streamMaxLen, Approx: true,
		Values: map[string]any{"type": out.ev.Type, "e": string(raw)}}).Result()
	if err != nil {
		return failure("publish the message", err)
	}
	in.ring(out.stream, 1)
	msg := "Published " + out.ev.Type + " for " + id + " again. "
	if in.cfg.idem {
		msg += "Its consumers recorded its id when they processed it, so they skip it: GET orders/" + id + " shows a duplicate delivery step."
	} else {
		msg += "With idempotency_keys=false its consumers process it again; GET orders/" + id + " and GET inventory/" + itoa(v.ProductID) + " show what that does."
	}
	labhttp.WriteJSON(w, http.StatusAccepted, RedeliverResult{OrderID: id, Type: out.ev.Type, MessageID: msgID,
		Stream: strings.TrimPrefix(out.stream, in.env.Prefix), Message: msg})
	return nil
}

// redelivery is the message of order v that POST …/redeliver?message=
// which publishes again (its Type set): reserve, release or commit.
func (in *instance) redelivery(v OrderView, which string) (event, error) {
	ev := event{OrderID: v.OrderID, ProductID: v.ProductID, Qty: v.Qty, Amount: v.AmountCents}
	orch := in.cfg.saga == SagaOrchestration
	pick := func(choreography, orchestration string) string {
		if orch {
			return orchestration
		}
		return choreography
	}
	switch which {
	case "", "reserve":
		ev.Type = pick(TOrderCreated, TReserveStock)
	case "release":
		if v.Status != StatusCancelled {
			return ev, labhttp.Conflict("message", "Order %s is %s; only a cancelled order sent a release.", v.OrderID, v.Status)
		}
		ev.Type, ev.Release, ev.Reason = pick(TOrderCancelled, TReleaseStock), true, v.Reason
	case "commit":
		if v.Status != StatusConfirmed {
			return ev, labhttp.Conflict("message", "Order %s is %s; only a confirmed order sent a commit.", v.OrderID, v.Status)
		}
		ev.Type = pick(TOrderConfirmed, TCommitStock)
	default:
		return ev, labhttp.Invalid("message", "message must be reserve, release or commit.")
	}
	return ev, nil
}
