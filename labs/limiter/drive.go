package limiter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sdworkbook/workbook/labs"
)

// start launches the design with changes. Its clock is the suite's own
// when the target can run on one: it stands still until the check moves
// it, and the limiter decides by it (Redis TIME does not come into it),
// so what a check sees depends on the design and never on how fast the
// machine answers. A service under test runs on real time instead, and
// the check waits where it would have moved the clock.
func start(ctx context.Context, t *labs.Trial, changes map[string]any) (labs.Target, labs.Timeline, error) {
	tl := t.Timeline(gradingStart)
	tg, err := t.Start(ctx, changes)
	return tg, tl, err
}

// answer is one request's outcome as a client sees it.
type answer struct {
	status     int
	allowed    bool
	at         int64 // the limiter's clock at the decision, Unix ms
	retryAfter string
	replica    int
}

// ask sends POST /request?key=key, as a client would. An error is the
// environment's (or the grader's context ending), not the design's.
func ask(ctx context.Context, tg labs.Target, key string) (answer, error) {
	r, err := labs.Call(ctx, tg, http.MethodPost, "/request?key="+url.QueryEscape(key), nil)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return answer{}, err
	}
	a := answer{status: r.Status, retryAfter: r.Header.Get("Retry-After")}
	var body Response
	switch r.Status {
	case http.StatusOK, http.StatusTooManyRequests, http.StatusServiceUnavailable:
		// A 503 is on_store_error refusing; its body says why.
		if err := r.JSON(&body); err != nil {
			return a, fmt.Errorf("POST /request?key=%s: reading the body: %w", key, err)
		}
	}
	switch {
	case body.StoreError != "":
		// The suite's clock stands still, so timeout_ms cannot end a
		// decision: a store that did not decide within the real-time
		// backstop is the environment's failure, not the design's.
		return a, fmt.Errorf("the limiter's Redis did not decide: %s", body.StoreError)
	case r.Status != http.StatusOK && r.Status != http.StatusTooManyRequests:
		return a, fmt.Errorf("POST /request?key=%s answered %d: %s", key, r.Status, r.Body)
	}
	a.allowed = r.Status == http.StatusOK
	a.at, a.replica = body.DecidedAtMS, body.Replica
	if a.at == 0 {
		// A service that does not say when it decided: when it answered.
		a.at = tg.Timeline().Now().UnixMilli()
	}
	return a, nil
}

// stats reads GET /stats; ok is false when the target has none (a
// service need not), and err is the environment's failure.
func stats(ctx context.Context, tg labs.Target) (st State, ok bool, err error) {
	r, err := labs.Call(ctx, tg, http.MethodGet, "/stats", nil)
	switch {
	case err != nil:
		return st, false, err
	case r.Status == http.StatusNotFound && tg.Design() == nil:
		return st, false, nil
	case r.Status != http.StatusOK:
		return st, false, fmt.Errorf("GET /stats answered %d: %s", r.Status, r.Body)
	}
	if err := r.JSON(&st); err != nil {
		return st, false, fmt.Errorf("GET /stats: %w", err)
	}
	return st, true, nil
}

// tally counts answers.
type tally struct{ sent, allowed, refused int }

func (t *tally) add(a answer) {
	t.sent++
	if a.allowed {
		t.allowed++
	} else {
		t.refused++
	}
}

// windowed reports whether the design counts in fixed windows aligned to
// multiples of window_ms, whose boundaries matter.
func windowed(d labs.Design) bool {
	if d == nil {
		return false
	}
	alg := d.String("algorithm")
	return alg == FixedWindow || alg == SlidingWindow || alg == FixedWindowTwoCommands
}

// exhaust sends requests for key one after another until one is refused
// or max were sent. It returns the tally, the refusal (zero
// when none came) and the last admitted answer.
func exhaust(ctx context.Context, tg labs.Target, key string, max int) (tally, answer, answer, error) {
	var (
		tl          tally
		lastAllowed answer
	)
	for range max {
		a, err := ask(ctx, tg, key)
		if err != nil {
			return tl, answer{}, lastAllowed, err
		}
		tl.add(a)
		if !a.allowed {
			return tl, a, lastAllowed, nil
		}
		lastAllowed = a
	}
	return tl, answer{}, lastAllowed, nil
}

// sequential sends n requests for key one after another.
func sequential(ctx context.Context, tg labs.Target, key string, n int) (tally, []answer, error) {
	var tl tally
	out := make([]answer, 0, n)
	for range n {
		a, err := ask(ctx, tg, key)
		if err != nil {
			return tl, out, err
		}
		tl.add(a)
		out = append(out, a)
	}
	return tl, out, nil
}

// together sends n requests for key with workers in flight at a time (n
// workers: all at once, released together).
func together(ctx context.Context, tg labs.Target, key string, n, workers int) ([]answer, error) {
	out := make([]answer, n)
	errs := make([]error, n)
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				out[i], errs[i] = ask(ctx, tg, key)
			}
		}()
	}
	close(start)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, errors.Join(errs...)
}

// cumulative is how many were admitted after each answer: a chart series.
func cumulative(as []answer) []float64 {
	out := make([]float64, len(as))
	n := 0
	for i, a := range as {
		if a.allowed {
			n++
		}
		out[i] = float64(n)
	}
	return out
}

func oneTo(n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = float64(i + 1)
	}
	return x
}

func limitLine() *float64 {
	v := float64(quota)
	return &v
}

// because explains a result with the reasons found, or says nothing.
func because(reasons []string) string {
	if len(reasons) == 0 {
		return ""
	}
	return " Likely why: " + strings.Join(reasons, "; ") + "."
}

// tooMany lists what in the design lets more than the quota through in a
// run of requests with no time passing.
func tooMany(d labs.Design) []string {
	if d == nil {
		return nil // a service's settings are its own
	}
	c := configOf(d)
	var why []string
	if c.limit > quota {
		why = append(why, fmt.Sprintf("the design's limit is %d, above the quota of %d", c.limit, quota))
	}
	if c.storage == StorageMemory && c.replicas > 1 {
		why = append(why, fmt.Sprintf("with storage=memory each of the %d replicas counts on its own, so a client gets up to %d × limit",
			c.replicas, c.replicas))
	}
	if c.capacity() > c.limit {
		why = append(why, fmt.Sprintf("%s with burst %d lets limit + burst = %d through at once", c.algorithm, c.burst, c.capacity()))
	}
	// No time passes during these runs, so neither a short window nor a
	// continuous refill can be why.
	return why
}

// tooFew lists what in the design refuses requests within the quota.
func tooFew(d labs.Design) []string {
	if d == nil {
		return nil
	}
	c := configOf(d)
	if c.capacity() < quota {
		return []string{fmt.Sprintf("the design lets %d through at once (limit %d), below the quota of %d", c.capacity(), c.limit, quota)}
	}
	return nil
}
