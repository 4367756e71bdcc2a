package shop

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"time"
)

const (
	// authAttempts bounds the attempts of one authorisation.
	authAttempts = 3
	// A call the provider refused (429: too many in flight) is made again
	// after busyBackoff, at most maxRefusals times, without counting as an
	// attempt.
	busyBackoff = 50 * time.Millisecond
	maxRefusals = 40
	// The provider calls back this long after it decides, and sends a
	// duplicate this long after the first copy.
	callbackDelay  = 5 * time.Millisecond
	duplicateDelay = 20 * time.Millisecond
	// A callback that fails (the shop answered no 2xx) is sent again.
	webhookRetries  = 5
	webhookRetryGap = 50 * time.Millisecond
)

// errProviderTimeout is an authorisation whose answer did not come within
// provider_timeout_ms; the provider may have authorised it anyway.
type errProviderTimeout struct{ after time.Duration }

func (e errProviderTimeout) Error() string {
	return fmt.Sprintf("no answer within %d ms", e.after.Milliseconds())
}

// errProviderBusy is a call the provider refused at once because the shop
// already had max_in_flight authorisations in progress (a 429).
var errProviderBusy = errors.New("refused by the provider: too many authorisations in flight (429)")

// ProviderSettings are the simulated provider's knobs: PUT payment changes
// them at run time.
type ProviderSettings struct {
	FailureRate           float64 `json:"failure_rate"`
	LatencyMS             int     `json:"latency_ms"`
	TimeoutRate           float64 `json:"timeout_rate"`
	DuplicateCallbackRate float64 `json:"duplicate_callback_rate"`
	// CardDeclines makes the customer's card one the provider always
	// declines, whatever FailureRate says.
	CardDeclines bool `json:"card_declines"`
	// MaxInFlight is how many authorisations the provider works on at once
	// for the shop (0: no limit); a call beyond it is refused at once.
	MaxInFlight int `json:"max_in_flight"`
}

type authorization struct {
	ID       string
	OrderID  string
	Amount   int64
	Approved bool
}

// callback is what the provider posts to the shop's webhook.
type callback struct {
	EventID   string `json:"event_id"`
	AuthID    string `json:"auth_id"`
	OrderID   string `json:"order_id"`
	ProductID int    `json:"product_id"` // metadata the shop attached to the authorisation
	Qty       int    `json:"qty"`
	Amount    int64  `json:"amount"`
	Approved  bool   `json:"approved"`
	// DeclineReason says why a declined authorisation was declined.
	DeclineReason string `json:"decline_reason,omitempty"`
}

// Capture is money taken from the customer's card: a line of their statement.
type Capture struct {
	ID      string `json:"capture_id"`
	AuthID  string `json:"auth_id"`
	OrderID string `json:"order_id"`
	Amount  int64  `json:"amount_cents"`
}

// provider is the simulated external payment provider. It keeps the card
// statement (captures), so a double charge is observed, not inferred.
type provider struct {
	in *instance

	mu        sync.Mutex
	set       ProviderSettings
	rng       *rand.Rand // decides authorisations and duplicate callbacks
	lossRng   *rand.Rand // decides which answers are lost: its own stream, so calls made at one instant do not reorder the other's draws
	seq       int64
	auths     map[string]*authorization
	byKey     map[string]string
	captures  []Capture
	capByKey  map[string]int
	byOrder   map[string][]int // order → indexes into captures
	last      map[string]callback
	authCalls int64
	lost      int64
	refused   int64
	inFlight  int // authorisations the provider is working on
	peak      int // the most at once
}

func newProvider(in *instance) *provider {
	// Seeded from the shop's clock: a check's manual clock starts at a
	// fixed time, so its provider decides the same way every time.
	seed := uint64(in.pace.now().UnixNano())
	return &provider{in: in, rng: rand.New(rand.NewPCG(seed, seed>>1|1)), lossRng: rand.New(rand.NewPCG(seed>>2|1, seed)),
		set: ProviderSettings{FailureRate: in.cfg.failureRate, LatencyMS: int(in.cfg.latency.Milliseconds()), DuplicateCallbackRate: in.cfg.dupRate,
			CardDeclines: in.cfg.cardDeclines},
		auths: map[string]*authorization{}, byKey: map[string]string{}, capByKey: map[string]int{}, byOrder: map[string][]int{}, last: map[string]callback{}}
}

func (p *provider) settings() ProviderSettings {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.set
}

func (p *provider) configure(s ProviderSettings) {
	p.mu.Lock()
	p.set = s
	p.mu.Unlock()
}

// authorize is one call to the provider. The provider works on it for its
// latency whether or not the caller still waits; with timeout_rate its
// answer is lost and the caller gives up after provider_timeout_ms, though the
// authorisation (and its callback) happened. A key makes a repeated call
// return the first authorisation.
func (p *provider) authorize(ctx context.Context, key string, ev event) (authorization, bool, error) {
	p.mu.Lock()
	s := p.set
	p.authCalls++
	if s.MaxInFlight > 0 && p.inFlight >= s.MaxInFlight {
		p.refused++
		p.mu.Unlock()
		p.in.env.Metrics.Count("provider_refusals", 1)
		p.in.logf("provider-busy", "warn", "the provider refused an authorisation for order %s: %d already in flight (max_in_flight=%d)",
			ev.OrderID, s.MaxInFlight, s.MaxInFlight)
		return authorization{}, false, errProviderBusy
	}
	p.inFlight++
	p.peak = max(p.peak, p.inFlight)
	lost := p.lossRng.Float64() < s.TimeoutRate
	if lost {
		p.lost++
	}
	p.mu.Unlock()
	done := func() {
		p.mu.Lock()
		p.inFlight--
		p.mu.Unlock()
	}
	type result struct {
		a        authorization
		replayed bool
	}
	pace := p.in.pace
	answer := newMailbox[result](pace)
	defer answer.close()
	if !p.in.spawn(func(bctx context.Context) {
		err := pace.sleep(bctx, time.Duration(s.LatencyMS)*time.Millisecond)
		done()
		if err != nil {
			return
		}
		a, replayed := p.process(key, ev)
		if !lost { // else the provider's answer never arrives
			answer.put(result{a, replayed})
		}
	}) {
		done()
		return authorization{}, false, errors.New("the shop is stopped")
	}
	timeout := p.in.cfg.provTimeout
	timer := pace.timer(timeout)
	defer timer.stop()
	pace.idle()
	select {
	case r := <-answer.ch:
		return r.a, r.replayed, nil
	case <-timer.C():
		return authorization{}, false, errProviderTimeout{timeout}
	case <-ctx.Done():
		pace.hold()
		return authorization{}, false, ctx.Err()
	}
}

// process decides an authorisation and schedules its callback.
func (p *provider) process(key string, ev event) (authorization, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if key != "" {
		if id, ok := p.byKey[key]; ok {
			return *p.auths[id], true
		}
	}
	p.seq++
	n := strconv.FormatInt(p.seq, 10)
	// The draw is made whatever the card, so switching card_declines
	// changes no later decision.
	a := &authorization{ID: "auth_" + n, OrderID: ev.OrderID, Amount: ev.Amount, Approved: p.rng.Float64() >= p.set.FailureRate}
	why := ""
	switch {
	case p.set.CardDeclines:
		a.Approved, why = false, "the card always declines"
		p.in.logf("card-declines", "warn", "the provider declined authorisation %s for order %s: the card always declines (card_declines=true); "+
			"the saga compensates: the order is cancelled and its reserved stock released", a.ID, ev.OrderID)
	case !a.Approved:
		why = "declined by the provider (payment_failure_rate)"
	}
	p.auths[a.ID] = a
	if key != "" {
		p.byKey[key] = a.ID
	}
	cb := callback{EventID: "evt_" + n, AuthID: a.ID, OrderID: ev.OrderID, ProductID: ev.ProductID, Qty: ev.Qty, Amount: ev.Amount, Approved: a.Approved,
		DeclineReason: why}
	p.last[ev.OrderID] = cb
	copies := 1
	if p.rng.Float64() < p.set.DuplicateCallbackRate {
		copies = 2
	}
	p.in.spawn(func(ctx context.Context) {
		for i := range copies {
			d := callbackDelay
			if i > 0 {
				d = duplicateDelay
			}
			if p.in.pace.sleep(ctx, d) != nil {
				return
			}
			p.deliver(ctx, cb)
		}
	})
	return *a, false
}

// deliver posts a callback until the shop accepts it, as providers retry
// webhooks until they see a 2xx.
func (p *provider) deliver(ctx context.Context, cb callback) error {
	var err error
	for range webhookRetries {
		if err = p.in.webhook(ctx, cb); err == nil || ctx.Err() != nil {
			return err
		}
		if p.in.pace.sleep(ctx, webhookRetryGap) != nil {
			return ctx.Err()
		}
	}
	p.in.logf("webhook", "error", "the provider gave up on callback %s for order %s after %d attempts: %v", cb.EventID, cb.OrderID, webhookRetries, err)
	return err
}

// capture takes an authorised amount; a key makes a repeated capture
// return the first one instead of charging again.
func (p *provider) capture(cb callback, key string) (Capture, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if key != "" {
		if i, ok := p.capByKey[key]; ok {
			return p.captures[i], false
		}
	}
	c := Capture{ID: "cap_" + strconv.Itoa(len(p.captures)+1), AuthID: cb.AuthID, OrderID: cb.OrderID, Amount: cb.Amount}
	p.captures = append(p.captures, c)
	i := len(p.captures) - 1
	if key != "" {
		p.capByKey[key] = i
	}
	p.byOrder[cb.OrderID] = append(p.byOrder[cb.OrderID], i)
	p.in.charges.Add(1)
	p.in.env.Metrics.Count("charges", 1)
	return c, true
}

// chargesOf is the card statement of one order.
func (p *provider) chargesOf(order string) []Capture {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Capture, 0, len(p.byOrder[order]))
	for _, i := range p.byOrder[order] {
		out = append(out, p.captures[i])
	}
	return out
}

// lastCallback is the newest callback sent for an order.
func (p *provider) lastCallback(order string) (callback, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cb, ok := p.last[order]
	return cb, ok
}

// PaymentView is GET payment: the provider's knobs and its ledger.
type PaymentView struct {
	Provider       ProviderSettings `json:"provider"`
	TimeoutMS      int64            `json:"client_timeout_ms"`
	Attempts       int              `json:"attempts_per_authorisation"`
	Authorisations int              `json:"authorisations"`
	// Refused are calls the provider turned away at once (max_in_flight);
	// PeakInFlight is the most authorisations it worked on at once.
	Refused       int64 `json:"calls_refused"`
	PeakInFlight  int   `json:"peak_in_flight"`
	AuthCalls     int64 `json:"authorisation_calls"`
	LostAnswers   int64 `json:"answers_lost_to_timeouts"`
	Charges       int   `json:"charges"`
	ChargedCents  int64 `json:"charged_cents"`
	OrdersCharged int   `json:"orders_charged"`
	// ChargedTwice lists orders with more than one capture: customers
	// charged more than once.
	ChargedTwice []OrderCharges `json:"orders_charged_more_than_once"`
	Callbacks    int64          `json:"callbacks_received"`
	Duplicates   int64          `json:"duplicate_callbacks_ignored"`
}

// OrderCharges is an order's lines on the card statement.
type OrderCharges struct {
	OrderID string    `json:"order_id"`
	Charges []Capture `json:"charges"`
}

func (p *provider) view() PaymentView {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := PaymentView{Provider: p.set, TimeoutMS: p.in.cfg.provTimeout.Milliseconds(), Attempts: authAttempts, Authorisations: len(p.auths),
		Refused: p.refused, PeakInFlight: p.peak,
		AuthCalls: p.authCalls, LostAnswers: p.lost, Charges: len(p.captures), OrdersCharged: len(p.byOrder), ChargedTwice: []OrderCharges{},
		Callbacks: p.in.callbacks.Load(), Duplicates: p.in.dupCallbacks.Load()}
	for _, c := range p.captures {
		v.ChargedCents += c.Amount
	}
	for order, is := range p.byOrder {
		if len(is) > 1 {
			oc := OrderCharges{OrderID: order}
			for _, i := range is {
				oc.Charges = append(oc.Charges, p.captures[i])
			}
			v.ChargedTwice = append(v.ChargedTwice, oc)
		}
	}
	sort.Slice(v.ChargedTwice, func(i, j int) bool { return orderLess(v.ChargedTwice[i].OrderID, v.ChargedTwice[j].OrderID) })
	if len(v.ChargedTwice) > 20 {
		v.ChargedTwice = v.ChargedTwice[:20]
	}
	return v
}

// orderLess orders ids like o2 before o10.
func orderLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}
