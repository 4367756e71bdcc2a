package web

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
)

// crossOriginVariants are the ways a request from another site arrives:
// what a browser sends on a cross-site or same-site (another subdomain)
// form post or fetch, an older browser's bare Origin, a sandboxed frame's
// "null" origin, and a page on another port of this same host.
func crossOriginVariants(base string) []map[string]string {
	otherPort := regexp.MustCompile(`:\d+$`).ReplaceAllString(base, ":1")
	return []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site", "Origin": "https://other.example.org"},
		{"Origin": "https://evil.example"},
		{"Origin": "null"},
		{"Origin": otherPort},
	}
}

// TestEveryStateChangingRouteRefusesCrossOrigin walks the route table:
// every route a request can change state through (any method but GET and
// HEAD) refuses each cross-origin variant before its handler runs, for a
// signed-in visitor and for a script with an access token; the same
// request from this origin reaches the handler.
func TestEveryStateChangingRouteRefusesCrossOrigin(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil)
	b := MustRegister(t, a, "cross@example.org")
	params := regexp.MustCompile(`:[a-z]+|\*[a-z]+`)
	routes, requests := 0, 0
	for _, r := range a.app.engine.Routes() {
		if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions ||
			r.Method == http.MethodConnect || r.Method == http.MethodTrace {
			continue
		}
		routes++
		path := params.ReplaceAllString(r.Path, "x1")
		for _, h := range crossOriginVariants(a.URL) {
			for _, bearer := range []bool{false, true} {
				resp := sendWith(b, r.Method, path, h, bearer)
				requests++
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "cross-origin request refused") {
					t.Errorf("%s %s with %v (token %v): %d %q, want the cross-origin refusal", r.Method, path, h, bearer, resp.StatusCode, body)
				}
				if strings.HasPrefix(path, "/api/") {
					var e struct {
						Error struct{ Code, Message string }
					}
					if json.Unmarshal(body, &e) != nil || e.Error.Code != "forbidden" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
						t.Errorf("%s %s: the refusal is not the API's JSON error: %s %q", r.Method, path, resp.Header.Get("Content-Type"), body)
					}
				}
			}
		}
		resp := sendWith(b, r.Method, path, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": a.URL}, false)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "cross-origin request refused") {
			t.Errorf("%s %s from this origin was refused as cross-origin", r.Method, path)
		}
	}
	if routes < 40 {
		t.Fatalf("only %d state-changing routes in the table: the walk is broken", routes)
	}
	t.Logf("%d state-changing routes × %d variants × session and token: %d requests refused", routes, len(crossOriginVariants(a.URL)), requests)
}

// sendWith sends an empty form post with headers h as b, or with a made-up
// bearer token instead of b's session (the refusal comes before either is
// looked at).
func sendWith(b *browser, method, path string, h map[string]string, bearer bool) *http.Response {
	req, _ := http.NewRequest(method, b.base+path, strings.NewReader(""))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range h {
		req.Header.Set(k, v)
	}
	if bearer {
		req.Header.Set("Authorization", "Bearer wbk_made_up")
		resp, err := (&http.Client{CheckRedirect: b.c.CheckRedirect}).Do(req) // no cookie jar
		if err != nil {
			b.tb.Fatal(err)
		}
		return resp
	}
	return b.do(req)
}

// A script that asks for JSON gets the API's error shape from the exports
// and from the cross-origin refusal, wherever the path.
func TestErrorsInJSONWhenAsked(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil)
	b := MustRegister(t, a, "json-errors@example.org")
	for _, tc := range []struct {
		method, path string
		h            map[string]string
		status       int
		code         string
	}{
		{http.MethodGet, "/classes/999999/results.json", map[string]string{"Accept": "application/json"}, http.StatusNotFound, "not_found"},
		{http.MethodGet, "/classes/999999/gradebook.csv", map[string]string{"Accept": "application/json"}, http.StatusNotFound, "not_found"},
		{http.MethodPost, "/classes", map[string]string{"Accept": "application/json", "Sec-Fetch-Site": "cross-site"}, http.StatusForbidden, "forbidden"},
	} {
		resp := sendWith(b, tc.method, tc.path, tc.h, false)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct {
			Error struct{ Code, Message string }
		}
		if resp.StatusCode != tc.status || json.Unmarshal(body, &e) != nil || e.Error.Code != tc.code || e.Error.Message == "" {
			t.Errorf("%s %s: %d %q, want %d with the JSON error %q", tc.method, tc.path, resp.StatusCode, body, tc.status, tc.code)
		}
	}
}
