package shop

import "github.com/sdworkbook/workbook/labs"

// pokes are the ready-made requests the lab's page offers.
func pokes() []labs.Poke {
	return []labs.Poke{
		{Label: "Place an order", Method: "POST", Path: "orders", Body: `{"product_id": 1, "qty": 2}`},
		{Label: "Place with an idempotency key", Method: "POST", Path: "orders?idempotency_key={key}", Params: []labs.PokeParam{{Name: "key", Value: "checkout-1"}},
			Body: `{"product_id": 1, "qty": 2}`, Help: "Send it twice: the same answer. Change the body and send again: 409."},
		{Label: "Follow an order", Method: "GET", Path: "orders/{order_id}", Params: []labs.PokeParam{{Name: "order_id", Value: "o1"}},
			Help: "Its status and saga timeline: each step, service, outcome and compensation."},
		{Label: "Orders", Method: "GET", Path: "orders"},
		{Label: "Stock of a product", Method: "GET", Path: "inventory/{product_id}", Params: []labs.PokeParam{{Name: "product_id", Value: "1"}}},
		{Label: "Burst of orders", Method: "POST", Path: "burst", Body: `{"orders": 200, "product_id": 1, "concurrency": 50}`,
			Help: "200 concurrent orders for one product; compare conditional_update with naive_read_then_write."},
		{Label: "Invariant", Method: "GET", Path: "invariant", Help: "available + reserved + sold = initial stock, never negative."},
		{Label: "Set the provider", Method: "PUT", Path: "payment", Body: `{"failure_rate": 0.5, "latency_ms": 50, "timeout_rate": 0.2, "duplicate_callback_rate": 1}`},
		{Label: "Card that always declines", Method: "PUT", Path: "payment", Body: `{"card_declines": true}`,
			Help: "Then place an order and follow it: the provider declines it, the order is cancelled and the reservation released (compensation steps). Send false to accept the card again."},
		{Label: "Replay a callback", Method: "POST", Path: "orders/{order_id}/callback?times={times}", Params: []labs.PokeParam{{Name: "order_id", Value: "o1"}, {Name: "times", Value: "10"}}},
		{Label: "Consumers", Method: "GET", Path: "consumers"},
		{Label: "Kill consumers", Method: "POST", Path: "consumers/{service}/kill?consumer=all&at=after_commit", Params: []labs.PokeParam{{Name: "service", Value: "inventory"}},
			Help: "The next message each one handles crashes it after its commit, before the acknowledgement."},
		{Label: "Restart consumers", Method: "POST", Path: "consumers/{service}/restart", Params: []labs.PokeParam{{Name: "service", Value: "inventory"}}},
		{Label: "Crash after commit", Method: "POST", Path: "crash-after-commit?count=3", Help: "The next 3 placements crash between their commit and publishing."},
		{Label: "Outbox", Method: "GET", Path: "outbox"},
		{Label: "Dead letters", Method: "GET", Path: "dead-letters"},
	}
}
