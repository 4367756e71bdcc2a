package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/testenv"
)

func TestAccountJourney(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, nil)
			b := newBrowser(t, a)

			home := b.get("/")
			wantStatus(t, home, http.StatusOK)
			if d := doc(t, home); d.Find(`[data-testid="nav-user"]`).Length() != 0 {
				t.Fatal("anonymous home shows a user")
			}
			registerAda(t, b)

			// Registering the same address again is refused beside the field.
			other := newBrowser(t, a)
			resp := other.post("/register", url.Values{"email": {"ada@example.org"}, "password": {goodPassword}})
			wantStatus(t, resp, http.StatusConflict)
			if msg := testid(doc(t, resp), "error-email"); !strings.Contains(msg, "already exists") {
				t.Errorf("duplicate email message = %q", msg)
			}

			checkLogoutAndLogin(t, a, b)

			// The second account is a learner.
			MustRegister(t, a, "grace@example.org")
			u2, err := a.store.UserByEmail(context.Background(), "grace@example.org")
			if err != nil || u2.Role != "learner" {
				t.Errorf("second account: %+v %v", u2, err)
			}
		})
	}
}

// registerAda: bad input re-renders the form with messages and keeps the
// email; a good one signs the browser in with a safe cookie, as a learner.
func registerAda(t *testing.T, b *browser) {
	t.Helper()
	// Bad input re-renders the form with messages and keeps the email.
	resp := b.post("/register", url.Values{"email": {"  Ada@Example.ORG "}, "password": {"short"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	d := doc(t, resp)
	if msg := testid(d, "error-password"); !strings.Contains(msg, "12 characters") {
		t.Errorf("password error = %q", msg)
	}
	if v, _ := d.Find("#email").Attr("value"); v != "Ada@Example.ORG" {
		t.Errorf("email field kept %q", v)
	}

	resp = b.post("/register", url.Values{"email": {"  Ada@Example.ORG "}, "password": {goodPassword}})
	wantStatus(t, resp, http.StatusSeeOther)
	ck := b.cookie("workbook_session")
	if ck == nil {
		t.Fatal("no session cookie after registration")
	}
	setCookie := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(setCookie, want) {
			t.Errorf("session cookie %q lacks %s", setCookie, want)
		}
	}
	home := b.get("/")
	d = doc(t, home)
	if got := testid(d, "nav-user"); !strings.Contains(got, "ada@example.org") || strings.Contains(got, "admin") {
		t.Errorf("nav shows %q, want the normalised email and no admin role: registering first makes nobody an admin", got)
	}
	if got := testid(d, "flash"); !strings.Contains(got, "Welcome") {
		t.Errorf("flash = %q", got)
	}
}

// checkLogoutAndLogin: logging out destroys the session on the server, not
// only the cookie; logging in issues a new token each time.
func checkLogoutAndLogin(t *testing.T, a *testApp, b *browser) {
	t.Helper()
	// Log out destroys the session on the server, not only the cookie.
	stolen := b.cookie("workbook_session").Value
	wantStatus(t, b.post("/logout", nil), http.StatusSeeOther)
	if b.cookie("workbook_session") != nil {
		t.Error("cookie survived logout")
	}
	replay := newBrowser(t, a)
	u, _ := url.Parse(a.URL)
	replay.c.Jar.SetCookies(u, []*http.Cookie{{Name: "workbook_session", Value: stolen}})
	if testid(doc(t, replay.get("/")), "nav-user") != "" {
		t.Error("a logged-out token still works")
	}

	// Logging in issues a new token each time.
	resp := b.post("/login", url.Values{"email": {"ADA@example.org"}, "password": {goodPassword}, "next": {"/lessons"}})
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/lessons" {
		t.Errorf("login redirected to %q", loc)
	}
	if nv := b.cookie("workbook_session"); nv == nil || nv.Value == stolen {
		t.Error("login did not issue a fresh token")
	}
	if got := testid(doc(t, b.get("/")), "nav-user"); !strings.Contains(got, "ada@example.org") {
		t.Errorf("after login nav shows %q", got)
	}
}

func TestCrossOriginPostIsRefused(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil)
	b := newBrowser(t, a)
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Origin": "https://evil.example"},
	} {
		req, _ := http.NewRequest(http.MethodPost, a.URL+"/register",
			strings.NewReader(url.Values{"email": {"x@example.org"}, "password": {goodPassword}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp := b.do(req)
		wantStatus(t, resp, http.StatusForbidden)
	}
	if _, err := a.store.UserByEmail(context.Background(), "x@example.org"); err == nil {
		t.Error("a cross-origin registration created an account")
	}
}

func TestSessionTimeouts(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, func(c *config.Config) {
		c.SessionIdle = time.Hour
		c.SessionMax = 5 * time.Hour
	})
	b := MustRegister(t, a, "idle@example.org")
	signedIn := func() bool { return testid(doc(t, b.get("/")), "nav-user") != "" }
	if !signedIn() {
		t.Fatal("not signed in after registration")
	}
	// Activity every 50 minutes keeps the session alive past the idle limit...
	for i := 0; i < 4; i++ {
		a.advance(50 * time.Minute)
		if !signedIn() {
			t.Fatalf("session ended after %d active intervals", i+1)
		}
	}
	// ...until the absolute limit: 3h20 so far.
	a.advance(50 * time.Minute) // 4h10
	if !signedIn() {
		t.Fatal("session ended before either limit")
	}
	a.advance(40 * time.Minute) // 4h50
	if !signedIn() {
		t.Fatal("session ended before either limit")
	}
	a.advance(20 * time.Minute) // 5h10 since login, 20 min idle
	if signedIn() {
		t.Error("session outlived the absolute timeout")
	}

	b2 := MustRegister(t, a, "idle2@example.org")
	a.advance(61 * time.Minute)
	if testid(doc(t, b2.get("/")), "nav-user") != "" {
		t.Error("session outlived the idle timeout")
	}
}

func TestSecureCookiesBehindTLS(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, func(c *config.Config) {
		c.BaseURL = "https://workbook.example.org"
	})
	b := newBrowser(t, a)
	req, _ := http.NewRequest(http.MethodPost, a.URL+"/register",
		strings.NewReader(url.Values{"email": {"tls@example.org"}, "password": {goodPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://workbook.example.org")
	resp := b.do(req)
	wantStatus(t, resp, http.StatusSeeOther)
	var found bool
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-workbook_session" {
			found = true
			if !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" || c.SameSite != http.SameSiteLaxMode {
				t.Errorf("cookie flags: %+v", c)
			}
		}
	}
	if !found {
		t.Errorf("no __Host- cookie in %v", resp.Header.Values("Set-Cookie"))
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS header behind TLS")
	}
}

func TestHealthAndReadiness(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, nil)
			b := newBrowser(t, a)
			wantStatus(t, b.get("/healthz"), http.StatusOK)
			resp := b.get("/readyz")
			wantStatus(t, resp, http.StatusOK)

			// Redis goes away: not ready, with the reason.
			a.redis.Client.Close()
			resp = b.get("/readyz")
			wantStatus(t, resp, http.StatusServiceUnavailable)
			var body map[string]string
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if body["status"] != "unhealthy" || body["reason"] != "redis unreachable" {
				t.Errorf("readyz body %v", body)
			}
			// The database goes away too: it is named first.
			a.store.Close()
			resp = b.get("/readyz")
			wantStatus(t, resp, http.StatusServiceUnavailable)
			body = nil
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if body["reason"] != "database unreachable" {
				t.Errorf("readyz body %v", body)
			}
			// Alive all the same.
			wantStatus(t, b.get("/healthz"), http.StatusOK)
		})
	}
}

func TestSecurityHeadersAndErrors(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil)
	b := newBrowser(t, a)
	resp := b.get("/")
	h := resp.Header
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") ||
		!strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
		t.Errorf("headers %v", h)
	}
	if h.Get("X-Request-Id") == "" {
		t.Error("no request id")
	}
	// No inline scripts anywhere in the page: the CSP would block them.
	d := doc(t, resp)
	d.Find("script").Each(func(_ int, s *goquery.Selection) {
		if src, _ := s.Attr("src"); src == "" {
			t.Error("inline script in page")
		}
	})

	resp = b.get("/no/such/page")
	wantStatus(t, resp, http.StatusNotFound)
	if doc(t, resp).Find(`[data-testid="error-page"]`).Length() != 1 {
		t.Error("404 is not the error page")
	}
	resp = b.get("/api/no/such/thing")
	wantStatus(t, resp, http.StatusNotFound)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("API 404 content type %q", ct)
	}

	// An oversized form is refused without being read whole.
	big := url.Values{"email": {strings.Repeat("a", 100<<10)}, "password": {goodPassword}}
	wantStatus(t, b.post("/login", big), http.StatusRequestEntityTooLarge)
}

func TestStaticAssetsAreCached(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil)
	b := newBrowser(t, a)
	u := a.app.assets.url("app.css")
	if !strings.Contains(u, "?v=") {
		t.Fatalf("asset url %q is not versioned", u)
	}
	resp := b.get(u)
	wantStatus(t, resp, http.StatusOK)
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("versioned asset Cache-Control %q", cc)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("content type %q", ct)
	}
	etag := resp.Header.Get("ETag")
	req, _ := http.NewRequest(http.MethodGet, a.URL+u, nil)
	req.Header.Set("If-None-Match", etag)
	wantStatus(t, b.do(req), http.StatusNotModified)
	for _, vendored := range []string{"vendor/htmx.min.js", "vendor/uplot.min.js", "vendor/uplot.min.css"} {
		wantStatus(t, b.get(a.app.assets.url(vendored)), http.StatusOK)
	}
	wantStatus(t, b.get("/static/../go.mod"), http.StatusNotFound)

	// Text is compressed for clients that accept it.
	req, _ = http.NewRequest(http.MethodGet, a.URL+"/lessons/cap", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp = b.do(req)
	wantStatus(t, resp, http.StatusOK)
	if ce := resp.Header.Get("Content-Encoding"); ce != "gzip" {
		t.Errorf("lesson page Content-Encoding %q", ce)
	}
}

func TestPanicBecomesErrorPage(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil)
	r := gin.New()
	r.Use(a.app.requestLog, a.app.recoverPanics)
	r.GET("/boom", func(*gin.Context) { panic("boom") })
	srv := httptestServer(t, r)
	resp, err := http.Get(srv + "/boom")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	wantStatus(t, resp, http.StatusInternalServerError)
	if d := doc(t, resp); !strings.Contains(d.Text(), "Something went wrong") || strings.Contains(d.Text(), "boom") {
		t.Errorf("panic page leaks or lacks the message: %q", d.Find("main").Text())
	}
}
