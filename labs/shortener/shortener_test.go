package shortener

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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

// withID gives env a distinct instance id and key prefix, so several
// instances can share one backend.
func withID(env labs.Env, id string) labs.Env {
	env.Instance = id
	env.Prefix = "lab:" + id + ":"
	return env
}

// launch builds an instance and closes it when the test ends, checking that
// Close leaves no key and no table behind.
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
		if in.halted.Load() {
			return
		}
		assertGone(tb, env)
	})
	return in
}

// assertGone fails when keys or tables of env's instance are left.
func assertGone(tb testing.TB, env labs.Env) {
	tb.Helper()
	ctx := context.Background()
	keys, err := env.Redis.Keys(ctx, env.Prefix+"*").Result()
	if err != nil {
		tb.Errorf("keys: %v", err)
	} else if len(keys) > 0 {
		tb.Errorf("keys left after Close: %v", keys)
	}
	if n := countTables(tb, env); n > 0 {
		tb.Errorf("%d tables left after Close", n)
	}
}

// countTables counts env's instance's tables.
func countTables(tb testing.TB, env labs.Env) int {
	tb.Helper()
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name LIKE ?`
	if env.Dialect == "postgres" {
		q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_name LIKE $1`
	}
	var n int
	if err := env.DB.QueryRow(q, "shortener_"+env.Instance+"_%").Scan(&n); err != nil {
		tb.Fatalf("count tables: %v", err)
	}
	return n
}

// serve sends one request to the instance's routes, as the web layer does.
func serve(in labs.Instance, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/"+path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	in.(interface{ Handler() http.Handler }).Handler().ServeHTTP(rec, req)
	return rec
}

func mustDecode[T any](tb testing.TB, rec *httptest.ResponseRecorder) T {
	tb.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		tb.Fatalf("decode %q: %v", rec.Body.String(), err)
	}
	return v
}
