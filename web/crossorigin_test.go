package web

import (
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
