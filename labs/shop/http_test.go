package shop

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labhttp"
	"github.com/sdworkbook/workbook/labs/labtest"
)

func TestDesignValidation(t *testing.T) {
	cases := []struct {
		name  string
		raw   map[string]any
		field string // "" when valid
	}{
		{"defaults", map[string]any{}, ""},
		{"orchestration", map[string]any{"saga": "orchestration", "reservation": "naive_read_then_write"}, ""},
		{"unknown saga", map[string]any{"saga": "2pc"}, "saga"},
		{"unknown reservation", map[string]any{"reservation": "select_for_update"}, "reservation"},
		{"rate above 1", map[string]any{"payment_failure_rate": 1.5}, "payment_failure_rate"},
		{"negative stock", map[string]any{"initial_stock": -1}, "initial_stock"},
		{"fractional consumers", map[string]any{"consumers": 2.5}, "consumers"},
		{"no consumers", map[string]any{"consumers": 0}, "consumers"},
		{"claim before the provider answers", map[string]any{"payment_latency_ms": 1000, "claim_idle_ms": 1500}, "claim_idle_ms"},
		{"claim after two provider latencies", map[string]any{"payment_latency_ms": 1000, "claim_idle_ms": 2000}, ""},
		{"unknown field", map[string]any{"sagas": "choreography"}, "sagas"},
		{"declining card", map[string]any{"card_declines": true, "payment_failure_rate": 0}, ""},
		{"declining card not a bool", map[string]any{"card_declines": "yes"}, "card_declines"},
		{"provider timeout too short", map[string]any{"provider_timeout_ms": 10}, "provider_timeout_ms"},
		{"provider timeout sized", map[string]any{"provider_timeout_ms": 250, "consumers": 8}, ""},
		{"negative inbox retention", map[string]any{"dedup_retention_ms": -1}, "dedup_retention_ms"},
		{"inbox retention sized", map[string]any{"dedup_retention_ms": 3500}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, errs := labs.Validate(Lab, c.raw)
			switch {
			case c.field == "" && len(errs) > 0:
				t.Errorf("rejected: %v", errs)
			case c.field != "" && errs[c.field] == "":
				t.Errorf("no error on %s: %v", c.field, errs)
			}
		})
	}
}

func TestParseOrder(t *testing.T) {
	cases := []struct {
		name, body, header, query string
		status                    int // 0 when valid
		field                     string
	}{
		{"valid", `{"product_id": 3, "qty": 2}`, "", "", 0, ""},
		{"valid with a key", `{"product_id": 3, "qty": 2}`, "5f0c-11", "", 0, ""},
		{"valid with a query key", `{"product_id": 3, "qty": 2}`, "", "5f0c-11", 0, ""},
		{"same key twice", `{"product_id": 3, "qty": 2}`, "k", "k", 0, ""},
		{"not json", `product_id=3`, "", "", 400, "body"},
		{"array", `[1, 2]`, "", "", 400, "body"},
		{"trailing", `{"product_id": 3, "qty": 2} {}`, "", "", 400, "body"},
		{"empty", ``, "", "", 400, "body"},
		{"unknown field", `{"product_id": 3, "qty": 2, "price": 1}`, "", "", 400, "price"},
		{"null product", `{"product_id": null, "qty": 2}`, "", "", 422, "product_id"},
		{"missing product", `{"qty": 2}`, "", "", 422, "product_id"},
		{"missing qty", `{"product_id": 1}`, "", "", 422, "qty"},
		{"string product", `{"product_id": "3", "qty": 2}`, "", "", 400, "product_id"},
		{"fractional qty", `{"product_id": 3, "qty": 1.5}`, "", "", 400, "qty"},
		{"huge qty", `{"product_id": 3, "qty": 1e40}`, "", "", 400, "qty"},
		{"product 0", `{"product_id": 0, "qty": 1}`, "", "", 422, "product_id"},
		{"product 6", `{"product_id": 6, "qty": 1}`, "", "", 422, "product_id"},
		{"qty 0", `{"product_id": 1, "qty": 0}`, "", "", 422, "qty"},
		{"qty 11", `{"product_id": 1, "qty": 11}`, "", "", 422, "qty"},
		{"keys differ", `{"product_id": 1, "qty": 1}`, "a", "b", 400, "Idempotency-Key"},
		{"key with a space", `{"product_id": 1, "qty": 1}`, "a b", "", 400, "Idempotency-Key"},
		{"key too long", `{"product_id": 1, "qty": 1}`, strings.Repeat("k", 256), "", 400, "Idempotency-Key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := parseOrder([]byte(c.body), c.header, c.query)
			if c.status == 0 {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if req.ProductID != 3 && req.ProductID != 1 || req.Qty < 1 {
					t.Errorf("parsed %+v", req)
				}
				return
			}
			var e *labhttp.Error
			if !errors.As(err, &e) || e.Status != c.status || e.Fields[c.field] == "" || e.Message == "" {
				t.Errorf("got %v, want %d on %q", err, c.status, c.field)
			}
		})
	}
}

func FuzzParseOrder(f *testing.F) {
	f.Add([]byte(`{"product_id": 1, "qty": 2}`), "key-1", "")
	f.Add([]byte(`{"product_id": 9e99, "qty": -1}`), "", "q")
	f.Add([]byte(`{"product_id": null}`), "a", "a")
	f.Add([]byte(`{`), "\x00", "")
	f.Fuzz(func(t *testing.T, body []byte, header, query string) {
		req, err := parseOrder(body, header, query)
		if err != nil {
			var e *labhttp.Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest && e.Status != http.StatusUnprocessableEntity || e.Message == "" || len(e.Fields) != 1 {
				t.Fatalf("error %v", err)
			}
			return
		}
		if !productOK(req.ProductID) || req.Qty < 1 || req.Qty > MaxQty || checkKey(req.Key) != "" {
			t.Fatalf("accepted %+v from %q", req, body)
		}
	})
}

func FuzzParseProvider(f *testing.F) {
	f.Add([]byte(`{"failure_rate": 0.5, "latency_ms": 20}`))
	f.Add([]byte(`{"timeout_rate": -1}`))
	f.Add([]byte(`{"latency_ms": 1.5}`))
	f.Add([]byte(`{"card_declines": true, "failure_rate": 0}`))
	f.Add([]byte(`{"card_declines": "no"}`))
	f.Add([]byte(`{"max_in_flight": 8}`))
	f.Add([]byte(`{"max_in_flight": 1001}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := parseProvider(body, ProviderSettings{})
		if err != nil {
			var e *labhttp.Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest && e.Status != http.StatusUnprocessableEntity || len(e.Fields) != 1 {
				t.Fatalf("error %v", err)
			}
			return
		}
		for _, r := range []float64{s.FailureRate, s.TimeoutRate, s.DuplicateCallbackRate} {
			if !(r >= 0 && r <= 1) {
				t.Fatalf("accepted rate %v from %q", r, body)
			}
		}
		if s.MaxInFlight < 0 || s.MaxInFlight > 1000 {
			t.Fatalf("accepted max_in_flight %d from %q", s.MaxInFlight, body)
		}
		if s.LatencyMS < 0 || s.LatencyMS > 2000 {
			t.Fatalf("accepted latency %d from %q", s.LatencyMS, body)
		}
	})
}

// Bad input to each route is answered 400, 404, 409 or 422 with a body
// that names the field.
func TestRouteValidation(t *testing.T) {
	env := labtest.Env(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, "routes")
	in := launch(t, env, fast(nil))
	cases := []struct {
		method, path, body string
		status             int
		field              string
	}{
		{"POST", "orders", `{"product_id": 9, "qty": 1}`, 422, "product_id"},
		{"POST", "orders", strings.Repeat(" ", 5000), 413, "body"},
		{"POST", "orders", `{"product_id": 1, "qty": 1, "gift": true}`, 400, "gift"},
		{"POST", "orders?idempotency_key=%zz", `{"product_id": 1, "qty": 1}`, 400, "query"},
		{"GET", "orders/17", "", 400, "order_id"},
		{"GET", "orders/o999", "", 404, "order_id"},
		{"GET", "orders?status=lost", "", 422, "status"},
		{"GET", "orders?limit=0", "", 422, "limit"},
		{"GET", "orders?limit=x", "", 400, "limit"},
		{"GET", "inventory/x", "", 400, "product_id"},
		{"GET", "inventory/6", "", 404, "product_id"},
		{"POST", "orders/o999/callback", "", 409, "order_id"},
		{"POST", "orders/o1/callback?times=21", "", 422, "times"},
		{"POST", "orders/o999/redeliver", "", 404, "order_id"},
		{"PUT", "payment", `{"failure_rate": 2}`, 422, "failure_rate"},
		{"PUT", "payment", `{"latency_ms": 2001}`, 422, "latency_ms"},
		{"PUT", "payment", `{"latency": 5}`, 400, "latency"},
		{"PUT", "payment", `{"latency_ms": 1.5}`, 400, "latency_ms"},
		{"PUT", "payment", `{"card_declines": "yes"}`, 400, "card_declines"},
		{"PUT", "payment", `{"card_declines": 1}`, 400, "card_declines"},
		{"PUT", "payment", `{"max_in_flight": -1}`, 422, "max_in_flight"},
		{"PUT", "payment", `{"max_in_flight": "8"}`, 400, "max_in_flight"},
		{"POST", "burst", `{"orders": 1001}`, 422, "orders"},
		{"POST", "burst", `{"concurrency": 0}`, 422, "concurrency"},
		{"POST", "burst", `{"product_id": "1"}`, 400, "product_id"},
		{"POST", "consumers/shipping/kill", "", 404, "service"},
		{"POST", "consumers/inventory/kill?consumer=9", "", 422, "consumer"},
		{"POST", "consumers/inventory/kill?at=later", "", 422, "at"},
		{"POST", "consumers/inventory/restart", "", 409, "consumer"},
		{"POST", "crash-after-commit?count=0", "", 422, "count"},
		{"POST", "crash-after-commit?count=2x", "", 400, "count"},
		{"POST", "clock/step?until=2030-01-01T00:00:00Z", "", 409, "clock"},
		{"GET", "nothing", "", 404, ""},
		{"DELETE", "orders", "", 405, ""},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			var body any
			if c.body != "" {
				body = c.body
			}
			code, raw := call(t, in, c.method, c.path, body, nil)
			var e labhttp.Body
			if code != c.status || json.Unmarshal(raw, &e) != nil || e.Error.Message == "" || c.field != "" && e.Error.Fields[c.field] == "" {
				t.Errorf("%d %s, want %d naming %q", code, raw, c.status, c.field)
			}
		})
	}
}
