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
			s := MustStartSSO(t, be, ssoOptions{Edit: schoolOnly})
			ssoNewAccount(t, s)
			ssoLinkByVerifiedEmail(t, s)
			ssoRefusesUnverifiedAndForeignDomains(t, s)
			ssoStateIsBoundAndSingleUse(t, s)
			ssoProviderErrors(t, s)
		})
	}
}

// ssoNewAccount: the login page offers the provider; a new person gets a
// learner account, lands where they were going, and has no usable password.
func ssoNewAccount(t *testing.T, s *ssoSetup) {
	d := doc(t, s.browser(t).get("/login"))
	if got := testid(d, "sso-start"); got != "Sign in with School account" {
		t.Errorf("login page button %q", got)
	}
	if d.Find(`[data-testid="login-form"]`).Length() != 1 {
		t.Error("the password form is gone without WORKBOOK_OIDC_ONLY")
	}
	s.users.put("newbie", "New.Person@School.edu", true)
	b := s.browser(t)
	s.signIn(t, b, "/progress", "newbie")
	u, err := s.app.store.UserByEmail(context.Background(), "new.person@school.edu")
	if err != nil || u.Role != store.RoleLearner {
		t.Fatalf("new account %+v, %v", u, err)
	}
	if got := testid(doc(t, b.get("/")), "nav-user"); !strings.Contains(got, "new.person@school.edu") {
		t.Errorf("nav after signing in shows %q", got)
	}
	resp := s.browser(t).post("/login", url.Values{"email": {"new.person@school.edu"}, "password": {"anything at all here"}})
	wantStatus(t, resp, http.StatusUnauthorized)
}

// ssoLinkByVerifiedEmail: an account registered with a password is linked
// by its verified address; after the address changes at the provider the
// subject still opens it.
func ssoLinkByVerifiedEmail(t *testing.T, s *ssoSetup) {
	ctx := context.Background()
	MustRegister(t, s.app, "ada@school.edu")
	ada, _ := s.app.store.UserByEmail(ctx, "ada@school.edu")
	s.users.put("ada-sub", "ada@school.edu", true)
	s.signIn(t, s.browser(t), "", "ada-sub")
	s.users.put("ada-sub", "ada.lovelace@school.edu", true)
	b := s.browser(t)
	s.signIn(t, b, "", "ada-sub")
	if got := testid(doc(t, b.get("/")), "nav-user"); !strings.Contains(got, "ada@school.edu") {
		t.Errorf("after the address changed, signed in as %q", got)
	}
	if ids, _ := s.app.store.Identities(ctx, ada.ID); len(ids) != 1 || ids[0].Subject != "ada-sub" || ids[0].Email != "ada.lovelace@school.edu" {
		t.Errorf("ada's identities %+v", ids)
	}
}

// ssoRefusesUnverifiedAndForeignDomains: an address the provider has not
// verified matches nothing, not even an existing account's; the policy's
// domains apply to new accounts.
func ssoRefusesUnverifiedAndForeignDomains(t *testing.T, s *ssoSetup) {
	ctx := context.Background()
	MustRegister(t, s.app, "bob@school.edu")
	s.users.put("mallory", "bob@school.edu", false)
	b := s.browser(t)
	s.refused(t, "unverified", b, s.callback(b, s.authorize(t, b, "", "mallory")), http.StatusForbidden, "no confirmed email address")
	bob, _ := s.app.store.UserByEmail(ctx, "bob@school.edu")
	if ids, _ := s.app.store.Identities(ctx, bob.ID); len(ids) != 0 {
		t.Errorf("an unverified address was linked: %+v", ids)
	}
	s.users.put("eve", "eve@elsewhere.org", true)
	b = s.browser(t)
	s.refused(t, "domain", b, s.callback(b, s.authorize(t, b, "", "eve")), http.StatusForbidden, "addresses at school.edu")
	if _, err := s.app.store.UserByEmail(ctx, "eve@elsewhere.org"); err == nil {
		t.Error("an account was made for a refused domain")
	}
}

// ssoStateIsBoundAndSingleUse: a tampered state is refused; another
// browser cannot use a callback (a login planted by a link) and burns
// nothing for its owner; a callback works once.
func ssoStateIsBoundAndSingleUse(t *testing.T, s *ssoSetup) {
	s.users.put("carol", "carol@school.edu", true)
	b := s.browser(t)
	cb := s.authorize(t, b, "/lessons", "carol")
	tampered, _ := url.Parse(cb)
	q := tampered.Query()
	q.Set("state", q.Get("state")+"x")
	tampered.RawQuery = q.Encode()
	s.refused(t, "tampered state", b, s.callback(b, tampered.String()), http.StatusBadRequest, "expired or was already used")

	other := s.browser(t)
	s.refused(t, "foreign browser", other, s.callback(other, cb), http.StatusBadRequest, "expired or was already used")

	resp := s.callback(b, cb)
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/lessons" {
		t.Errorf("after signing in sent to %q", loc)
	}
	wantStatus(t, s.callback(b, cb), http.StatusBadRequest)
	s.refused(t, "replay, fresh browser", other, s.callback(other, cb), http.StatusBadRequest, "expired or was already used")
}

// ssoProviderErrors: a refusal the provider itself sends (prompt=none
// with nobody signed in there), and access_denied.
func ssoProviderErrors(t *testing.T, s *ssoSetup) {
	b := s.browser(t)
	resp := b.post("/auth/oidc/start", url.Values{})
	wantStatus(t, resp, http.StatusSeeOther)
	authURL := resolve(t, resp)
	q := authURL.Query()
	q.Set("prompt", "none")
	authURL.RawQuery = q.Encode()
	resp = b.do(mustGet(authURL.String()))
	back := resolve(t, resp)
	if back.Query().Get("error") == "" || !strings.HasPrefix(back.String(), s.base+config.OIDCCallbackPath) {
		t.Fatalf("the provider answered prompt=none with %d to %s", resp.StatusCode, back)
	}
	s.refused(t, "provider error", b, s.callback(b, back.String()), http.StatusBadGateway, "School account could not sign you in")

	resp = b.post("/auth/oidc/start", url.Values{})
	state := resolve(t, resp).Query().Get("state")
	denied := s.base + config.OIDCCallbackPath + "?" + url.Values{"error": {"access_denied"}, "state": {state}}.Encode()
	s.refused(t, "access denied", b, s.callback(b, denied), http.StatusForbidden, "did not let you in")
}

// TestSSORegistrationPolicy: a closed workbook makes no accounts by single
// sign-on but lets existing ones in, and those an admin invited; an
// invite-only one makes them from a class's join link, or for an address
// an admin invited.
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
	// An admin's invitation admits its address even when closed, as it
	// does for registration with a password.
	admin, err := s.app.store.CreateUser(ctx, "admin@example.org", "x", store.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.app.store.CreateInvitation(ctx, store.Invitation{Email: "xavi@example.org", Role: store.RoleLearner, TokenHash: "unused-x",
		CreatedBy: admin.ID, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}, 10); err != nil {
		t.Fatal(err)
	}
	s.users.put("xavi", "xavi@example.org", true)
	s.signIn(t, s.browser(t), "", "xavi")

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

	// An admin's invitation to the address admits its owner, with its role.
	inv := store.Invitation{Email: "ines@example.org", Role: store.RoleInstructor, TokenHash: "unused", CreatedBy: teacher.ID,
		CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	if _, err := s.app.store.CreateInvitation(ctx, inv, 10); err != nil {
		t.Fatal(err)
	}
	s.users.put("ines", "ines@example.org", true)
	s.signIn(t, s.browser(t), "", "ines")
	if u, err := s.app.store.UserByEmail(ctx, "ines@example.org"); err != nil || u.Role != store.RoleInstructor {
		t.Errorf("invited account %+v, %v", u, err)
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
