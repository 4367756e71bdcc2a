package shop

import (
	"context"
	"fmt"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// Design field values.
const (
	SagaChoreography  = "choreography"
	SagaOrchestration = "orchestration"

	ReserveConditional = "conditional_update"
	ReserveNaive       = "naive_read_then_write"
)

// Services, in saga order.
const (
	SvcOrder        = "order"
	SvcInventory    = "inventory"
	SvcPayment      = "payment"
	SvcNotification = "notification"
)

var services = []string{SvcOrder, SvcInventory, SvcPayment, SvcNotification}

// Lab is the shop lab.
var Lab labs.Lab = lab{}

type lab struct{}

func (lab) Info() labs.Info {
	return labs.Info{
		ID:      "shop",
		Title:   "Shop order flow",
		Summary: "An order saga on Redis Streams: stock reservations that cannot oversell, idempotency keys, a transactional outbox, a flaky payment provider, and consumers that crash mid-message.",
		Lesson:  "case-ecommerce",
		Explain: "Each instance runs a small shop: five products with initial_stock units each, and four services, each with its own " +
			"tables and `consumers` consumers in a Redis Streams consumer group. POST orders stores a pending order; the saga then " +
			"reserves stock (inventory), authorises the card at a simulated payment provider (payment), confirms or cancels the order " +
			"(order), turns the reservation into a sale or releases it (inventory), and sends an email (notification). With " +
			"saga=choreography each service reacts to the previous service's events; with orchestration the order service sends " +
			"commands and hears replies. A service's database change and the messages it sends are one transaction when outbox is on " +
			"(a relay publishes the outbox rows); with outbox off it commits and then XADDs, and a crash in between loses the message. " +
			"With idempotency_keys each service records the ids of the messages it processed (its inbox) and skips copies; dedup_retention_ms " +
			"bounds how long it remembers them. Consumers acknowledge a message after their commit; a message a dead consumer left pending is claimed with XAUTOCLAIM " +
			"after claim_idle_ms, and dead-lettered after max_deliveries. The provider authorises after payment_latency_ms (the payment service waits provider_timeout_ms for each answer), declines " +
			"payment_failure_rate of cards, and calls back, sometimes twice; the shop captures the money on the callback. Every " +
			"inventory write is checked against available + reserved + sold = initial stock, and every order keeps a timeline of its saga.",
		Try: []string{
			"POST orders with {\"product_id\": 1, \"qty\": 2}, then GET orders/{order_id}: follow the steps of the saga, service by service, until it is confirmed (or cancelled when the provider declines), and GET inventory/1 to see the units sold.",
			"With initial_stock=50 and reservation=naive_read_then_write, POST burst with {\"orders\": 200, \"product_id\": 1}: more than 50 orders are confirmed and GET invariant counts the violations. Relaunch with conditional_update and burst again: exactly 50.",
			"POST orders?idempotency_key=abc twice with the same body (or send an Idempotency-Key header): with idempotency_keys=true the second answer names the same order; with a different body it is 409. With idempotency_keys=false each retry is a new order.",
			"PUT payment with {\"duplicate_callback_rate\": 1} and place a few orders, or POST orders/{order_id}/callback?times=10: with idempotency_keys=false GET orders/{order_id} shows several charges for one order; with true the duplicates are ignored.",
			"POST consumers/inventory/kill?consumer=all, place a few orders, GET consumers to see them pending, then POST consumers/inventory/restart: with outbox=true every order settles; with outbox=false the orders whose events died with the consumer stay pending.",
			"POST crash-after-commit?count=3 and place three orders: with outbox=false they are committed but never published and stay pending; with outbox=true the relay publishes them anyway (and, crashing after its publish, twice).",
			"PUT payment with {\"card_declines\": true} and place an order: the provider declines the card, and the order's timeline shows the compensations (stock released, order cancelled).",
			"PUT payment with {\"max_in_flight\": 2, \"latency_ms\": 200}, then POST burst with {\"orders\": 20}: GET payment counts the calls the provider refused while the payment consumers waited for a slot.",
			"Relaunch with dedup_retention_ms=1000, place orders and GET inbox: the ids the services remember drain a second after each message; with 0 they pile up.",
			"POST relay/stop, place orders and GET outbox: the rows wait in the outbox; POST relay/start and watch them drain. POST poison and watch its delivery count rise until GET dead-letters lists it.",
		},
		Pokes: pokes(),
		Key:   &labs.KeyNumber{Label: "Settle p99", Kind: labs.KeyLatest, Of: []string{"saga_p99"}},
		Charts: []labs.Chart{
			{Title: "Orders per 100 ms", Series: []string{"orders_placed", "orders_confirmed", "orders_cancelled"}, Kind: "count"},
			{Title: "Messages per 100 ms", Series: []string{"messages_processed", "messages_claimed", "duplicates_skipped", "dead_lettered"}, Kind: "count"},
			{Title: "Backlog: messages delivered and not acknowledged, published and not delivered, outbox rows not published", Series: []string{"pending_messages", "stream_lag", "outbox_backlog"}, Kind: "count"},
			{Title: "Saga latency, placed to settled", Series: []string{"saga_p50", "saga_p99"}, Kind: "latency"},
			{Title: "Payments per 100 ms", Series: []string{"charges", "callbacks", "duplicate_callbacks_ignored"}, Kind: "count"},
			{Title: "Invariant violations", Series: []string{"invariant_violations"}, Kind: "count"},
			{Title: "Inbox: message ids the services remember (dedup_retention_ms)", Series: []string{"inbox_rows"}, Kind: "count"},
		},
	}
}

func (lab) Fields() []labs.Field {
	rateLo, rateHi := labs.Range(0, 1)
	stockLo, stockHi := labs.Range(0, 100000)
	latLo, latHi := labs.Range(0, 2000)
	toLo, toHi := labs.Range(20, 5000)
	retLo, retHi := labs.Range(0, 3600000)
	conLo, conHi := labs.Range(1, 16)
	delLo, delHi := labs.Range(1, 20)
	idleLo, idleHi := labs.Range(100, 60000)
	return []labs.Field{
		{Name: "saga", Label: "Saga", Type: labs.Enum, Default: SagaChoreography, Options: []string{SagaChoreography, SagaOrchestration},
			Help: "choreography: each service reacts to the previous one's events. orchestration: the order service runs the saga, sending commands and hearing replies."},
		{Name: "reservation", Label: "Stock reservation", Type: labs.Enum, Default: ReserveConditional, Options: []string{ReserveConditional, ReserveNaive},
			Help: "conditional_update: UPDATE … SET available = available - qty … WHERE available >= qty, and zero rows means out of stock. " +
				"naive_read_then_write: read available, decide in code, write the computed value."},
		{Name: "idempotency_keys", Label: "Idempotency keys", Type: labs.Bool, Default: false,
			Help: "true: POST orders honours Idempotency-Key, consumers record the messages they processed, the provider is called with a key, and payment callbacks are deduplicated by event id. false: none of these."},
		{Name: "outbox", Label: "Transactional outbox", Type: labs.Bool, Default: false,
			Help: "true: messages are written to an outbox table in the same transaction as the change, and a relay publishes them. false: commit, then XADD (a dual write)."},
		{Name: "payment_failure_rate", Label: "Payment failure rate", Type: labs.Float, Default: 0.1, Min: rateLo, Max: rateHi,
			Help: "The share of card authorisations the provider declines; a declined order is cancelled and its stock released."},
		{Name: "card_declines", Label: "Card always declines", Type: labs.Bool, Default: false,
			Help: "true: the customer pays with a card the provider always declines (a test card set to decline), whatever payment_failure_rate says, " +
				"so every order's saga compensates: the order is cancelled and its reserved stock released. PUT payment {\"card_declines\": …} switches it at run time."},
		{Name: "initial_stock", Label: "Initial stock", Type: labs.Int, Default: 100, Min: stockLo, Max: stockHi, Unit: "units",
			Help: "Units of each of the five products on the shelf at launch."},
		{Name: "payment_latency_ms", Label: "Provider latency", Type: labs.Int, Default: 50, Min: latLo, Max: latHi, Unit: "ms",
			Help: "How long the provider takes to answer an authorisation."},
		{Name: "provider_timeout_ms", Label: "Provider timeout", Type: labs.Int, Default: 500, Min: toLo, Max: toHi, Unit: "ms",
			Help: fmt.Sprintf("How long the payment service waits for the provider's answer before it gives up on the attempt and tries again "+
				"(%d attempts, then the message stays pending and is claimed later). The consumer holds its message all that time.", authAttempts)},
		{Name: "duplicate_callback_rate", Label: "Duplicate callbacks", Type: labs.Float, Default: 0.1, Min: rateLo, Max: rateHi,
			Help: "The share of the provider's callbacks it delivers twice, as real providers do when they retry webhooks."},
		{Name: "consumers", Label: "Consumers per service", Type: labs.Int, Default: 4, Min: conLo, Max: conHi,
			Help: "Consumers in each service's consumer group: how many messages a service works on at once (a payment consumer waits for the provider)."},
		{Name: "dedup_retention_ms", Label: "Inbox retention", Type: labs.Int, Default: 0, Min: retLo, Max: retHi, Unit: "ms",
			Help: "With idempotency_keys=true each service keeps the id of every message it processed (its inbox) to skip a redelivered copy. " +
				"This is how long an id is kept; 0 keeps them forever. Every id kept is a row: a long memory costs storage, a short one " +
				"lets a copy redelivered later than this through as a new message."},
		{Name: "max_deliveries", Label: "Deliveries before dead-letter", Type: labs.Int, Default: 5, Min: delLo, Max: delHi,
			Help: "A message delivered this many times without an acknowledgement goes to the dead-letter stream instead of being tried again."},
		{Name: "claim_idle_ms", Label: "Claim after idle", Type: labs.Int, Default: 1000, Min: idleLo, Max: idleHi, Unit: "ms",
			Help: "A message pending this long in a consumer that does not acknowledge it is claimed by another consumer (XAUTOCLAIM)."},
	}
}

// Check rejects a claim idle time shorter than a healthy payment consumer
// holds a message: other consumers would claim messages that are still
// being processed.
func (lab) Check(d labs.Design) labs.FieldErrors {
	if lat := d.Int("payment_latency_ms"); d.Int("claim_idle_ms") < 2*lat {
		return labs.FieldErrors{"claim_idle_ms": fmt.Sprintf(
			"Must be at least twice payment_latency_ms (%d ms): a payment consumer holds its message while it waits for the provider, "+
				"and a shorter idle time hands messages still being processed to a second consumer.", 2*lat)}
	}
	return nil
}

// config is a design read into typed fields once.
type config struct {
	saga         string
	reservation  string
	idem         bool
	outbox       bool
	failureRate  float64
	cardDeclines bool
	initialStock int
	latency      time.Duration
	provTimeout  time.Duration
	dupRate      float64
	consumers    int
	maxDeliver   int
	claimIdle    time.Duration
	// dedupRetention is how long an inbox row is kept; 0 is forever.
	dedupRetention time.Duration
}

func configOf(d labs.Design) config {
	return config{
		saga:           d.String("saga"),
		reservation:    d.String("reservation"),
		idem:           d.Bool("idempotency_keys"),
		outbox:         d.Bool("outbox"),
		failureRate:    d.Float("payment_failure_rate"),
		cardDeclines:   d.Bool("card_declines"),
		initialStock:   d.Int("initial_stock"),
		latency:        time.Duration(d.Int("payment_latency_ms")) * time.Millisecond,
		provTimeout:    time.Duration(d.Int("provider_timeout_ms")) * time.Millisecond,
		dupRate:        d.Float("duplicate_callback_rate"),
		consumers:      d.Int("consumers"),
		maxDeliver:     d.Int("max_deliveries"),
		claimIdle:      time.Duration(d.Int("claim_idle_ms")) * time.Millisecond,
		dedupRetention: time.Duration(d.Int("dedup_retention_ms")) * time.Millisecond,
	}
}

func (lab) New(ctx context.Context, env labs.Env, d labs.Design) (labs.Instance, error) {
	return newInstance(ctx, env, configOf(d), false)
}

// Resume starts a shop taken over from a replica that stopped: its orders,
// stock and payments carry on from the database. The saga steps in flight
// died with that replica (the provider's pending calls, the messages its
// consumers held), so its pending orders are cancelled and their stock
// released, as a clean stop would leave them, and the bus starts empty.
func (lab) Resume(ctx context.Context, env labs.Env, d labs.Design) (labs.Instance, error) {
	return newInstance(ctx, env, configOf(d), true)
}
