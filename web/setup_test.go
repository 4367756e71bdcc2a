package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// A fresh server has no admin: the first to register is a learner, and a
// one-time setup link makes the admin, once; every other link dies with it.
func TestSetupLinkMakesTheFirstAdmin(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, nil)
			ctx := context.Background()
			first := MustRegister(t, a, "first@example.org")
			if u, _ := a.store.UserByEmail(ctx, "first@example.org"); u.Role != store.RoleLearner {
				t.Fatalf("the first registrant is %s, want learner", u.Role)
			}
			wantStatus(t, first.get("/admin/users"), http.StatusForbidden)

			link, err := a.app.SetupLink(ctx, a.URL+"/")
			if err != nil || !strings.HasPrefix(link, a.URL+"/setup/") {
				t.Fatalf("setup link %q, %v", link, err)
			}
			other, _ := a.app.SetupLink(ctx, a.URL) // another replica's, or an earlier start's
			path, otherPath := strings.TrimPrefix(link, a.URL), strings.TrimPrefix(other, a.URL)
			if path == otherPath {
				t.Fatal("two setup links are the same")
			}

			op := newBrowser(t, a)
			d := doc(t, op.get(path))
			if d.Find(`[data-testid="setup-form"]`).Length() != 1 {
				t.Fatal("the setup page offers no form")
			}
			resp := op.post(path, url.Values{"email": {"root"}, "password": {"short"}})
			wantStatus(t, resp, http.StatusUnprocessableEntity)
			d = doc(t, resp)
			if testid(d, "error-email") == "" || testid(d, "error-password") == "" {
				t.Error("bad setup input is not named beside its fields")
			}
			resp = op.post(path, url.Values{"email": {"first@example.org"}, "password": {goodPassword}})
			wantStatus(t, resp, http.StatusConflict)
			if msg := testid(doc(t, resp), "error-email"); !strings.Contains(msg, "log in") {
				t.Errorf("a taken address: %q", msg)
			}
			resp = op.post(path, url.Values{"email": {"root@example.org"}, "password": {goodPassword}})
			wantStatus(t, resp, http.StatusSeeOther)
			if loc := resp.Header.Get("Location"); loc != "/admin/users" {
				t.Errorf("after setup: Location %q", loc)
			}
			if u, _ := a.store.UserByEmail(ctx, "root@example.org"); u.Role != store.RoleAdmin {
				t.Fatalf("the setup account is %s", u.Role)
			}
			wantStatus(t, op.get("/admin/users"), http.StatusOK)

			// Used once: this link and the other one are gone for everyone.
			for _, p := range []string{path, otherPath} {
				for _, b := range []*browser{newBrowser(t, a), first} {
					resp := b.get(p)
					wantStatus(t, resp, http.StatusNotFound)
					if !strings.Contains(doc(t, resp).Text(), "has been used or has expired") {
						t.Errorf("%s: the refusal does not say why", p)
					}
					wantStatus(t, b.post(p, url.Values{"email": {"late@example.org"}, "password": {goodPassword}}), http.StatusNotFound)
				}
			}
			noAccount(t, a, "late@example.org")
			if u, _ := a.store.UserByEmail(ctx, "first@example.org"); u.Role != store.RoleLearner {
				t.Errorf("a used link made %s an %s", u.Email, u.Role)
			}
			if link, err := a.app.SetupLink(ctx, a.URL); link != "" || err != nil {
				t.Errorf("a setup link with an admin in place: %q, %v", link, err)
			}
			wantStatus(t, op.get("/setup/"+strings.Repeat("x", 500)), http.StatusNotFound)
		})
	}
}

// A signed-in account can claim the admin role with the link instead.
func TestSetupLinkClaimsTheSignedInAccount(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil)
	ctx := context.Background()
	ada := MustRegister(t, a, "ada@example.org")
	link, err := a.app.SetupLink(ctx, a.URL)
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimPrefix(link, a.URL)
	d := doc(t, ada.get(path))
	if d.Find(`[data-testid="setup-claim"]`).Length() != 1 || !strings.Contains(d.Text(), "ada@example.org") {
		t.Fatal("the setup page does not offer to make the signed-in account the admin")
	}
	wantStatus(t, ada.post(path, nil), http.StatusSeeOther)
	if u, _ := a.store.UserByEmail(ctx, "ada@example.org"); u.Role != store.RoleAdmin {
		t.Fatalf("ada is %s", u.Role)
	}
	bob := MustRegister(t, a, "bob@example.org")
	wantStatus(t, bob.post(path, nil), http.StatusNotFound)
	if u, _ := a.store.UserByEmail(ctx, "bob@example.org"); u.Role != store.RoleLearner {
		t.Errorf("bob is %s", u.Role)
	}
}
