package web

import (
	"net/http"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// FuzzSSOCallback sends arbitrary queries and binding cookies to the
// callback: none signs anyone in or fails with a 500, and each answer is
// the login page with a sentence.
func FuzzSSOCallback(f *testing.F) {
	a := MustStart(f, testenv.Backend{Name: "embedded", DataDir: f.TempDir()}, func(c *config.Config) {
		c.BaseURL = "http://127.0.0.1"
		// Nothing listens there: the callback must not need the provider
		// to refuse what it refuses.
		c.OIDC = config.OIDC{Issuer: "http://127.0.0.1:1", ClientID: "workbook", Name: "School account"}
	})
	for _, s := range [][2]string{
		{"code=abc&state=xyz", "binding"},
		{"error=access_denied&state=xyz", ""},
		{"state=" + strings.Repeat("s", 300), "x"},
		{"code=&state=", ""},
		{"state=%zz", "\x00"},
		{"error=server_error&error_description=%3Cscript%3E&state=a", "a"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, query, binding string) {
		req, err := http.NewRequest(http.MethodGet, a.URL+config.OIDCCallbackPath, nil)
		if err != nil {
			t.Skip()
		}
		if strings.IndexFunc(query, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
			// Spaces and control characters make no valid request line:
			// the HTTP server refuses it before the app sees it.
			t.Skip()
		}
		req.URL.RawQuery = query
		if binding != "" {
			req.AddCookie(&http.Cookie{Name: "workbook_sso", Value: strings.Map(cookieSafe, binding)})
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Skip() // the query made no valid request line
		}
		defer resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 && resp.StatusCode != http.StatusBadGateway && resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("%q: status %d", query, resp.StatusCode)
		}
		for _, c := range resp.Cookies() {
			if strings.Contains(c.Name, "session") && c.MaxAge >= 0 {
				t.Fatalf("%q: a session cookie was set", query)
			}
		}
		if testid(doc(t, resp), "form-message") == "" {
			t.Fatalf("%q: %d without a sentence", query, resp.StatusCode)
		}
	})
}

// cookieSafe keeps the characters a cookie value may hold.
func cookieSafe(r rune) rune {
	if r > 0x20 && r < 0x7f && r != '"' && r != ';' && r != '\\' && r != ',' {
		return r
	}
	return -1
}
