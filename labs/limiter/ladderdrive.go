package limiter

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// attempt is one request of a ladder check: its status, and whether the
// limiter admitted it. Unlike ask, a 503 (the store failed and the design
// refused) and a 502 (a replica crashed) are answers, not failures of the
// environment: those checks cause them on purpose.
type attempt struct {
	status  int
	allowed bool
	at      int64
}

// attemptFrom sends POST /request?key=key&ip=ip.
func attemptFrom(ctx context.Context, tg labs.Target, key, ip string) (attempt, error) {
	path := "/request?key=" + url.QueryEscape(key)
	if ip != "" {
		path += "&ip=" + url.QueryEscape(ip)
	}
	r, err := labs.Call(ctx, tg, http.MethodPost, path, nil)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return attempt{}, err
	}
	switch r.Status {
	case http.StatusOK, http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusBadGateway:
	default:
		return attempt{}, fmt.Errorf("POST %s answered %d: %s", path, r.Status, r.Body)
	}
	var body Response
	_ = r.JSON(&body) // decided_at_ms only; a status is the answer
	return attempt{status: r.Status, allowed: r.Status == http.StatusOK, at: body.DecidedAtMS}, nil
}

// attempts sends n requests, one after another; key and ip name each.
func attempts(ctx context.Context, tg labs.Target, n int, key, ip func(i int) string) (admitted int, statuses map[int]int, err error) {
	statuses = map[int]int{}
	for i := range n {
		a, err := attemptFrom(ctx, tg, key(i), ip(i))
		if err != nil {
			return admitted, statuses, err
		}
		statuses[a.status]++
		if a.allowed {
			admitted++
		}
	}
	return admitted, statuses, nil
}

// same is a name that does not change with i; numbered one that does.
func same(s string) func(int) string { return func(int) string { return s } }

func numbered(prefix string) func(int) string {
	return func(i int) string { return fmt.Sprintf("%s-%d", prefix, i+1) }
}

// post sends a lab control (fault, crash) and reports its status.
func post(ctx context.Context, tg labs.Target, path string) (int, error) {
	r, err := labs.Call(ctx, tg, http.MethodPost, path, nil)
	if err != nil {
		return 0, err
	}
	return r.Status, nil
}

// atTime moves the check's clock to d after the timeline's start.
func atTime(ctx context.Context, tl labs.Timeline, d time.Duration) error {
	return tl.AdvanceTo(ctx, gradingStart.Add(d))
}

// checkNoStrandedKey crashes a replica in the middle of a decision on a
// fresh client and then lists the instance's keys: none may be left
// without a TTL. A design that keeps its state in memory has none.
func checkNoStrandedKey(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, _, err := start(ctx, t, nil)
	if err != nil {
		return labs.Broken(err)
	}
	if st, err := post(ctx, tg, "/crash"); err != nil || st != http.StatusOK {
		return labs.Broken(fmt.Errorf("POST /crash: %d, %v", st, err))
	}
	a, err := attemptFrom(ctx, tg, "crash-victim", "10.9.9.9")
	if err != nil {
		return labs.Broken(err)
	}
	if _, err := attemptFrom(ctx, tg, "crash-victim", "10.9.9.9"); err != nil { // the client tries again on another replica
		return labs.Broken(err)
	}
	r, err := labs.Call(ctx, tg, http.MethodGet, "/keys", nil)
	if err != nil {
		return labs.Broken(err)
	}
	var ks Keys
	if err := r.JSON(&ks); err != nil {
		return labs.Broken(fmt.Errorf("GET /keys: %w", err))
	}
	if ks.NoTTL > 0 {
		var names []string
		for _, k := range ks.Keys {
			if k.TTLMS < 0 {
				names = append(names, k.Key)
			}
		}
		return labs.Fail("A replica crashed in the middle of a client's first decision (answer %d), and %d key(s) were left in Redis with no TTL: %v. "+
			"The counter was incremented and the replica died before the separate EXPIRE, so the key never expires: "+
			"memory leaks, and a counter that outlives its window can lock the client out. INCR and PEXPIRE belong in one script (or MULTI).",
			a.status, ks.NoTTL, names)
	}
	if ks.Storage == StorageMemory {
		return labs.Pass("A replica crashed in the middle of a decision (answer %d); this design keeps its state in memory, so nothing was left in Redis.", a.status)
	}
	return labs.Pass("A replica crashed in the middle of a client's first decision (answer %d); every one of the %d keys in Redis has a TTL: "+
		"the script runs whole or not at all, so nothing is left that never expires.", a.status, len(ks.Keys))
}
