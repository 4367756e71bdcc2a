package shop

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/labs/labtest"
)

// A card that always declines cancels every order whatever the failure
// rate, and the saga's compensation puts the stock back; switching it off
// at run time lets orders through again. Both backends, both saga styles.
func TestCardThatAlwaysDeclines(t *testing.T) {
	for _, e := range labtest.Envs(t, "card") {
		t.Run(e.Name, func(t *testing.T) {
			for _, saga := range []string{SagaChoreography, SagaOrchestration} {
				t.Run(saga, func(t *testing.T) {
					env := withID(e.Env, "card"+saga[:5])
					in := launch(t, env, fast(map[string]any{"saga": saga, "initial_stock": 10, "card_declines": true}))
					if p := callJSON[PaymentView](t, in, http.MethodGet, "payment", nil, nil, http.StatusOK); !p.Provider.CardDeclines || p.Provider.FailureRate != 0 {
						t.Fatalf("provider %+v, want the declining card beside a failure rate of 0", p.Provider)
					}
					id := place(t, in, 4, 3)
					v := waitOrder(t, in, id, 5*time.Second)
					quiet(t, in)
					v = callJSON[OrderView](t, in, http.MethodGet, "orders/"+id, nil, nil, http.StatusOK)
					if v.Status != StatusCancelled || v.Reason != "payment declined" || len(v.Charges) != 0 {
						t.Fatalf("order with the declining card: %+v", v)
					}
					if !hasStep(v, SvcInventory, "release stock", true) || !hasStep(v, SvcOrder, "cancel order", true) {
						t.Errorf("no compensations in %v", steps(v))
					}
					if !hasOutcome(v, "payment callback", "the card always declines") {
						t.Errorf("the callback step does not say why: %+v", v.Steps)
					}
					if s := stockOf(t, in, 4); s.Available != 10 || s.Reserved != 0 || s.Sold != 0 {
						t.Errorf("stock after the compensation: %+v", s)
					}
					// Accepted again at run time, declined again after.
					callJSON[PaymentView](t, in, http.MethodPut, "payment", map[string]any{"card_declines": false}, nil, http.StatusOK)
					if v := waitOrder(t, in, place(t, in, 4, 2), 5*time.Second); v.Status != StatusConfirmed {
						t.Errorf("order with the card accepted again: %+v", v)
					}
					callJSON[PaymentView](t, in, http.MethodPut, "payment", map[string]any{"card_declines": true}, nil, http.StatusOK)
					if v := waitOrder(t, in, place(t, in, 4, 1), 5*time.Second); v.Status != StatusCancelled {
						t.Errorf("order after declining again: %+v", v)
					}
					quiet(t, in)
					if s := stockOf(t, in, 4); s.Available != 8 || s.Reserved != 0 || s.Sold != 2 {
						t.Errorf("stock at the end: %+v", s)
					}
					_, _, evs, stop := env.Metrics.Subscribe()
					stop()
					var log []string
					for _, ev := range evs {
						log = append(log, ev.Msg)
					}
					all := strings.Join(log, "\n")
					for _, want := range []string{"the card always declines (card_declines=true)", "the saga compensates", "now always declines", "accepted again"} {
						if !strings.Contains(all, want) {
							t.Errorf("event log lacks %q:\n%s", want, all)
						}
					}
				})
			}
		})
	}
}

func hasOutcome(v OrderView, step, says string) bool {
	for _, s := range v.Steps {
		if s.Step == step && strings.Contains(s.Outcome, says) {
			return true
		}
	}
	return false
}
