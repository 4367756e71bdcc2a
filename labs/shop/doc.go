// Package shop is the e-commerce order flow lab: an order saga across four
// services (order, inventory, payment, notification) that talk over Redis
// Streams with consumer groups, write their events through a transactional
// outbox (or a dual write), reserve stock with a conditional UPDATE (or a
// read-then-write), deduplicate with idempotency keys (or not), and charge
// a simulated payment provider that is slow, declines, loses answers and
// calls back twice.
//
// The lab measures what it claims. Every inventory write reads back its
// row and counts a violation when available + reserved + sold no longer
// equals the initial stock or a column went negative; an auditor counts
// products whose confirmed units exceed their stock. The provider keeps the
// card statement, so a double charge is a row in its ledger, not a guess.
// Every order keeps its saga's timeline: each step, the service that took
// it, when, its outcome, and whether it was a compensation.
//
// # The lab's HTTP contract
//
// Paths are relative to the instance (/api/labs/shop/instances/{id} in
// the app). Bodies are JSON objects with only the fields named (at most
// 4 KiB); errors are {"error": {"code", "message", "fields"}} naming the
// field: 400 for what cannot be read, 413 for a body too large, 422 for a
// value out of range, 404 for an unknown order, product or service, 503
// with a sentence when Redis or the database failed. A learner's own shop
// serves the same routes at its root, and the order saga exercise's checks
// grade either one through these routes alone (see labs.Target).
//
// Orders:
//
//	POST /orders[?idempotency_key=K]
//	    Body {"product_id": 1-5, "qty": 1-10}; the key (at most 255
//	    printable ASCII characters) may come as the Idempotency-Key header
//	    instead. 202 {"order_id", "status": "pending"}; the same key and
//	    body again answer the same order (Idempotent-Replayed: true), the
//	    same key with another body 409 naming Idempotency-Key. 502 when the
//	    lab crashed the placement after its commit (POST crash-after-commit).
//	GET /orders[?status=pending|confirmed|cancelled&limit=1-500]
//	    OrderList: {"counts": {"pending", "confirmed", "cancelled"},
//	    "settle": {"settled", "p50_ms", "p99_ms", "max_ms"}, "orders":
//	    [{"order_id", "product_id", "qty", "status", "reason",
//	    "settle_ms"}]}, newest first (50 by default).
//	GET /orders/{order_id}
//	    OrderView: {"order_id", "product_id", "qty", "amount_cents",
//	    "status", "reason", "saga", "placed_at", "settled_at", "settle_ms",
//	    "charges": [{"capture_id", "auth_id", "order_id", "amount_cents"}],
//	    "charged_cents", "steps": [{"step", "service", "at", "after_ms",
//	    "outcome", "compensation"}]}. Ids look like o17.
//	POST /orders/{order_id}/callback?times=1-20
//	    The provider's last callback for the order delivered again:
//	    ReplayResult {"order_id", "event_id", "delivered", "charges_after",
//	    "status", "message"}; 409 when it has sent none yet.
//	POST /orders/{order_id}/redeliver?message=reserve|release|commit
//	    The order's message published again with the same id: 202
//	    RedeliverResult {"order_id", "type", "message_id", "stream",
//	    "message"}; 409 when the order never sent it.
//
// Stock and payment:
//
//	GET /inventory, GET /inventory/{product_id}
//	    ProductStock: {"product_id", "name", "price_cents", "initial",
//	    "available", "reserved", "sold"} (GET /inventory: {"products": […]}).
//	GET /invariant
//	    InvariantView: {"rule", "ok", "violations", "quiescent", "idle",
//	    "products": [{…ProductStock's numbers, "sum", "confirmed_units",
//	    "pending_units", "ok", "problems"}]}. quiescent: no order pending,
//	    nothing in flight, the outbox empty.
//	GET /payment, PUT /payment
//	    PaymentView: {"provider": {"failure_rate", "latency_ms",
//	    "timeout_rate", "duplicate_callback_rate", "card_declines"},
//	    "charges", "orders_charged_more_than_once": [{"order_id",
//	    "charges"}], "authorisation_calls", "answers_lost_to_timeouts",
//	    "callbacks_received", "duplicate_callbacks_ignored", …}. PUT sets
//	    any of the provider's knobs (rates 0-1, latency 0-2000 ms,
//	    card_declines true or false: a card it always declines,
//	    max_in_flight 0-1000: authorisations it works on at once for the
//	    shop, 0 for no limit; a call beyond it is refused at once and
//	    counted in "calls_refused", and the payment service tries again
//	    after 50 ms).
//	POST /burst
//	    The lab's demonstration, not graded: {"orders", "concurrency",
//	    "product_id", "qty", "wait_ms"}, each optional, placed at once on
//	    the server; a BurstResult.
//
// Messages and crashes:
//
//	GET /consumers
//	    ConsumersView: {"claim_idle_ms", "max_deliveries", "services":
//	    [{"service", "streams", "pending", "consumers": [{"name", "alive",
//	    "deaths", "died_in", "armed_to_die"}]}]}.
//	POST /consumers/{service}/kill[?consumer=N|all&at=after_commit|before_commit|now]
//	    Arms the consumers (consumer 0 by default) to die in their next
//	    message at that point (after_commit by default), or kills them now:
//	    KillResult {"service", "at", "consumers", "message"}; 409 when
//	    none is alive.
//	POST /consumers/{service}/restart[?consumer=N|all]
//	    Restarts the dead ones (all by default); 409 when none is dead.
//	GET /outbox; POST /relay/stop, /relay/start, /relay/crash;
//	POST /crash-after-commit?count=1-100; POST /poison; GET /dead-letters
//	    The outbox and its relay, crashes of the order service and of the
//	    relay, and a message no consumer can decode: the lab's
//	    demonstrations, not graded.
//	GET /stats
//	    State: the design and the counters since launch, {"orders":
//	    {"placed", "confirmed", "cancelled", "pending"}, "messages":
//	    {"processed", "claimed", "duplicates_skipped", "dead_lettered",
//	    "pending", "lag", "lost_publishes", "inbox_rows", "inbox_swept"},
//	    "payments": PaymentView, …}.
//	GET /inbox
//	    InboxView: {"rows", "swept", "retention_ms"}: the message ids the
//	    services remember to skip redelivered copies (with
//	    idempotency_keys=true), kept for dedup_retention_ms (0: forever).
//
// The clock (a built-in design only):
//
//	GET /clock
//	    Waits until the shop is at rest, then ClockView: {"now", "manual",
//	    "orders": {"placed", "confirmed", "cancelled"}}. At rest, on a
//	    grader's manual clock, every service, the relay, the provider and
//	    the auditor waits for the clock or for work; on real time it
//	    answers at once.
//	POST /clock/step?until=T
//	    On a manual clock only (else 409 naming clock): at rest, moves the
//	    clock to the earliest timer due by T (RFC 3339) or to T when none
//	    is, and answers at rest again with "fired": whether a timer was
//	    due.
//
// What the checks read: the statuses and bodies above, the saga timeline
// of GET /orders/{order_id}, the rows of GET /inventory/{product_id} and
// GET /invariant ("quiescent", "idle", "violations", "problems"), GET
// /payment's charges and counters, GET /consumers' "alive", and GET
// /stats' "orders" and "messages" counters. They set the provider with PUT
// /payment, replay callbacks, and crash inventory consumers with POST
// consumers/inventory/kill and …/restart; a service without those routes
// has its crash check skipped with a sentence. A built-in design runs on
// a manual clock the check moves through GET /clock and POST /clock/step,
// so work takes no time and every wait takes exactly its length; a service
// runs on real time, and the checks wait and look again instead.
package shop
