package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// mustLaunch builds an instance of design on env and closes it after the test.
func mustLaunch(tb testing.TB, env labs.Env, design map[string]any) *instance {
	tb.Helper()
	inst, err := Lab.New(context.Background(), env, mustDesign(tb, design))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := inst.Close(context.Background()); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return inst.(*instance)
}

// mustDesign validates a design as a learner's submission is validated.
func mustDesign(tb testing.TB, raw map[string]any) labs.Design {
	tb.Helper()
	d, errs := labs.Validate(Lab, raw)
	if len(errs) > 0 {
		tb.Fatalf("design %v: %v", raw, errs)
	}
	return d
}

// serve sends one request to the instance's handler, as the web layer does.
func serve(in *instance, method, path, body string) *httptest.ResponseRecorder {
	return serveCtx(context.Background(), in, method, path, body)
}

// serveCtx is serve with the request's context.
func serveCtx(ctx context.Context, in *instance, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(ctx, method, "/"+path, strings.NewReader(body))
	rec := httptest.NewRecorder()
	in.Handler().ServeHTTP(rec, req)
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

func mustGet(tb testing.TB, in *instance, id int) readResult {
	tb.Helper()
	return mustGetCtx(tb, context.Background(), in, id)
}

func mustGetCtx(tb testing.TB, ctx context.Context, in *instance, id int) readResult {
	tb.Helper()
	rec := serveCtx(ctx, in, http.MethodGet, fmt.Sprintf("items/%d", id), "")
	if rec.Code != http.StatusOK {
		tb.Fatalf("GET items/%d: %d %s", id, rec.Code, rec.Body)
	}
	return mustDecode[readResult](tb, rec)
}

func mustPut(tb testing.TB, in *instance, id int, price int64) writeResult {
	tb.Helper()
	return mustPutCtx(tb, context.Background(), in, id, price)
}

func mustPutCtx(tb testing.TB, ctx context.Context, in *instance, id int, price int64) writeResult {
	tb.Helper()
	rec := serveCtx(ctx, in, http.MethodPut, fmt.Sprintf("items/%d", id), fmt.Sprintf(`{"price": %d}`, price))
	if rec.Code != http.StatusOK {
		tb.Fatalf("PUT items/%d: %d %s", id, rec.Code, rec.Body)
	}
	return mustDecode[writeResult](tb, rec)
}

// onManualClock gives env a manual clock, the one a check suite uses.
func onManualClock(env labs.Env) (labs.Env, *labs.ManualClock) {
	mc := labs.NewManualClock(clockStart)
	env.Clock, env.Now = mc, mc.Now
	return env, mc
}

// withTag gives env an instance id and key prefix of its own, for
// subtests that share one.
func withTag(env labs.Env, tag string) labs.Env {
	tag = strings.NewReplacer("_", "", "-", "", "/", "").Replace(tag)
	env.Prefix += tag + ":"
	env.Instance += tag
	return env
}

// drivenGet reads an item while drive moves the instance's manual clock.
func drivenGet(tb testing.TB, in *instance, mc *labs.ManualClock, id int) readResult {
	tb.Helper()
	var (
		r   readResult
		err error
	)
	if derr := drive(context.Background(), mc, func(ctx context.Context) { r, err = in.read(ctx, id) }); derr != nil {
		tb.Fatal(derr)
	}
	if err != nil {
		tb.Fatalf("read item %d: %v", id, err)
	}
	return r
}

func catalogueExercise(tb testing.TB) labs.Exercise {
	tb.Helper()
	for _, ex := range labs.ExercisesOf(Lab) {
		if ex.ID == "cache-catalogue" {
			return ex
		}
	}
	tb.Fatal("no exercise cache-catalogue")
	return labs.Exercise{}
}

func checkNamed(tb testing.TB, ex labs.Exercise, name string) labs.Check {
	tb.Helper()
	for _, c := range ex.Checks {
		if c.Name == name {
			return c
		}
	}
	tb.Fatalf("exercise %s has no check %q", ex.ID, name)
	return labs.Check{}
}
