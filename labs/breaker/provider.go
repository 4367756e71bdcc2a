package breaker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

// QuotePath is the dependency's route a learner's service calls:
// GET $DOWNSTREAM_URL/quote.
const QuotePath = "/quote"

// Provider is the dependency of the build exercise: the lab's simulated
// downstream served over HTTP to a learner's service at $DOWNSTREAM_URL,
// one per check. It answers GET /quote with 200 {"id": "q-N",
// "price_cents": …} or, when it fails, 500 {"error": …}, and it records
// every request it receives: the truth about the load the service puts
// on it, whatever the service says it sent.
//
// How it answers is its Downstream's settings (error rate, latency,
// outage), unless a check scripts it by call number (Script) or makes it
// hang (Hang: calls wait until Release, or until their caller leaves).
type Provider struct {
	down *Downstream

	mu      sync.Mutex
	script  func(n int) bool // when set: whether call n (from 1) fails
	hang    chan struct{}    // when set: calls wait until it is closed
	calls   []ProviderCall
	stray   string // the first request that was not GET /quote
	running int
	peak    int
}

// ProviderCall is one request the provider received.
type ProviderCall struct {
	N  int       // from 1, in the order they arrived
	At time.Time // when it arrived
	// Answered is when the provider began its answer (or saw its caller
	// leave): the service learns of the outcome only after this.
	Answered time.Time
	// Status is what the provider answered; 0 when the caller left first
	// (it gave up on the call).
	Status int
}

// NewProvider is a healthy provider: every call succeeds after latency.
func NewProvider(latency time.Duration) *Provider {
	s := DefaultSettings()
	s.LatencyMS = int(latency / time.Millisecond)
	return &Provider{down: NewDownstream(s, nil)}
}

// Set changes its settings (a partial update, as PUT /downstream takes)
// and ends any script and hang.
func (p *Provider) Set(u SettingsUpdate) error {
	if _, errs := p.down.Update(u); len(errs) > 0 {
		return fmt.Errorf("breaker lab: provider settings: %v", errs)
	}
	p.mu.Lock()
	p.script = nil
	p.mu.Unlock()
	p.Release()
	return nil
}

// Script makes call n (from 1, counting every call so far) fail when
// fail(n), at once, and succeed otherwise, whatever the settings.
func (p *Provider) Script(fail func(n int) bool) {
	p.mu.Lock()
	p.script = fail
	p.mu.Unlock()
}

// Hang makes every call from now on wait, without an answer, until
// Release or until its caller gives up.
func (p *Provider) Hang() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hang == nil {
		p.hang = make(chan struct{})
	}
}

// Release ends a hang: the calls waiting fail (500) at once, and calls
// are answered by the settings or the script again.
func (p *Provider) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hang != nil {
		close(p.hang)
		p.hang = nil
	}
}

// Calls is every request received so far, in order.
func (p *Provider) Calls() []ProviderCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ProviderCall(nil), p.calls...)
}

// Count is how many requests it has received.
func (p *Provider) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

// Running is how many requests it holds now, and the most it has held at
// once.
func (p *Provider) Running() (now, peak int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.running, p.peak
}

// Stray is the first request that was not GET /quote ("" when none was).
func (p *Provider) Stray() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stray
}

// errHung is a hung call released by the check.
var errHung = errors.New("the provider hung")

// ServeHTTP answers one call.
func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n, script, hang := p.begin(r)
	if r.Method != http.MethodGet || r.URL.Path != QuotePath {
		p.end(r.Context(), n, http.StatusNotFound)
		labhttp.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "The provider serves GET " + QuotePath + " only."})
		return
	}
	var err error
	switch {
	case hang != nil:
		select {
		case <-hang:
			err = errHung
		case <-r.Context().Done():
			err = r.Context().Err()
		}
	case script != nil:
		if script(n) {
			err = ErrDownstream
		}
	default:
		err = p.down.Call(r.Context())
	}
	if err != nil {
		p.end(r.Context(), n, http.StatusInternalServerError)
		labhttp.WriteJSON(w, http.StatusInternalServerError, map[string]string{"error": "The provider failed this call."})
		return
	}
	p.end(r.Context(), n, http.StatusOK)
	labhttp.WriteJSON(w, http.StatusOK, map[string]any{"id": QuoteID(n), "price_cents": 1000 + n})
}

// begin records a call's arrival and gives its number with the script and
// hang in force.
func (p *Provider) begin(r *http.Request) (n int, script func(int) bool, hang chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n = len(p.calls) + 1
	p.calls = append(p.calls, ProviderCall{N: n, At: time.Now()})
	if (r.Method != http.MethodGet || r.URL.Path != QuotePath) && p.stray == "" {
		p.stray = r.Method + " " + r.URL.Path
	}
	p.running++
	p.peak = max(p.peak, p.running)
	return n, p.script, p.hang
}

// end records how call n ends, before its answer is written: status, or
// 0 when its caller left first.
func (p *Provider) end(ctx context.Context, n int, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ctx.Err() != nil {
		status = 0
	}
	p.calls[n-1].Answered, p.calls[n-1].Status = time.Now(), status
	p.running--
}

// QuoteID is the id of the quote call n answers with.
func QuoteID(n int) string { return fmt.Sprintf("q-%d", n) }
