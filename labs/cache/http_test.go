package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labhttp"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// The instance's router lists exactly the routes of the contract (doc.go).
func TestRoutesAreTheContract(t *testing.T) {
	e := labtest.Envs(t, "routes")[0]
	in := mustLaunch(t, e.Env, map[string]any{"db_latency_ms": 0})
	var got []string
	for _, r := range labs.RoutesOf(in) {
		got = append(got, r.String())
	}
	want := []string{"GET /items/{item}", "PUT /items/{item}", "POST /stampede", "POST /crash-flusher", "GET /db/items/{item}", "GET /stats", "PUT /redis"}
	if !slices.Equal(got, want) {
		t.Errorf("routes %q, want %q", got, want)
	}
	// Every poke of the page selects one of them.
	for _, p := range Lab.Info().Pokes {
		path := p.Path
		for _, prm := range p.Params {
			path = strings.ReplaceAll(path, "{"+prm.Name+"}", prm.Value)
		}
		if rec := serve(in, p.Method, path, p.Body); rec.Code == http.StatusNotFound || rec.Code == http.StatusMethodNotAllowed {
			t.Errorf("poke %q (%s %s): %d %s", p.Label, p.Method, path, rec.Code, rec.Body)
		}
	}
}

// FuzzReadPut: whatever the body of PUT items/{item}, it is read as a
// price in range and a name that fits, or refused with a 400, 413 or 422
// naming the field at fault; nothing panics.
func FuzzReadPut(f *testing.F) {
	for _, c := range badRequests {
		if c.method == http.MethodPut {
			f.Add(c.body)
		}
	}
	f.Add(`{"price": 1999, "name": "Lamp"}`)
	f.Add(`{"price": 0}`)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPut, "/items/1", strings.NewReader(body))
		price, name, err := readPut(req)
		if err == nil {
			if price < 0 || price > maxPrice || (name != nil && (*name == "" || len(*name) > maxNameLen)) {
				t.Fatalf("%q: accepted price %d, name %v", body, price, name)
			}
			return
		}
		var e *labhttp.Error
		switch {
		case !errors.As(err, &e):
			t.Fatalf("%q: %v is not an answer", body, err)
		case e.Status != http.StatusBadRequest && e.Status != http.StatusRequestEntityTooLarge && e.Status != http.StatusUnprocessableEntity:
			t.Fatalf("%q: status %d", body, e.Status)
		case len(e.Fields) != 1 || e.Message == "":
			t.Fatalf("%q: %+v names no field", body, e)
		}
	})
}

// httpCase is a bad request and the error it must get.
type httpCase struct {
	method, path, body string
	status             int
	field              string
}

var badRequests = []httpCase{
	{http.MethodGet, "items/abc", "", http.StatusBadRequest, "item"},
	{http.MethodGet, "items/1.5", "", http.StatusBadRequest, "item"},
	{http.MethodGet, "items/5000", "", http.StatusNotFound, "item"},
	{http.MethodGet, "items/0", "", http.StatusNotFound, "item"},
	{http.MethodGet, "db/items/0", "", http.StatusNotFound, "item"},
	{http.MethodGet, "db/items/x", "", http.StatusBadRequest, "item"},
	{http.MethodPut, "items/x", `{"price": 1}`, http.StatusBadRequest, "item"},
	{http.MethodPut, "items/1001", `{"price": 1}`, http.StatusNotFound, "item"},
	{http.MethodPut, "items/1", `not json`, http.StatusBadRequest, "body"},
	{http.MethodPut, "items/1", ``, http.StatusBadRequest, "body"},
	{http.MethodPut, "items/1", `{"price": 1, "colour": "red"}`, http.StatusBadRequest, "colour"},
	{http.MethodPut, "items/1", `{"price": 1} {}`, http.StatusBadRequest, "body"},
	{http.MethodPut, "items/1", `{"price": 1, "name": "` + strings.Repeat("x", maxBodyBytes) + `"}`, http.StatusRequestEntityTooLarge, "body"},
	{http.MethodPut, "items/1", `{}`, http.StatusUnprocessableEntity, "price"},
	{http.MethodPut, "items/1", `{"price": -1}`, http.StatusUnprocessableEntity, "price"},
	{http.MethodPut, "items/1", `{"price": 1.5}`, http.StatusUnprocessableEntity, "price"},
	{http.MethodPut, "items/1", `{"price": "1"}`, http.StatusUnprocessableEntity, "price"},
	{http.MethodPut, "items/1", `{"price": null}`, http.StatusUnprocessableEntity, "price"},
	{http.MethodPut, "items/1", `{"price": 1e3}`, http.StatusUnprocessableEntity, "price"},
	{http.MethodPut, "items/1", `{"price": 1, "name": "  "}`, http.StatusUnprocessableEntity, "name"},
	{http.MethodPut, "items/1", `{"price": 1, "name": 7}`, http.StatusBadRequest, "name"},
	{http.MethodPost, "stampede?item=abc", "", http.StatusBadRequest, "item"},
	{http.MethodPost, "stampede?item=%zz", "", http.StatusBadRequest, "query"},
	{http.MethodPost, "crash-flusher", "", http.StatusConflict, "strategy"},
	{http.MethodGet, "nothing", "", http.StatusNotFound, ""},
	{http.MethodDelete, "items/1", "", http.StatusMethodNotAllowed, ""},
}

// wantError checks that rec is the API's error answer naming c.field.
func wantError(t *testing.T, c httpCase, rec interface {
	Result() *http.Response
}) {
	t.Helper()
	resp := rec.Result()
	defer resp.Body.Close()
	var body labhttp.Body
	if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		return
	}
	if err := jsonDecode(resp, &body); err != nil {
		t.Errorf("%s %s: %v", c.method, c.path, err)
		return
	}
	if body.Error.Code == "" || body.Error.Message == "" || (c.field == "") != (len(body.Error.Fields) == 0) ||
		(c.field != "" && body.Error.Fields[c.field] == "") {
		t.Errorf("%s %s %.40s: body %+v, want an error naming %q", c.method, c.path, c.body, body, c.field)
	}
}

// jsonDecode reads an answer's JSON body into v.
func jsonDecode(resp *http.Response, v any) error {
	return json.NewDecoder(resp.Body).Decode(v)
}

// Bad requests get the API's error shape naming the field; a write is read
// back through the cache and straight from the database.
func TestHTTP(t *testing.T) {
	for _, e := range labtest.Envs(t, "http") {
		t.Run(e.Name, func(t *testing.T) {
			in := mustLaunch(t, e.Env, map[string]any{"db_latency_ms": 0})
			for _, c := range badRequests {
				wantError(t, c, serve(in, c.method, c.path, c.body))
			}
			before := mustGet(t, in, 42)
			rec := serve(in, http.MethodPut, "items/42", `{"price": 777, "name": "Lamp"}`)
			if rec.Code != http.StatusOK {
				t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
			}
			w := mustDecode[writeResult](t, rec)
			if w.Version != before.Version+1 || w.Price != 777 || w.Name != "Lamp" {
				t.Errorf("PUT answered %+v after %+v", w, before)
			}
			after := mustGet(t, in, 42)
			if after.Version != w.Version || after.Price != 777 || after.Name != "Lamp" || after.Stale {
				t.Errorf("GET after PUT: %+v", after)
			}
			if rec := serve(in, http.MethodGet, "stats", ""); rec.Code != http.StatusOK {
				t.Errorf("stats: %d %s", rec.Code, rec.Body)
			}
			// The database row: the write, without the cache.
			if row := mustDecode[Item](t, serve(in, http.MethodGet, "db/items/42", "")); row != w.Item {
				t.Errorf("GET db/items/42: %+v, want %+v", row, w.Item)
			}
		})
	}
}

// A Redis failure is not a miss: the read falls back to the database, is
// counted as a Redis error, and tries no fill; write-behind refuses writes.
func TestRedisFailure(t *testing.T) {
	for _, e := range labtest.Envs(t, "redisdown") {
		for _, strategy := range []string{StrategyCacheAside, StrategyWriteBehind} {
			t.Run(e.Name+"/"+strategy, func(t *testing.T) {
				env := withTag(e.Env, strategy)
				in := mustLaunch(t, env, map[string]any{"strategy": strategy, "db_latency_ms": 1})
				dead := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
				t.Cleanup(func() { _ = dead.Close() })
				in.rdb = dead
				r := mustGet(t, in, 11)
				if r.Source != srcDB || in.redisErrors.Load() == 0 || in.misses.Load() != 0 {
					t.Errorf("read %+v, redis errors %d, misses %d", r, in.redisErrors.Load(), in.misses.Load())
				}
				if strategy == StrategyWriteBehind {
					rec := serve(in, http.MethodPut, "items/11", `{"price": 5}`)
					if rec.Code != http.StatusServiceUnavailable {
						t.Errorf("write-behind write with Redis down: %d %s", rec.Code, rec.Body)
					}
				}
			})
		}
	}
}

// Load runs go through Hit; a run over a few keys mostly hits the cache.
func TestHitLoad(t *testing.T) {
	for _, e := range labtest.Envs(t, "hitload") {
		t.Run(e.Name, func(t *testing.T) {
			in := mustLaunch(t, e.Env, map[string]any{"stampede": "singleflight", "db_latency_ms": 2})
			sum := labs.RunLoad(context.Background(), in, labs.LoadSpec{Requests: 300, Concurrency: 10, Keys: 5})
			if sum.ByStatus["200"] != 300 || sum.Errors != 0 {
				t.Fatalf("load: %+v", sum)
			}
			// At most one load per key; a miss can happen only while a key's
			// first load is in flight, to at most one reader per worker.
			if in.dbReads.Load() > 5 || in.hits.Load() < 300-5*10 {
				t.Errorf("5 keys, singleflight: %d database reads, %d hits", in.dbReads.Load(), in.hits.Load())
			}
			if code, err := in.Hit(context.Background(), ""); code != http.StatusOK || err != nil {
				t.Errorf("Zipf hit: %d %v", code, err)
			}
		})
	}
}

// Instances launched at once on a fresh database all start: the first ones
// race to create the shared table, which on PostgreSQL needs the schema
// lock.
func TestConcurrentLaunches(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			d, errs := labs.Validate(Lab, map[string]any{"db_latency_ms": 0})
			if errs != nil {
				t.Fatal(errs)
			}
			const n = 6
			envs := make([]labs.Env, n)
			for i := range envs {
				envs[i] = labtest.Env(t, b, fmt.Sprintf("race%d", i))
			}
			var wg sync.WaitGroup
			fails := make(chan error, n)
			for _, env := range envs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					in, err := Lab.New(context.Background(), env, d)
					if err != nil {
						fails <- err
						return
					}
					fails <- in.Close(context.Background())
				}()
			}
			wg.Wait()
			close(fails)
			for err := range fails {
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
}
