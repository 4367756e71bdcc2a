package web

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// TestClientAddressForThrottles: the address the login and registration
// throttles count is the peer's unless the peer is a configured proxy, and
// then the right-most address in X-Forwarded-For that is not a proxy. A
// client cannot move its attempts to invented addresses.
func TestClientAddressForThrottles(t *testing.T) {
	const (
		spoofed = "198.51.100.77" // what the client claims
		real    = "203.0.113.5"   // what a proxy in front saw
		other   = "192.0.2.44"    // X-Real-IP, which nothing here sets
	)
	cases := []struct {
		name    string
		proxies []string
		header  map[string]string
		want    string // the address counted
	}{
		{"no proxy configured: the header is ignored", nil,
			map[string]string{"X-Forwarded-For": spoofed, "X-Real-IP": other}, "127.0.0.1"},
		{"a peer that is not the configured proxy", []string{"10.9.9.9"},
			map[string]string{"X-Forwarded-For": spoofed}, "127.0.0.1"},
		{"from the proxy: its address for the client", []string{"127.0.0.1"},
			map[string]string{"X-Forwarded-For": real}, real},
		{"from the proxy: a client's own entry on the left does not count", []string{"127.0.0.1"},
			map[string]string{"X-Forwarded-For": spoofed + ", " + real}, real},
		{"through two configured proxies", []string{"127.0.0.1", "10.0.0.2"},
			map[string]string{"X-Forwarded-For": spoofed + ", " + real + ", 10.0.0.2"}, real},
		{"from the proxy without a usable header: the proxy's own", []string{"127.0.0.1"},
			map[string]string{"X-Forwarded-For": "unknown", "X-Real-IP": other}, "127.0.0.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, be := range testenv.Backends(t) {
				t.Run(be.Name, func(t *testing.T) {
					a := MustStart(t, be, func(c *config.Config) { c.TrustedProxies = tc.proxies })
					ctx := context.Background()
					rdb := a.redis.Client
					if code := formPost(t, a, "/register", url.Values{"email": {"new@example.org"}, "password": {goodPassword}}, tc.header); code != http.StatusSeeOther {
						t.Fatalf("register: %d", code)
					}
					if code := formPost(t, a, "/login", url.Values{"email": {"new@example.org"}, "password": {"wrong password!"}}, tc.header); code != http.StatusUnauthorized {
						t.Fatalf("login: %d", code)
					}
					att := auth.DefaultLoginLimits.For("new@example.org", tc.want)
					for _, key := range []string{auth.RegisterLimit(tc.want).Key, att.Pair.Key, att.IP.Key} {
						if n, err := rdb.Get(ctx, key).Int(); n != 1 {
							t.Errorf("%s = %d (%v); want 1", key, n, err)
						}
					}
					for _, ip := range []string{spoofed, real, other, "127.0.0.1", "10.0.0.2"} {
						if ip == tc.want {
							continue
						}
						if n, _ := rdb.Exists(ctx, auth.RegisterLimit(ip).Key, auth.DefaultLoginLimits.For("new@example.org", ip).IP.Key).Result(); n != 0 {
							t.Errorf("attempts counted against %s", ip)
						}
					}
				})
			}
		})
	}
}

// TestWarnsOnceWhenTLSIsNotConfigured: a proxy that took requests over
// https while WORKBOOK_BASE_URL is http or empty gets one warning in the
// log (cookies are not Secure, no HSTS), not one per request; with an https
// base URL there is nothing to warn about.
func TestWarnsOnceWhenTLSIsNotConfigured(t *testing.T) {
	for _, tc := range []struct {
		base  string
		warns int
	}{{"", 1}, {"http://workbook.example", 1}, {"https://workbook.example", 0}} {
		t.Run(tc.base, func(t *testing.T) {
			a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, func(c *config.Config) { c.BaseURL = tc.base })
			b := newBrowser(t, a)
			wantStatus(t, b.get("/healthz"), http.StatusOK)
			if n := len(a.logs.lines(plainBaseURLWarning)); n != 0 {
				t.Fatalf("%d warnings before any request came over https", n)
			}
			for _, proto := range []string{"https", "HTTPS, http", "https"} {
				req, _ := http.NewRequest(http.MethodGet, a.URL+"/lessons", nil)
				req.Header.Set("X-Forwarded-Proto", proto)
				wantStatus(t, b.do(req), http.StatusOK)
			}
			lines := a.logs.lines(plainBaseURLWarning)
			if len(lines) != tc.warns {
				t.Fatalf("%d warnings, want %d", len(lines), tc.warns)
			}
			if tc.warns > 0 && (lines[0]["level"] != "WARN" || lines[0]["request_id"] == "") {
				t.Errorf("warning %v: want level WARN with the request id", lines[0])
			}
		})
	}
}
