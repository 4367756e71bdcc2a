package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// schoolOnly is the registration policy of the single sign-on tests.
func schoolOnly(c *config.Config) {
	c.Registration = config.Registration{Mode: config.RegistrationDomains, Domains: []string{"school.edu"}}
}

// TestSSOCodeFlow signs in through a real OpenID provider: a new account,
// an existing account linked by its verified address and found again by
// subject after the address changed, and the refusals (unverified address,
// a domain the policy does not admit, a tampered state, a replayed or
// foreign callback, the provider's own errors), each a sentence on the
// login page that signs nobody in.
func TestSSOCodeFlow(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			ctx := context.Background()
			s := MustStartSSO(t, be, ssoOptions{Edit: schoolOnly})
			st := s.app.store

			// The login page offers the provider.
			d := doc(t, s.browser(t).get("/login"))
			if got := testid(d, "sso-start"); got != "Sign in with School account" {
				t.Errorf("login page button %q", got)
			}
			if d.Find(`[data-testid="login-form"]`).Length() != 1 {
				t.Error("the password form is gone without WORKBOOK_OIDC_ONLY")
			}

			// A new person: an account is made, as a learner, signed in
			// where they were going.
			s.users.put("newbie", "New.Person@School.edu", true)
			b := s.browser(t)
			s.signIn(t, b, "/progress", "newbie")
			u, err := st.UserByEmail(ctx, "new.person@school.edu")
			if err != nil || u.Role != store.RoleLearner {
				t.Fatalf("new account %+v, %v", u, err)
			}
			if got := testid(doc(t, b.get("/")), "nav-user"); !strings.Contains(got, "new.person@school.edu") {
				t.Errorf("nav after signing in shows %q", got)
			}
			// Its password is nothing anyone knows.
			resp := newBrowser(t, s.app).post("/login", url.Values{"email": {"new.person@school.edu"}, "password": {"anything at all here"}})
			wantStatus(t, resp, http.StatusUnauthorized)

			// Someone who registered with a password: the verified address
			// links the account, and after the address changes at the
			// provider the subject still opens it.
			MustRegister(t, s.app, "ada@school.edu")
			ada, _ := st.UserByEmail(ctx, "ada@school.edu")
			s.users.put("ada-sub", "ada@school.edu", true)
			s.signIn(t, s.browser(t), "", "ada-sub")
			s.users.put("ada-sub", "ada.lovelace@school.edu", true)
			b = s.browser(t)
			s.signIn(t, b, "", "ada-sub")
			if got := testid(doc(t, b.get("/")), "nav-user"); !strings.Contains(got, "ada@school.edu") {
				t.Errorf("after the address changed, signed in as %q", got)
			}
			if ids, _ := st.Identities(ctx, ada.ID); len(ids) != 1 || ids[0].Subject != "ada-sub" || ids[0].Email != "ada.lovelace@school.edu" {
				t.Errorf("ada's identities %+v", ids)
			}

			// refused checks a callback's answer: the status, a sentence on
			// the login page, and no session.
			refused := func(name string, b *browser, resp *http.Response, status int, sentence string) {
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

			// An address the provider has not verified matches nothing,
			// not even an existing account's.
			MustRegister(t, s.app, "bob@school.edu")
			s.users.put("mallory", "bob@school.edu", false)
			b = s.browser(t)
			refused("unverified", b, s.callback(b, s.authorize(t, b, "", "mallory")), http.StatusForbidden, "no confirmed email address")
			bob, _ := st.UserByEmail(ctx, "bob@school.edu")
			if ids, _ := st.Identities(ctx, bob.ID); len(ids) != 0 {
				t.Errorf("an unverified address was linked: %+v", ids)
			}

			// The registration policy's domains apply to new accounts.
			s.users.put("eve", "eve@elsewhere.org", true)
			b = s.browser(t)
			refused("domain", b, s.callback(b, s.authorize(t, b, "", "eve")), http.StatusForbidden, "addresses at school.edu")
			if _, err := st.UserByEmail(ctx, "eve@elsewhere.org"); err == nil {
				t.Error("an account was made for a refused domain")
			}

			// A tampered state is refused; the real one still works after.
			s.users.put("carol", "carol@school.edu", true)
			b = s.browser(t)
			cb := s.authorize(t, b, "/lessons", "carol")
			u2, _ := url.Parse(cb)
			q := u2.Query()
			q.Set("state", q.Get("state")+"x")
			u2.RawQuery = q.Encode()
			refused("tampered state", b, s.callback(b, u2.String()), http.StatusBadRequest, "expired or was already used")

			// Someone else's browser cannot use the callback (a login
			// planted by a link), and it burns nothing for the owner.
			other := s.browser(t)
			refused("foreign browser", other, s.callback(other, cb), http.StatusBadRequest, "expired or was already used")

			resp = s.callback(b, cb)
			wantStatus(t, resp, http.StatusSeeOther)
			if loc := resp.Header.Get("Location"); loc != "/lessons" {
				t.Errorf("after signing in sent to %q", loc)
			}
			// The same callback again is refused, signed in or not.
			resp = s.callback(b, cb)
			wantStatus(t, resp, http.StatusBadRequest)
			refused("replay, fresh browser", other, s.callback(other, cb), http.StatusBadRequest, "expired or was already used")

			// The provider's errors: a refusal it sends (prompt=none with
			// nobody signed in there), and access_denied.
			b = s.browser(t)
			resp = b.post("/auth/oidc/start", url.Values{})
			wantStatus(t, resp, http.StatusSeeOther)
			authURL := resolve(t, resp)
			q = authURL.Query()
			q.Set("prompt", "none")
			authURL.RawQuery = q.Encode()
			resp = b.do(mustGet(authURL.String()))
			back := resolve(t, resp)
			if back.Query().Get("error") == "" || !strings.HasPrefix(back.String(), s.base+config.OIDCCallbackPath) {
				t.Fatalf("the provider answered prompt=none with %d to %s", resp.StatusCode, back)
			}
			refused("provider error", b, s.callback(b, back.String()), http.StatusBadGateway, "School account could not sign you in")

			resp = b.post("/auth/oidc/start", url.Values{})
			state := resolve(t, resp).Query().Get("state")
			denied := s.base + config.OIDCCallbackPath + "?" + url.Values{"error": {"access_denied"}, "state": {state}}.Encode()
			refused("access denied", b, s.callback(b, denied), http.StatusForbidden, "did not let you in")
		})
	}
}

// TestSSORegistrationPolicy: a closed workbook makes no accounts by single
// sign-on but lets existing ones in; an invite-only one makes them only
// from a class's join link.
func TestSSORegistrationPolicy(t *testing.T) {
	ctx := context.Background()
	policy := func(mode string) ssoOptions {
		return ssoOptions{Edit: func(c *config.Config) { c.Registration = config.Registration{Mode: mode} }}
	}

	s := MustStartSSO(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, policy(config.RegistrationClosed))
	s.users.put("zoe", "zoe@example.org", true)
	b := s.browser(t)
	resp := s.callback(b, s.authorize(t, b, "", "zoe"))
	wantStatus(t, resp, http.StatusForbidden)
	if got := testid(doc(t, resp), "form-message"); !strings.Contains(got, "not taking new accounts") {
		t.Errorf("closed: %q", got)
	}
	if _, err := s.app.store.CreateUser(ctx, "zoe@example.org", "x", store.RoleLearner); err != nil {
		t.Fatal(err)
	}
	s.signIn(t, s.browser(t), "", "zoe")

	s = MustStartSSO(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, policy(config.RegistrationInvite))
	teacher, err := s.app.store.CreateUser(ctx, "teacher@example.org", "x", store.RoleInstructor)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := s.app.store.CreateClass(ctx, teacher.ID, "Spring", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s.users.put("yann", "yann@example.org", true)
	b = s.browser(t)
	resp = s.callback(b, s.authorize(t, b, "/lessons", "yann"))
	wantStatus(t, resp, http.StatusForbidden)
	if got := testid(doc(t, resp), "form-message"); !strings.Contains(got, "join link") {
		t.Errorf("invite without a join link: %q", got)
	}
	resp = s.callback(b, s.authorize(t, b, "/join/NOSUCHCODE", "yann"))
	wantStatus(t, resp, http.StatusForbidden)
	s.signIn(t, b, "/join/"+cl.JoinCode, "yann")
	if _, err := s.app.store.UserByEmail(ctx, "yann@example.org"); err != nil {
		t.Errorf("invite with a join link made no account: %v", err)
	}
}

// TestSSOOnly: with WORKBOOK_OIDC_ONLY the login page is the provider's
// button, nobody registers with a password, and a password opens admin
// accounts alone.
func TestSSOOnly(t *testing.T) {
	be := testenv.Backend{Name: "embedded", DataDir: t.TempDir()}
	s := MustStartSSO(t, be, ssoOptions{Edit: func(c *config.Config) { c.OIDC.Only = true }})
	ctx := context.Background()
	b := s.browser(t)

	d := doc(t, b.get("/login"))
	if d.Find(`[data-testid="login-form"]`).Length() != 0 || testid(d, "sso-start") != "Sign in with School account" {
		t.Error("the SSO-only login page shows a password form or no button")
	}
	resp := b.get("/register")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Errorf("GET /register: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp = b.post("/register", url.Values{"email": {"x@example.org"}, "password": {goodPassword}})
	wantStatus(t, resp, http.StatusForbidden)
	if _, err := s.app.store.UserByEmail(ctx, "x@example.org"); err == nil {
		t.Error("an account was registered with a password")
	}

	// Passwords: an admin gets in (the way back when the provider fails),
	// anyone else is told to use the provider.
	for _, tc := range []struct {
		email string
		role  store.Role
		want  int
	}{{"root@example.org", store.RoleAdmin, http.StatusSeeOther}, {"lea@example.org", store.RoleLearner, http.StatusForbidden}} {
		hash, _ := s.app.app.hasher.Hash(goodPassword)
		if _, err := s.app.store.CreateUser(ctx, tc.email, hash, tc.role); err != nil {
			t.Fatal(err)
		}
		pb := s.browser(t)
		if d := doc(t, pb.get("/login?password=1")); d.Find(`[data-testid="login-form"]`).Length() != 1 {
			t.Fatal("no password form at /login?password=1")
		}
		resp := pb.post("/login", url.Values{"email": {tc.email}, "password": {goodPassword}})
		if resp.StatusCode != tc.want {
			t.Errorf("%s password login: %d, want %d", tc.role, resp.StatusCode, tc.want)
		}
	}

	s.users.put("lea", "lea@example.org", true)
	s.signIn(t, s.browser(t), "", "lea")
}

// TestSSOProviderDown: a provider that is down when the workbook starts
// does not stop it; the login page says so, and once the provider is back
// the next press of the button signs in.
func TestSSOProviderDown(t *testing.T) {
	be := testenv.Backend{Name: "embedded", DataDir: t.TempDir()}
	s := MustStartSSO(t, be, ssoOptions{Down: true})
	b := s.browser(t)
	wantStatus(t, b.get("/healthz"), http.StatusOK)

	var d = doc(t, b.get("/login"))
	for deadline := time.Now().Add(30 * time.Second); testid(d, "sso-unreachable") == "" && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		d = doc(t, b.get("/login"))
	}
	if got := testid(d, "sso-unreachable"); !strings.Contains(got, "not answering") {
		t.Fatalf("login page with the provider down: %q", got)
	}
	resp := b.post("/auth/oidc/start", url.Values{})
	wantStatus(t, resp, http.StatusServiceUnavailable)
	if got := testid(doc(t, resp), "form-message"); !strings.Contains(got, "not answering") {
		t.Errorf("start with the provider down: %q", got)
	}

	s.down.Store(false)
	s.app.advance(discoveryRetry + time.Second)
	resp = b.post("/auth/oidc/start", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, s.issuer+"/auth?") {
		t.Errorf("start after the provider came back sends to %q", loc)
	}
}
