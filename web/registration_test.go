package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

func withRegistration(mode string, domains ...string) func(*config.Config) {
	return func(c *config.Config) { c.Registration = config.Registration{Mode: mode, Domains: domains} }
}

func register(b *browser, email string, extra url.Values) *http.Response {
	b.tb.Helper()
	form := url.Values{"email": {email}, "password": {goodPassword}}
	for k, v := range extra {
		form[k] = v
	}
	return b.post("/register", form)
}

// noAccount fails when an account with email exists.
func noAccount(t *testing.T, a *testApp, email string) {
	t.Helper()
	if _, err := a.store.UserByEmail(context.Background(), email); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("an account for %s exists (%v)", email, err)
	}
}

// newClass has an instructor open a class and returns it.
func newClass(t *testing.T, a *testApp, teacher *browser, name string) store.Class {
	t.Helper()
	resp := teacher.post("/classes", url.Values{"name": {name}})
	wantStatus(t, resp, http.StatusSeeOther)
	id, _ := strconv.ParseInt(strings.TrimPrefix(resp.Header.Get("Location"), "/classes/"), 10, 64)
	cl, err := a.store.ClassByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// invite has an admin invite email with role and returns the link.
func invite(t *testing.T, admin *browser, email, role string) string {
	t.Helper()
	resp := admin.post("/admin/invitations", url.Values{"email": {email}, "role": {role}})
	wantStatus(t, resp, http.StatusCreated)
	link, _ := doc(t, resp).Find(`[data-testid="new-invite"]`).Attr("value")
	if !strings.Contains(link, "/register?invite=") {
		t.Fatalf("invitation link %q", link)
	}
	return link
}

// pathOf is the path and query of a link on the test server.
func pathOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

// Open registration: the page says anyone may register; a join link
// flows into registration and the new account is in the class.
func TestRegistrationOpenWithJoinLink(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, nil)
			teacher := MustAccount(t, a, "teacher@example.org", store.RoleInstructor)
			cl := newClass(t, a, teacher, "Spring cohort")
			anon := newBrowser(t, a)
			d := doc(t, anon.get("/register"))
			if p := testid(d, "registration-policy"); !strings.Contains(p, "Anyone may create an account") {
				t.Errorf("policy sentence %q", p)
			}
			d = doc(t, anon.get("/join/"+cl.JoinCode))
			if href, _ := d.Find(`[data-testid="join-register"]`).Attr("href"); href != "/register?join="+cl.JoinCode {
				t.Fatalf("the join page's register link is %q", href)
			}
			d = doc(t, anon.get("/register?join="+strings.ToLower(cl.JoinCode)))
			if p := testid(d, "registration-policy"); !strings.Contains(p, "Spring cohort") {
				t.Errorf("policy sentence with a join link %q", p)
			}
			if v, _ := d.Find(`input[name="join"]`).Attr("value"); v != cl.JoinCode {
				t.Errorf("the form carries join code %q", v)
			}
			resp := register(anon, "lin@example.org", url.Values{"join": {cl.JoinCode}})
			wantStatus(t, resp, http.StatusSeeOther)
			if loc := resp.Header.Get("Location"); loc != "/classes/"+strconv.FormatInt(cl.ID, 10) {
				t.Errorf("after registering with a join link: Location %q", loc)
			}
			// Signed in, the register link of a join page goes to the join page.
			if loc := anon.get("/register?join=" + cl.JoinCode).Header.Get("Location"); loc != "/join/"+cl.JoinCode {
				t.Errorf("signed in, /register?join= goes to %q", loc)
			}
			u, _ := a.store.UserByEmail(context.Background(), "lin@example.org")
			if joined, _ := a.store.ClassesJoined(context.Background(), u.ID); len(joined) != 1 || joined[0].ID != cl.ID || u.Role != store.RoleLearner {
				t.Errorf("lin is a %s in %+v", u.Role, joined)
			}
			// A join code that opens nothing is said so, and nothing is made.
			resp = register(newBrowser(t, a), "sam@example.org", url.Values{"join": {"NOPE1234"}})
			wantStatus(t, resp, http.StatusUnprocessableEntity)
			if msg := testid(doc(t, resp), "form-message"); !strings.Contains(msg, "does not open any class") {
				t.Errorf("bad join code message %q", msg)
			}
			noAccount(t, a, "sam@example.org")
		})
	}
}

// Invite-only registration: nobody registers without a class join link or
// an admin's invitation; an invitation works once, for its address, with
// its role.
func TestRegistrationByInvitation(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, withRegistration(config.RegistrationInvite))
			ctx := context.Background()
			anon := newBrowser(t, a)
			d := doc(t, anon.get("/register"))
			if p := testid(d, "registration-policy"); !strings.Contains(p, "by invitation") {
				t.Errorf("policy sentence %q", p)
			}
			if d.Find(`[data-testid="register-form"]`).Length() != 0 || d.Find(`[data-testid="join-code-form"]`).Length() != 1 {
				t.Error("the page offers the registration form, or no join code field, without an invitation")
			}
			resp := register(anon, "walkin@example.org", nil)
			wantStatus(t, resp, http.StatusForbidden)
			if p := testid(doc(t, resp), "registration-policy"); !strings.Contains(p, "by invitation") {
				t.Errorf("refusal says %q", p)
			}
			noAccount(t, a, "walkin@example.org")

			// A class join link opens registration, and joins the class.
			teacher := MustAccount(t, a, "teacher@example.org", store.RoleInstructor)
			cl := newClass(t, a, teacher, "Invite-only cohort")
			d = doc(t, anon.get("/register?join="+cl.JoinCode))
			if d.Find(`[data-testid="register-form"]`).Length() != 1 {
				t.Fatal("a join link does not open the registration form")
			}
			resp = register(anon, "lin@example.org", url.Values{"join": {cl.JoinCode}})
			wantStatus(t, resp, http.StatusSeeOther)
			lin, _ := a.store.UserByEmail(ctx, "lin@example.org")
			if joined, _ := a.store.ClassesJoined(ctx, lin.ID); len(joined) != 1 {
				t.Errorf("lin joined %+v", joined)
			}
			resp = register(newBrowser(t, a), "sam@example.org", url.Values{"join": {"NOPE1234"}})
			wantStatus(t, resp, http.StatusForbidden)
			if msg := testid(doc(t, resp), "form-message"); !strings.Contains(msg, "does not open any class") {
				t.Errorf("bad join code message %q", msg)
			}
			noAccount(t, a, "sam@example.org")

			admin := MustAccount(t, a, "admin@example.org", store.RoleAdmin)
			checkInvitationForm(t, admin, teacher)
			checkInvitationUsedOnce(t, a, admin)
			checkInvitationRevoked(t, a, admin)
		})
	}
}

// Registration by domain: the page names the domains before anything is
// typed, and another address is refused beside the field, naming them.
func TestRegistrationByDomain(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, withRegistration(config.RegistrationDomains, "example.edu", "school.org"))
			b := newBrowser(t, a)
			if p := testid(doc(t, b.get("/register")), "registration-policy"); !strings.Contains(p, "example.edu or school.org") {
				t.Errorf("policy sentence %q", p)
			}
			for _, email := range []string{"ada@gmail.com", "ada@sub.example.edu", "ada@example.edu.evil.com"} {
				resp := register(b, email, nil)
				wantStatus(t, resp, http.StatusUnprocessableEntity)
				d := doc(t, resp)
				if msg := testid(d, "error-email"); !strings.Contains(msg, "example.edu or school.org") {
					t.Errorf("%s: message %q", email, msg)
				}
				if v, _ := d.Find("#email").Attr("value"); v != email {
					t.Errorf("%s: the form kept %q", email, v)
				}
				noAccount(t, a, email)
			}
			wantStatus(t, register(b, "Ada@School.org", nil), http.StatusSeeOther)
		})
	}
}

// Closed registration: the page says an administrator makes accounts and
// offers no form; only an admin's invitation lets someone register.
func TestRegistrationClosed(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, withRegistration(config.RegistrationClosed))
			b := newBrowser(t, a)
			d := doc(t, b.get("/register"))
			if p := testid(d, "registration-policy"); !strings.Contains(p, "made by an administrator") {
				t.Errorf("policy sentence %q", p)
			}
			if d.Find(`[data-testid="register-form"]`).Length() != 0 || d.Find(`[data-testid="join-code-form"]`).Length() != 0 {
				t.Error("a closed server offers a registration form")
			}
			wantStatus(t, register(b, "walkin@example.org", nil), http.StatusForbidden)
			noAccount(t, a, "walkin@example.org")

			admin := MustAccount(t, a, "admin@example.org", store.RoleAdmin)
			link := invite(t, admin, "new@example.org", "learner")
			token := strings.TrimPrefix(pathOf(t, link), "/register?invite=")
			wantStatus(t, register(newBrowser(t, a), "new@example.org", url.Values{"invite": {token}}), http.StatusSeeOther)
		})
	}
}

// checkInvitationForm: an admin's invitation with bad input is named
// beside its field, and an instructor may not invite.
func checkInvitationForm(t *testing.T, admin, teacher *browser) {
	t.Helper()
	for _, tc := range []struct{ email, role, field, want string }{
		{"not an address", "learner", "error-invite-email", "like name@example.org"},
		{"lin@example.org", "learner", "error-invite-email", "already has an account"},
		{"ivy@example.org", "emperor", "error-invite-role", "learner, instructor or admin"},
	} {
		resp := admin.post("/admin/invitations", url.Values{"email": {tc.email}, "role": {tc.role}})
		wantStatus(t, resp, http.StatusUnprocessableEntity)
		d := doc(t, resp)
		if msg := testid(d, tc.field); !strings.Contains(msg, tc.want) {
			t.Errorf("invite %q as %q: %s says %q", tc.email, tc.role, tc.field, msg)
		}
		if v, _ := d.Find("#f-invite-email").Attr("value"); v != tc.email {
			t.Errorf("the form lost the email: %q", v)
		}
	}
	wantStatus(t, teacher.post("/admin/invitations", url.Values{"email": {"x@example.org"}, "role": {"admin"}}), http.StatusForbidden)
}

// checkInvitationUsedOnce: an invitation opens registration for its
// address only, with its role, once.
func checkInvitationUsedOnce(t *testing.T, a *testApp, admin *browser) {
	t.Helper()
	ctx := context.Background()
	link := invite(t, admin, "Ivy@Example.org", "instructor")
	if d := doc(t, admin.get("/admin/users")); d.Find(`tr[data-invitation="ivy@example.org"]`).Length() != 1 || strings.Contains(d.Text(), link) {
		t.Error("the invitation is not listed, or its link is shown again")
	}
	invitee := newBrowser(t, a)
	d := doc(t, invitee.get(pathOf(t, link)))
	if v, _ := d.Find("#email").Attr("value"); v != "ivy@example.org" || d.Find("#email[readonly]").Length() != 1 {
		t.Errorf("the invitation's email field: %q", v)
	}
	if p := testid(d, "registration-policy"); !strings.Contains(p, "invited") || !strings.Contains(p, "an instructor") {
		t.Errorf("policy sentence for an invitation %q", p)
	}
	token := strings.TrimPrefix(pathOf(t, link), "/register?invite=")
	resp := register(invitee, "eve@example.org", url.Values{"invite": {token}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if msg := testid(doc(t, resp), "error-email"); !strings.Contains(msg, "ivy@example.org") {
		t.Errorf("another address with the invitation: %q", msg)
	}
	noAccount(t, a, "eve@example.org")
	wantStatus(t, register(invitee, "ivy@example.org", url.Values{"invite": {token}}), http.StatusSeeOther)
	if ivy, err := a.store.UserByEmail(ctx, "ivy@example.org"); err != nil || ivy.Role != store.RoleInstructor {
		t.Fatalf("invited account %+v, %v", ivy, err)
	}
	// Used once: the link now says so, and lets nobody in.
	again := newBrowser(t, a)
	d = doc(t, again.get(pathOf(t, link)))
	if msg := testid(d, "form-message"); !strings.Contains(msg, "has been used or has expired") {
		t.Errorf("a used invitation says %q", msg)
	}
	resp = register(again, "ivy2@example.org", url.Values{"invite": {token}})
	wantStatus(t, resp, http.StatusForbidden)
	noAccount(t, a, "ivy2@example.org")
	if doc(t, admin.get("/admin/users")).Find(`tr[data-invitation="ivy@example.org"]`).Length() != 0 {
		t.Error("a used invitation is still listed as waiting")
	}

}

// checkInvitationRevoked: a revoked invitation works no more.
func checkInvitationRevoked(t *testing.T, a *testApp, admin *browser) {
	t.Helper()
	ctx := context.Background()
	link := invite(t, admin, "rex@example.org", "learner")
	inv, err := a.store.InvitationByToken(ctx, authTokenID(strings.TrimPrefix(pathOf(t, link), "/register?invite=")), a.clock())
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, admin.post("/admin/invitations/"+strconv.FormatInt(inv.ID, 10)+"/revoke", nil), http.StatusSeeOther)
	wantStatus(t, admin.post("/admin/invitations/"+strconv.FormatInt(inv.ID, 10)+"/revoke", nil), http.StatusNotFound)
	resp := register(newBrowser(t, a), "rex@example.org", url.Values{"invite": {strings.TrimPrefix(pathOf(t, link), "/register?invite=")}})
	wantStatus(t, resp, http.StatusForbidden)
	noAccount(t, a, "rex@example.org")
}
