package shop

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// mustDesign validates raw design values as the API would.
func mustDesign(tb testing.TB, raw map[string]any) labs.Design {
	tb.Helper()
	d, errs := labs.Validate(Lab, raw)
	if len(errs) > 0 {
		tb.Fatalf("design %v: %v", raw, errs)
	}
	return d
}

// withID gives env a distinct instance id and key prefix.
func withID(env labs.Env, id string) labs.Env {
	env.Instance = id
	env.Prefix = "lab:" + id + ":"
	env.Metrics = labs.NewMetrics(time.Now)
	return env
}

// launch builds an instance and closes it when the test ends, checking that
// Close leaves no key and no row behind.
func launch(tb testing.TB, env labs.Env, raw map[string]any) *instance {
	tb.Helper()
	ctx := context.Background()
	li, err := Lab.New(ctx, env, mustDesign(tb, raw))
	if err != nil {
		tb.Fatal(err)
	}
	in := li.(*instance)
	tb.Cleanup(func() {
		if err := in.Close(ctx); err != nil {
			tb.Errorf("close: %v", err)
		}
		assertGone(tb, env)
		env.Metrics.Close()
	})
	return in
}

// assertGone fails when env's instance left keys or rows.
func assertGone(tb testing.TB, env labs.Env) {
	tb.Helper()
	ctx := context.Background()
	keys, err := env.Redis.Keys(ctx, env.Prefix+"*").Result()
	if err != nil {
		tb.Errorf("keys: %v", err)
	} else if len(keys) > 0 {
		tb.Errorf("keys left after Close: %v", keys)
	}
	for _, t := range tables {
		var n int
		if err := env.DB.QueryRowContext(ctx, env.Rebind(`SELECT COUNT(*) FROM `+t+` WHERE instance = ?`), env.Instance).Scan(&n); err != nil {
			tb.Errorf("count %s: %v", t, err)
		} else if n > 0 {
			tb.Errorf("%d rows left in %s after Close", n, t)
		}
	}
}

// call sends a request to one of the instance's routes with headers.
func call(tb testing.TB, in *instance, method, path string, body any, hdr map[string]string) (int, []byte) {
	tb.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, "/"+path, rd)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	in.Handler().ServeHTTP(w, req)
	return w.Code, w.Body.Bytes()
}

// callJSON is call decoding a JSON answer with the wanted status.
func callJSON[T any](tb testing.TB, in *instance, method, path string, body any, hdr map[string]string, want int) T {
	tb.Helper()
	code, raw := call(tb, in, method, path, body, hdr)
	if code != want {
		tb.Fatalf("%s %s: %d %s, want %d", method, path, code, raw, want)
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		tb.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
	}
	return v
}

// waitOrder polls an order until it is no longer pending.
func waitOrder(tb testing.TB, in *instance, id string, within time.Duration) OrderView {
	tb.Helper()
	deadline := time.Now().Add(within)
	for {
		v := callJSON[OrderView](tb, in, http.MethodGet, "orders/"+id, nil, nil, http.StatusOK)
		if v.Status != StatusPending || time.Now().After(deadline) {
			return v
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFor polls cond until it holds or within runs out.
func waitFor(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
