package shop

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

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

func (in *instance) handleStock(w http.ResponseWriter, r *http.Request) error {
	rows, err := in.stock(r.Context())
	if err != nil {
		return failure("read the stock", err)
	}
	out := struct {
		Products []ProductStock `json:"products"`
	}{Products: []ProductStock{}}
	for _, s := range rows {
		out.Products = append(out.Products, productStock(s))
	}
	labhttp.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (in *instance) handleProduct(w http.ResponseWriter, r *http.Request) error {
	raw := r.PathValue("product_id")
	id, err := strconv.Atoi(raw)
	if err != nil {
		return labhttp.BadRequest("product_id", "%q is not a product id; products are 1 to %d.", clip(raw, 40), len(Catalogue))
	}
	if !productOK(id) {
		return notFound("product_id", "No product %d; products are 1 to %d.", id, len(Catalogue))
	}
	rows, err := in.stock(r.Context())
	if err != nil {
		return failure("read the stock", err)
	}
	for _, s := range rows {
		if s.ProductID == id {
			labhttp.WriteJSON(w, http.StatusOK, productStock(s))
			return nil
		}
	}
	return failure("read the stock", fmt.Errorf("no row for product %d", id))
}

func (in *instance) handleInvariant(w http.ResponseWriter, r *http.Request) error {
	v, err := in.invariant(r.Context())
	if err != nil {
		return failure("check the invariant", err)
	}
	labhttp.WriteJSON(w, http.StatusOK, v)
	return nil
}

func (in *instance) handlePaymentGet(w http.ResponseWriter, _ *http.Request) error {
	labhttp.WriteJSON(w, http.StatusOK, in.prov.view())
	return nil
}

// providerBody is PUT payment's body; a field left out keeps its setting.
type providerBody struct {
	FailureRate           *float64 `json:"failure_rate"`
	LatencyMS             *int     `json:"latency_ms"`
	TimeoutRate           *float64 `json:"timeout_rate"`
	DuplicateCallbackRate *float64 `json:"duplicate_callback_rate"`
	CardDeclines          *bool    `json:"card_declines"`
	MaxInFlight           *int     `json:"max_in_flight"`
}

// parseProvider applies a PUT payment body to the current settings.
func parseProvider(body []byte, cur ProviderSettings) (ProviderSettings, error) {
	var b providerBody
	if err := labhttp.Unmarshal(body, &b); err != nil {
		return cur, err
	}
	return b.apply(cur)
}

// apply checks the body's values and sets them on cur.
func (b providerBody) apply(cur ProviderSettings) (ProviderSettings, error) {
	for _, r := range []struct {
		name string
		v    *float64
		dst  *float64
	}{{"failure_rate", b.FailureRate, &cur.FailureRate}, {"timeout_rate", b.TimeoutRate, &cur.TimeoutRate},
		{"duplicate_callback_rate", b.DuplicateCallbackRate, &cur.DuplicateCallbackRate}} {
		if r.v == nil {
			continue
		}
		if !(*r.v >= 0 && *r.v <= 1) {
			return cur, labhttp.Invalid(r.name, "%s must be from 0 to 1.", r.name)
		}
		*r.dst = *r.v
	}
	n, err := optional(b.LatencyMS, "latency_ms", 0, 2000, cur.LatencyMS)
	if err != nil {
		return cur, err
	}
	cur.LatencyMS = n
	if cur.MaxInFlight, err = optional(b.MaxInFlight, "max_in_flight", 0, 1000, cur.MaxInFlight); err != nil {
		return cur, err
	}
	if b.CardDeclines != nil {
		cur.CardDeclines = *b.CardDeclines
	}
	return cur, nil
}

func (in *instance) handlePaymentPut(w http.ResponseWriter, r *http.Request) error {
	var b providerBody
	if err := labhttp.DecodeJSON(r, &b, maxBodyBytes); err != nil {
		return err
	}
	s, err := b.apply(in.prov.settings())
	if err != nil {
		return err
	}
	was := in.prov.settings()
	in.prov.configure(s)
	limit := "no limit on authorisations in flight"
	if s.MaxInFlight > 0 {
		limit = fmt.Sprintf("at most %d authorisations in flight", s.MaxInFlight)
	}
	in.env.Metrics.Eventf("info", "payment provider: failure rate %.2f, latency %d ms, timeout rate %.2f, duplicate callbacks %.2f, %s",
		s.FailureRate, s.LatencyMS, s.TimeoutRate, s.DuplicateCallbackRate, limit)
	switch {
	case s.CardDeclines && !was.CardDeclines:
		in.env.Metrics.Eventf("warn", "the customer's card now always declines: every order from here on is cancelled, and the saga releases its reserved stock")
	case !s.CardDeclines && was.CardDeclines:
		in.env.Metrics.Eventf("info", "the customer's card is accepted again: the provider declines payment_failure_rate of authorisations")
	}
	labhttp.WriteJSON(w, http.StatusOK, in.prov.view())
	return nil
}
