package limiter

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// events reads the instance's event log so far.
func events(in *instance) string {
	_, _, evs, cancel := in.env.Metrics.Subscribe()
	defer cancel()
	var b strings.Builder
	for _, e := range evs {
		b.WriteString(e.Msg + "\n")
	}
	return b.String()
}

// The lab's fault controls on a live instance, on both backends: Redis
// down makes fail_open admit and fail_closed refuse, and the event log
// says so; a stall ends at the decision timeout; ok recovers. A crash
// between INCR and EXPIRE leaves a key with no TTL that GET keys shows,
// and an atomic script leaves none.
func TestFaultControls(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			base := labtest.Env(t, b, "faults")
			for _, onErr := range []string{FailOpen, FailClosed} {
				in := launch(t, withID(base, "f-"+onErr), map[string]any{"algorithm": SlidingLog, "limit": 5, "window_ms": 1000,
					"on_store_error": onErr, "timeout_ms": 50})
				want := map[string]int{FailOpen: http.StatusOK, FailClosed: http.StatusServiceUnavailable}[onErr]
				wantStatus := func(method, target string, status int) {
					t.Helper()
					if rec := do(t, in, method, target, nil); rec.Code != status {
						t.Errorf("%s: %s %s answered %d, want %d: %s", onErr, method, target, rec.Code, status, rec.Body)
					}
				}
				wantStatus("POST", "fault?redis=down", http.StatusOK)
				wantStatus("POST", "request?key=a", want)
				wantStatus("POST", "fault?redis=stall", http.StatusOK)
				t0 := time.Now()
				wantStatus("POST", "request?key=a", want)
				if time.Since(t0) < 50*time.Millisecond {
					t.Errorf("%s: a stalled decision ended before its 50 ms timeout", onErr)
				}
				wantStatus("POST", "fault?redis=ok", http.StatusOK)
				wantStatus("POST", "request?key=a", http.StatusOK)
				wantStatus("POST", "fault?redis=sideways", http.StatusBadRequest)
				if ev := events(in); !strings.Contains(ev, "fault control: Redis is down") || !strings.Contains(ev, "Redis answers again") {
					t.Errorf("%s: event log %q", onErr, ev)
				}
			}
			for alg, stranded := range map[string]bool{FixedWindowTwoCommands: true, FixedWindow: false} {
				in := launch(t, withID(base, "c-"+alg), map[string]any{"algorithm": alg, "limit": 5, "window_ms": 60000})
				do(t, in, "POST", "crash", nil)
				if rec := do(t, in, "POST", "request?key=v", nil); rec.Code != http.StatusBadGateway {
					t.Errorf("%s: the crashed decision answered %d", alg, rec.Code)
				}
				var ks Keys
				do(t, in, "GET", "keys", &ks)
				if (ks.NoTTL == 1) != stranded {
					t.Errorf("%s after a crash: %+v", alg, ks)
				}
			}
		})
	}
}
