package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"golang.org/x/text/language"

	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// The single sign-on tests run against a real OpenID provider: the example
// provider that zitadel/oidc ships (discovery, keys, an authorization
// endpoint with a login form, a token endpoint checking the client secret
// and PKCE, userinfo), with its users in memory, on 127.0.0.1.

const (
	ssoClientID     = "workbook"
	ssoClientSecret = "client secret of the workbook"
	ssoPassword     = "provider password"
)

// providerUsers are the provider's people; tests add and change them.
type providerUsers struct {
	mu    sync.Mutex
	users map[string]*storage.User // by ID
}

func (p *providerUsers) GetUserByID(id string) *storage.User {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.users[id]
}

func (p *providerUsers) GetUserByUsername(name string) *storage.User {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, u := range p.users {
		if u.Username == name {
			return u
		}
	}
	return nil
}

func (p *providerUsers) ExampleClientID() string { return "service" }

// put adds or replaces a person; their username is their ID.
func (p *providerUsers) put(id, email string, verified bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// A fresh value rather than an edit: the provider may still hold the old one.
	p.users[id] = &storage.User{ID: id, Username: id, Password: ssoPassword, FirstName: "Test", LastName: id,
		Email: email, EmailVerified: verified, PreferredLanguage: language.English}
}

// ssoSetup is a running provider and a workbook that signs in with it.
type ssoSetup struct {
	app      *testApp
	base     string // the workbook's public URL (WORKBOOK_BASE_URL)
	issuer   string
	users    *providerUsers
	down     atomic.Bool // the provider answers 503 to everything while set
	provider *httptest.Server
}

// ssoOptions shape MustStartSSO's setup.
type ssoOptions struct {
	// IssuerHost is the provider's host name: 127.0.0.1 (the default) or
	// localhost, which a browser treats as another site than 127.0.0.1.
	IssuerHost string
	// Down starts the provider answering 503 to everything.
	Down bool
	// Edit may change the workbook's configuration further.
	Edit func(*config.Config)
}

// MustStartSSO starts a provider and the workbook on backend be,
// configured for each other.
func MustStartSSO(tb testing.TB, be testenv.Backend, o ssoOptions) *ssoSetup {
	tb.Helper()
	if o.IssuerHost == "" {
		o.IssuerHost = "127.0.0.1"
	}
	s := &ssoSetup{users: &providerUsers{users: map[string]*storage.User{}}}
	s.down.Store(o.Down)
	// Both listeners first: the workbook's configuration names the
	// provider, and the provider's client names the workbook's callback.
	s.provider = httptest.NewUnstartedServer(nil)
	front := httptest.NewUnstartedServer(nil)
	_, port, _ := strings.Cut(s.provider.Listener.Addr().String(), ":")
	s.issuer = "http://" + o.IssuerHost + ":" + port
	s.base = "http://" + front.Listener.Addr().String()

	clients := map[string]*storage.Client{ssoClientID: storage.WebClient(ssoClientID, ssoClientSecret, s.base+config.OIDCCallbackPath)}
	op := exampleop.SetupServer(s.issuer, storage.NewStorageWithClients(s.users, clients), nil, false)
	s.provider.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.down.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		op.ServeHTTP(w, r)
	})
	s.provider.Start()
	tb.Cleanup(s.provider.Close)

	s.app = MustStart(tb, be, func(c *config.Config) {
		c.BaseURL = s.base
		c.OIDC = config.OIDC{Issuer: s.issuer, ClientID: ssoClientID, ClientSecret: ssoClientSecret, Name: "School account"}
		if o.Edit != nil {
			o.Edit(c)
		}
	})
	front.Config.Handler = s.app.app
	front.Start()
	tb.Cleanup(front.Close)
	return s
}

// browser is a cookie-jar client for the workbook's public URL.
func (s *ssoSetup) browser(tb testing.TB) *browser {
	b := newBrowser(tb, s.app)
	b.base = s.base
	return b
}

// authorize presses "Sign in with …" (with next), signs in at the provider
// as user, and returns the callback URL the provider sends the browser
// back to, without opening it.
func (s *ssoSetup) authorize(tb testing.TB, b *browser, next, user string) string {
	tb.Helper()
	loginPage := s.toProvider(tb, b, next)
	id := loginPage.Query().Get("authRequestID")
	form := url.Values{"id": {id}, "username": {user}, "password": {ssoPassword}}
	req, _ := http.NewRequest(http.MethodPost, s.issuer+"/login/username", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp := b.do(req)
	for resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther {
		loc := resolve(tb, resp)
		if strings.HasPrefix(loc.String(), s.base+config.OIDCCallbackPath) {
			return loc.String()
		}
		resp = b.do(mustGet(loc.String()))
	}
	body, _ := io.ReadAll(resp.Body)
	tb.Fatalf("the provider did not send the browser back: %d %s", resp.StatusCode, body)
	return ""
}

// toProvider presses the button and follows the provider's redirects to
// its login form, whose URL it returns.
func (s *ssoSetup) toProvider(tb testing.TB, b *browser, next string) *url.URL {
	tb.Helper()
	resp := b.post("/auth/oidc/start", url.Values{"next": {next}})
	wantStatus(tb, resp, http.StatusSeeOther)
	for i := 0; i < 5; i++ {
		loc := resolve(tb, resp)
		if loc.Path == "/login/username" {
			return loc
		}
		resp = b.do(mustGet(loc.String()))
		if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
			body, _ := io.ReadAll(resp.Body)
			tb.Fatalf("GET %s: %d %s", loc, resp.StatusCode, body)
		}
	}
	tb.Fatal("no login form at the provider")
	return nil
}

// callback opens the callback URL as the browser would after the
// provider's redirect.
func (s *ssoSetup) callback(b *browser, callbackURL string) *http.Response {
	req, _ := http.NewRequest(http.MethodGet, callbackURL, nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	return b.do(req)
}

// signIn goes the whole way and expects to land on next, signed in.
func (s *ssoSetup) signIn(tb testing.TB, b *browser, next, user string) {
	tb.Helper()
	resp := s.callback(b, s.authorize(tb, b, next, user))
	wantStatus(tb, resp, http.StatusSeeOther)
	want := next
	if want == "" {
		want = "/"
	}
	if got := resp.Header.Get("Location"); got != want {
		tb.Fatalf("signed in, sent to %q, want %q", got, want)
	}
}

// refused checks a callback's answer: the status, a sentence on the login
// page, and no session.
func (s *ssoSetup) refused(t *testing.T, name string, b *browser, resp *http.Response, status int, sentence string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("%s: status %d, want %d", name, resp.StatusCode, status)
	}
	d := doc(t, resp)
	if got := testid(d, "form-message"); !strings.Contains(got, sentence) {
		t.Errorf("%s: message %q, want it to say %q", name, got, sentence)
	}
	if d.Find(`[data-testid="sso-start"]`).Length() != 1 {
		t.Errorf("%s: the login page does not offer to sign in again", name)
	}
	if got := testid(doc(t, b.get("/")), "nav-user"); got != "" {
		t.Errorf("%s: signed in as %q", name, got)
	}
}

func resolve(tb testing.TB, resp *http.Response) *url.URL {
	tb.Helper()
	loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
	if err != nil || resp.Header.Get("Location") == "" {
		tb.Fatalf("%s %s: %d without a usable Location (%v)", resp.Request.Method, resp.Request.URL, resp.StatusCode, err)
	}
	return loc
}

func mustGet(u string) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return req
}
