package breaker

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// This file is the checks' side of the lab's HTTP contract (doc.go): what
// they send to a target and read back, and how they put it in sentences.

// putDownstream changes the simulated provider through PUT /downstream.
func putDownstream(ctx context.Context, tg labs.Target, s map[string]any) error {
	_, err := labs.CallJSON[Settings](ctx, tg, http.MethodPut, "/downstream", s, http.StatusOK)
	return err
}

// readState reads GET /state.
func readState(ctx context.Context, tg labs.Target) (StateView, error) {
	return labs.CallJSON[StateView](ctx, tg, http.MethodGet, "/state", nil, http.StatusOK)
}

// readWaits reads GET /waits; with since set it is held until the
// instance's waits are no longer at that version.
func readWaits(ctx context.Context, tg labs.Target, since *uint64) (WaitsView, error) {
	path := "/waits"
	if since != nil {
		path += fmt.Sprintf("?since=%d&wait_ms=%d", *since, waitsHoldMS)
	}
	return labs.CallJSON[WaitsView](ctx, tg, http.MethodGet, path, nil, http.StatusOK)
}

// call is one POST /call as a check saw it.
type call struct {
	CallResult
	// Held is how long the caller waited, on the time the target decides
	// by: the check's clock, or real time for a service.
	Held time.Duration
	// Real is how long it took on the grading machine: reported, never
	// judged.
	Real time.Duration
}

// postCall sends POST /call and decodes the answer, whatever its status.
func postCall(ctx context.Context, tg labs.Target) (call, error) {
	t0 := time.Now()
	r, err := labs.Call(ctx, tg, http.MethodPost, "/call", nil)
	took := time.Since(t0)
	if err != nil {
		return call{}, err
	}
	var c CallResult
	if err := r.JSON(&c); err != nil {
		return call{}, fmt.Errorf("POST /call answered %d with %q: %w", r.Status, r.Body, err)
	}
	c.Status = r.Status
	return call{CallResult: c, Real: took}, nil
}

// firstOpen is when the breaker first opened, from GET state's transitions.
func firstOpen(s StateView) (time.Time, bool) {
	for _, tr := range s.Transitions {
		if tr.To == Open {
			return tr.At, true
		}
	}
	return time.Time{}, false
}

// lastOpen is when the breaker last opened.
func lastOpen(s StateView) (time.Time, bool) {
	for i := len(s.Transitions) - 1; i >= 0; i-- {
		if s.Transitions[i].To == Open {
			return s.Transitions[i].At, true
		}
	}
	return time.Time{}, false
}

func opens(s StateView) int {
	n := 0
	for _, tr := range s.Transitions {
		if tr.To == Open {
			n++
		}
	}
	return n
}

// retriesAllowed mirrors RetryBudget.Reserve: how many of up to max retries
// the budget would let the next call make, given its window now.
func retriesAllowed(b BudgetView, max int) int {
	reqs := b.FirstAttempts + 1 // the next call's first attempt
	n := 0
	for n < max && float64(b.Retries+n+1)/float64(reqs) <= b.Ratio {
		n++
	}
	return n
}

// maxRetries is how many retries a call of the target may make: the
// design's, or for a service the most the lab allows.
func maxRetries(d labs.Design) int {
	if d == nil {
		return 10
	}
	return d.Int("retries")
}

// setting is a knob of the design as messages quote it: "retry_budget 1".
func setting(d labs.Design, name string) string {
	if f, ok := d[name].(float64); ok {
		return fmt.Sprintf("%s %g", name, f)
	}
	return fmt.Sprintf("%s %v", name, d[name])
}

// mention is format with the design's setting name for its %s, or ""
// when there is no design to explain from (a service's settings are its
// own).
func mention(d labs.Design, format, name string) string {
	if d == nil {
		return ""
	}
	return fmt.Sprintf(format, setting(d, name))
}

// or is s, or otherwise when s is empty.
func or(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}

func outcomes(c CallResult) string {
	if len(c.Outcomes) == 0 {
		return "no attempt"
	}
	return strings.Join(c.Outcomes, ", ")
}

// count writes n with the noun in the number it takes.
func count(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// statusText lists statuses and counts, lowest status first.
func statusText(by map[int]int) string {
	var parts []string
	for code := 100; code < 600; code++ {
		if n := by[code]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d × %d", n, code))
		}
	}
	return strings.Join(parts, ", ")
}
