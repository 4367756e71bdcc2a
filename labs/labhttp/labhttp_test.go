package labhttp

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func serve(h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func errorBody(t *testing.T, rec *httptest.ResponseRecorder) Detail {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var b Body
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil || b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("error body %q: %v", rec.Body, err)
	}
	return b.Error
}

func TestRouterServesAndDeclaresItsRoutes(t *testing.T) {
	rt := NewRouter(nil)
	rt.HandleFunc("POST /request", func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, http.StatusOK, "request") })
	rt.HandleFunc("GET /items/{item}", func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, http.StatusOK, r.PathValue("item")) })
	want := []Route{{"POST", "/request"}, {"GET", "/items/{item}"}}
	if got := rt.Routes(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("routes %v", got)
	}
	if p := want[1].Path("x"); p != "/items/x" || want[1].String() != "GET /items/{item}" {
		t.Fatalf("path %q, string %q", p, want[1])
	}
	if rec := serve(rt, "GET", "/items/42?x=1", ""); rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `"42"` {
		t.Fatalf("GET /items/42: %d %s", rec.Code, rec.Body)
	}
	if rec := serve(rt, "HEAD", "/items/42", ""); rec.Code != 200 {
		t.Fatalf("HEAD /items/42: %d (GET patterns serve HEAD)", rec.Code)
	}
	for _, c := range []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{"GET", "/request", http.StatusMethodNotAllowed, CodeInvalid, "POST"},
		{"DELETE", "/items/1", http.StatusMethodNotAllowed, CodeInvalid, "GET, HEAD"},
		{"GET", "/nothing", http.StatusNotFound, CodeNotFound, ""},
		{"GET", "/items/", http.StatusNotFound, CodeNotFound, ""},
		{"GET", "/items/1/more", http.StatusNotFound, CodeNotFound, ""},
		{"POST", "/request/", http.StatusNotFound, CodeNotFound, ""},
		{"GET", "/items//1", http.StatusNotFound, CodeNotFound, ""},
		{"GET", "/", http.StatusNotFound, CodeNotFound, ""},
	} {
		rec := serve(rt, c.method, c.path, "")
		if rec.Code != c.status || errorBody(t, rec).Code != c.code || rec.Header().Get("Allow") != c.allow {
			t.Errorf("%s %s: %d %q Allow %q, want %d %s Allow %q", c.method, c.path, rec.Code, rec.Body, rec.Header().Get("Allow"), c.status, c.code, c.allow)
		}
	}
}

func TestRouterRefusesPatternsWithoutAMethod(t *testing.T) {
	for _, p := range []string{"/request", "POST request", " /x", "GET /a b"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("pattern %q accepted", p)
				}
			}()
			NewRouter(nil).HandleFunc(p, func(http.ResponseWriter, *http.Request) {})
		}()
	}
}

type order struct {
	ProductID int     `json:"product_id"`
	Qty       int     `json:"qty"`
	Price     float64 `json:"price"`
	Note      string  `json:"note"`
	Gift      bool    `json:"gift"`
}

func TestDecodeJSONNamesTheField(t *testing.T) {
	for _, c := range []struct {
		body   string
		status int
		field  string
	}{
		{`{"product_id": 1, "qty": 2, "price": 9.5, "note": "hi", "gift": true}`, 0, ""},
		{`  {}  `, 0, ""},
		{``, 400, "body"},
		{`   `, 400, "body"},
		{`[1]`, 400, "body"},
		{`"x"`, 400, "body"},
		{`{"qty": 2`, 400, "body"},
		{`{"qty": 2} {"qty": 3}`, 400, "body"},
		{`{"qty": 2} x`, 400, "body"},
		{`{"qty": "10"}`, 400, "qty"},
		{`{"qty": "10abc"}`, 400, "qty"},
		{`{"qty": 1.5}`, 400, "qty"},
		{`{"qty": 1e3}`, 400, "qty"},
		{`{"qty": 99999999999999999999}`, 400, "qty"},
		{`{"price": "9.5"}`, 400, "price"},
		{`{"gift": "yes"}`, 400, "gift"},
		{`{"note": 5}`, 400, "note"},
		{`{"colour": "red"}`, 400, "colour"},
		{`{"product_id": 1, "Qty ": 2}`, 400, "Qty "},
		{`{"note": "` + strings.Repeat("x", 200) + `"}`, 413, "body"},
	} {
		var o order
		req := httptest.NewRequest("POST", "/orders", strings.NewReader(c.body))
		err := DecodeJSON(req, &o, 128)
		var e *Error
		switch {
		case c.status == 0 && err != nil:
			t.Errorf("%s: %v", c.body, err)
		case c.status == 0:
		case !errors.As(err, &e):
			t.Errorf("%s: %v, want an *Error", c.body, err)
		case e.Status != c.status || e.Fields[c.field] == "" || e.Message == "":
			t.Errorf("%s: %d %v, want %d naming %q", c.body, e.Status, e, c.status, c.field)
		}
	}
}

func TestQueryNumbersReadTheWholeValue(t *testing.T) {
	for _, c := range []struct {
		raw    string
		want   int
		status int
	}{
		{"", 7, 0}, {"n=", 7, 0}, {"n=3", 3, 0}, {"n=10", 10, 0}, {"n=%2B4", 4, 0},
		{"n=10abc", 0, 400}, {"n=1.5", 0, 400}, {"n=%201", 0, 400}, {"n=0x10", 0, 400}, {"n=1e2", 0, 400},
		{"n=11", 0, 422}, {"n=0", 0, 422}, {"n=-1", 0, 422}, {"n=99999999999999999999", 0, 400},
	} {
		q, _ := url.ParseQuery(c.raw)
		n, err := QueryInt(q, "n", 7, 1, 10)
		var e *Error
		switch {
		case c.status == 0 && (err != nil || n != c.want):
			t.Errorf("%q: %d %v, want %d", c.raw, n, err, c.want)
		case c.status != 0 && (!errors.As(err, &e) || e.Status != c.status || e.Fields["n"] == ""):
			t.Errorf("%q: %d %v, want %d naming n", c.raw, n, err, c.status)
		}
	}
	q, _ := url.ParseQuery("r=0.25&bad=NaN&inf=Inf&big=2")
	if f, err := QueryFloat(q, "r", 0, 0, 1); err != nil || f != 0.25 {
		t.Errorf("r: %v %v", f, err)
	}
	for _, name := range []string{"bad", "inf", "big"} {
		if _, err := QueryFloat(q, name, 0, 0, 1); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	req := httptest.NewRequest("GET", "/x?key=%zz", nil)
	var e *Error
	if _, err := Query(req); !errors.As(err, &e) || e.Status != 400 || e.Fields["query"] == "" {
		t.Errorf("a malformed query: %v", err)
	}
}

func TestWriteErrorHidesCausesAndKeepsTheShape(t *testing.T) {
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	req := httptest.NewRequest("GET", "/x", nil)
	req = req.WithContext(WithRequestID(WithLogger(req.Context(), log), "req-7"))
	rec := httptest.NewRecorder()
	WriteError(rec, req, errors.New(`pq: relation "secret_table" does not exist`))
	d := errorBody(t, rec)
	if rec.Code != 500 || d.Code != CodeInternal || strings.Contains(rec.Body.String(), "secret_table") || !strings.Contains(d.Message, "request req-7") {
		t.Errorf("an unnamed error: %d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "request_id=req-7") || !strings.Contains(logs.String(), "secret_table") {
		t.Errorf("the log lacks the cause under the request id: %s", logs.String())
	}
	rec = httptest.NewRecorder()
	WriteError(rec, httptest.NewRequest("GET", "/x", nil), Unavailable(errors.New("dial tcp: refused"), "Redis did not answer."))
	if d := errorBody(t, rec); rec.Code != 503 || d.Message != "Redis did not answer. The details are in the server log." || strings.Contains(rec.Body.String(), "dial") {
		t.Errorf("unavailable: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	WriteError(rec, nil, Invalid("limit", "Must be at most %d.", 10))
	if d := errorBody(t, rec); rec.Code != 422 || d.Fields["limit"] != "Must be at most 10." {
		t.Errorf("invalid: %d %s", rec.Code, rec.Body)
	}
}

// Decoding never panics, and every refusal is a 400 or 413 naming a field.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{`{"qty": 2}`, `{"qty": "2"}`, `{"x": 1}`, `[`, `{"note": "\u0000"}`, `{"qty": -0}`, `nul`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var o order
		err := Unmarshal(b, &o)
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) || (e.Status != 400 && e.Status != 413) || len(e.Fields) != 1 || e.Message == "" {
			t.Fatalf("%q: %v", b, err)
		}
	})
}

// A query number is accepted only when the whole value is one.
func FuzzQueryInt(f *testing.F) {
	for _, s := range []string{"10", "10abc", " 1", "+3", "-0", "1e3", "0x1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := QueryInt(url.Values{"n": {s}}, "n", -1, -1000, 1000)
		want, perr := strconv.Atoi(s)
		switch {
		case s == "":
			if err != nil || n != -1 {
				t.Fatalf("empty: %d %v", n, err)
			}
		case perr != nil || want < -1000 || want > 1000:
			if err == nil {
				t.Fatalf("%q accepted as %d", s, n)
			}
		case err != nil || n != want:
			t.Fatalf("%q: %d %v, want %d", s, n, err, want)
		}
	})
}
