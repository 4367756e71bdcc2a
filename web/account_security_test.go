package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

const (
	firefoxUA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	iphoneUA  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)

// loginFrom logs email in from a new browser that sends the User-Agent ua.
func loginFrom(t *testing.T, a *testApp, email, password, ua string) (*browser, int) {
	t.Helper()
	b := newBrowser(t, a)
	req, _ := http.NewRequest(http.MethodPost, a.URL+"/login", strings.NewReader(url.Values{"email": {email}, "password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("User-Agent", ua)
	return b, b.do(req).StatusCode
}

// signedIn reports whether b's session still opens the account page.
func signedIn(t *testing.T, b *browser) bool {
	t.Helper()
	switch code := b.get("/account").StatusCode; code {
	case http.StatusOK:
		return true
	case http.StatusSeeOther:
		return false
	default:
		t.Fatalf("/account: %d", code)
		return false
	}
}

// The password changes only with the current one; every other session
// ends; a wrong current password counts against the login limits, so the
// form is no way around them.
func TestPasswordChange(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, nil)
			ctx := context.Background()
			ada := MustRegister(t, a, "ada@example.org")
			laptop, code := loginFrom(t, a, "ada@example.org", goodPassword, firefoxUA)
			phone, code2 := loginFrom(t, a, "ada@example.org", goodPassword, iphoneUA)
			if code != http.StatusSeeOther || code2 != http.StatusSeeOther {
				t.Fatalf("logins: %d %d", code, code2)
			}
			const newPassword = "a brand new passphrase"
			for _, tc := range []struct {
				current, next, field, want string
			}{
				{"", newPassword, "error-current_password", "Enter your current password"},
				{goodPassword, "short", "error-new_password", "at least 12"},
				{goodPassword, goodPassword, "error-new_password", "different from the current one"},
				{"not my password", newPassword, "error-current_password", "not your current password"},
			} {
				resp := ada.post("/account/password", url.Values{"current_password": {tc.current}, "new_password": {tc.next}})
				wantStatus(t, resp, http.StatusUnprocessableEntity)
				if msg := testid(doc(t, resp), tc.field); !strings.Contains(msg, tc.want) {
					t.Errorf("current %q new %q: %s says %q", tc.current, tc.next, tc.field, msg)
				}
			}
			// Only the wrong password was checked, and it counts like a failed login.
			att := auth.DefaultLoginLimits.For("ada@example.org", "127.0.0.1")
			if n, _ := a.redis.Client.Get(ctx, att.Pair.Key).Int(); n != 1 {
				t.Errorf("login pair counter %d after one wrong current password; want 1", n)
			}

			resp := ada.post("/account/password", url.Values{"current_password": {goodPassword}, "new_password": {newPassword}})
			wantStatus(t, resp, http.StatusSeeOther)
			if n, _ := a.redis.Client.Get(ctx, att.Pair.Key).Int(); n != 0 {
				t.Errorf("login pair counter %d after the right password; want 0", n)
			}
			if msg := testid(doc(t, ada.get("/account")), "flash"); !strings.Contains(msg, "password is changed") {
				t.Errorf("the browser that changed the password reads %q", msg)
			}
			if signedIn(t, laptop) || signedIn(t, phone) {
				t.Error("another session survived the password change")
			}
			if _, code := loginFrom(t, a, "ada@example.org", goodPassword, firefoxUA); code != http.StatusUnauthorized {
				t.Errorf("the old password: %d, want 401", code)
			}
			if _, code := loginFrom(t, a, "ada@example.org", newPassword, firefoxUA); code != http.StatusSeeOther {
				t.Errorf("the new password: %d, want 303", code)
			}

			// Guessing through this form spends the same budget as logging in:
			// after the limit even the right password is refused.
			bob := MustRegister(t, a, "bob@example.org")
			for i := range auth.DefaultLoginLimits.PerPair {
				resp := bob.post("/account/password", url.Values{"current_password": {"guess number " + string(rune('a'+i))}, "new_password": {newPassword}})
				wantStatus(t, resp, http.StatusUnprocessableEntity)
			}
			resp = bob.post("/account/password", url.Values{"current_password": {goodPassword}, "new_password": {newPassword}})
			wantStatus(t, resp, http.StatusTooManyRequests)
			if msg := testid(doc(t, resp), "password-message"); !strings.Contains(msg, "Too many attempts") {
				t.Errorf("throttled message %q", msg)
			}
			if _, code := loginFrom(t, a, "bob@example.org", goodPassword, firefoxUA); code != http.StatusTooManyRequests {
				t.Errorf("login after guessing on the password form: %d, want 429", code)
			}
			u, _ := a.store.UserByEmail(ctx, "bob@example.org")
			if ok, _ := auth.VerifyPassword(u.PasswordHash, goodPassword); !ok {
				t.Error("bob's password changed")
			}
		})
	}
}

// The account page lists the account's sessions with their browser; one
// can be logged out, or all the others; another account's session is a
// 404; and a login beyond the cap ends the session unused for longest.
func TestSessionsOnTheAccountPage(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, nil)
			ctx := context.Background()
			MustRegister(t, a, "ada@example.org")
			bob := MustRegister(t, a, "bob@example.org")
			a.advance(time.Minute)
			laptop, _ := loginFrom(t, a, "ada@example.org", goodPassword, firefoxUA)
			a.advance(time.Minute)
			phone, _ := loginFrom(t, a, "ada@example.org", goodPassword, iphoneUA)
			a.advance(time.Minute)

			d := doc(t, laptop.get("/account"))
			rows := d.Find(`[data-testid="sessions"] tbody tr`)
			if rows.Length() != 3 {
				t.Fatalf("%d sessions listed, want 3", rows.Length())
			}
			cur := d.Find(`tr[data-current]`)
			if cur.Length() != 1 || !strings.Contains(cur.Text(), "Firefox on Linux") || !strings.Contains(cur.Text(), "this session") {
				t.Errorf("this session's row: %q", cur.Text())
			}
			if !strings.Contains(rows.Text(), "Safari on iOS") {
				t.Errorf("the phone's session is not named: %q", rows.Text())
			}
			phoneRow := d.Find(`[data-testid="sessions"] tbody tr`).FilterFunction(func(_ int, s *goquery.Selection) bool {
				return strings.Contains(s.Text(), "Safari on iOS")
			})
			handle, _ := phoneRow.Attr("data-session")
			if handle == "" || strings.Contains(d.Text(), auth.TokenID("")) {
				t.Fatal("no handle for the phone's session")
			}
			sess, _ := a.store.SessionsOf(ctx, mustUserID(t, a, "ada@example.org"))
			for _, s := range sess {
				if strings.Contains(readBody(t, laptop.get("/account")), s.ID) {
					t.Error("a session id is in the page")
				}
			}

			// Another account cannot end it; a made-up handle is the same 404.
			wantStatus(t, bob.post("/account/sessions/"+handle+"/logout", nil), http.StatusNotFound)
			wantStatus(t, laptop.post("/account/sessions/0123456789abcdef/logout", nil), http.StatusNotFound)
			if !signedIn(t, phone) {
				t.Fatal("bob logged out ada's phone")
			}
			wantStatus(t, laptop.post("/account/sessions/"+handle+"/logout", nil), http.StatusSeeOther)
			if signedIn(t, phone) || !signedIn(t, laptop) {
				t.Error("logging out the phone's session did not end exactly that session")
			}

			// Log out the others: the first browser goes, this one stays.
			resp := laptop.post("/account/sessions/others/logout", nil)
			wantStatus(t, resp, http.StatusSeeOther)
			if msg := testid(doc(t, laptop.get("/account")), "flash"); msg != "1 other session is logged out." {
				t.Errorf("after logging out the others this browser reads %q", msg)
			}
			if rows := doc(t, laptop.get("/account")).Find(`[data-testid="sessions"] tbody tr`); rows.Length() != 1 {
				t.Errorf("%d sessions after logging out the others", rows.Length())
			}
			// Its own row logs this browser out.
			handle, _ = doc(t, laptop.get("/account")).Find(`tr[data-current]`).Attr("data-session")
			wantStatus(t, laptop.post("/account/sessions/"+handle+"/logout", nil), http.StatusSeeOther)
			if signedIn(t, laptop) {
				t.Error("logging out this session's row left it signed in")
			}

			checkSessionCap(t, a, bob)
		})
	}
}

// Tokens get an expiry chosen at creation and a scope; an expired token is
// refused with the date, a read-only token may only read.
func TestTokenExpiryAndScopeOnTheAPI(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, func(c *config.Config) { c.SessionIdle, c.SessionMax = 400*24*time.Hour, 400*24*time.Hour })
			ctx := context.Background()
			ada := MustRegister(t, a, "ada@example.org")
			for _, tc := range []struct{ days, scope, field string }{
				{"8", "read-only", "error-expires_days"},
				{"never", "read-only", "error-expires_days"},
				{"30", "admin", "error-scope"},
			} {
				resp := ada.post("/account/tokens", url.Values{"name": {"bad"}, "expires_days": {tc.days}, "scope": {tc.scope}})
				wantStatus(t, resp, http.StatusUnprocessableEntity)
				d := doc(t, resp)
				if testid(d, tc.field) == "" {
					t.Errorf("days %q scope %q: no message for %s", tc.days, tc.scope, tc.field)
				}
				if v, _ := d.Find("#f-token-name").Attr("value"); v != "bad" {
					t.Errorf("the form lost the name: %q", v)
				}
			}
			ro := newTokenWith(t, ada, url.Values{"name": {"weekly export"}, "expires_days": {"7"}, "scope": {"read-only"}})
			rw := newTokenWith(t, ada, url.Values{"name": {"joiner"}, "expires_days": {"365"}, "scope": {"read-write"}})
			def := newTokenWith(t, ada, url.Values{"name": {"defaults"}})
			toks, _ := a.store.Tokens(ctx, mustUserID(t, a, "ada@example.org"))
			byName := map[string]store.APIToken{}
			for _, tk := range toks {
				byName[tk.Name] = tk
			}
			now := a.clock()
			for name, want := range map[string]struct {
				days  int
				scope store.TokenScope
			}{"weekly export": {7, store.ScopeReadOnly}, "joiner": {365, store.ScopeReadWrite}, "defaults": {90, store.ScopeReadOnly}} {
				tk := byName[name]
				if d := tk.ExpiresAt.Sub(now); tk.Scope != want.scope || d < time.Duration(want.days)*24*time.Hour-time.Minute || d > time.Duration(want.days)*24*time.Hour+time.Minute {
					t.Errorf("%s: %s, expires in %v; want %s, %d days", name, tk.Scope, d, want.scope, want.days)
				}
			}
			d := doc(t, ada.get("/account"))
			if row := d.Find(`tr[data-token="weekly export"]`); !strings.Contains(row.Find(`[data-testid="token-scope"]`).Text(), "read-only") ||
				strings.Contains(row.Find(`[data-testid="token-expiry"]`).Text(), "expired") {
				t.Errorf("the token's row: %q", row.Text())
			}

			roAPI, rwAPI, defAPI := script{t, a.URL, "Bearer " + ro}, script{t, a.URL, "Bearer " + rw}, script{t, a.URL, "Bearer " + def}
			wantStatus(t, roAPI.do(http.MethodGet, "/api/classes", ""), http.StatusOK)
			wantStatus(t, roAPI.do(http.MethodGet, "/api/labs", ""), http.StatusOK)
			for _, api := range []script{roAPI, defAPI} {
				resp := api.do(http.MethodPost, "/api/classes/join", `{"join_code": "NOPE1234"}`)
				wantStatus(t, resp, http.StatusForbidden)
				m := decodeJSON(t, resp)
				e, _ := m["error"].(map[string]any)
				if msg, _ := e["message"].(string); e["code"] != "forbidden" || !strings.Contains(msg, "read-only") {
					t.Errorf("a read-only token writing: %v", m)
				}
			}
			// The read-write token passes the scope and meets the usual checks.
			wantStatus(t, rwAPI.do(http.MethodPost, "/api/classes/join", `{"join_code": "NOPE1234"}`), http.StatusUnprocessableEntity)

			// A week later the 7-day token is refused with its date, and the
			// page shows it as expired; the others still work.
			a.advance(8 * 24 * time.Hour)
			resp := roAPI.do(http.MethodGet, "/api/classes", "")
			wantStatus(t, resp, http.StatusUnauthorized)
			m := decodeJSON(t, resp)
			e, _ := m["error"].(map[string]any)
			if msg, _ := e["message"].(string); !strings.Contains(msg, "expired on "+now.Add(7*24*time.Hour).UTC().Format("2 Jan 2006")) {
				t.Errorf("an expired token: %v", m)
			}
			wantStatus(t, rwAPI.do(http.MethodGet, "/api/classes", ""), http.StatusOK)
			row := doc(t, ada.get("/account")).Find(`tr[data-token="weekly export"]`)
			if !strings.Contains(row.Find(`[data-testid="token-expiry"]`).Text(), "expired") {
				t.Errorf("the expired token's row: %q", row.Text())
			}
		})
	}
}

func sessionsOf(t *testing.T, a *testApp, email string) []store.Session {
	t.Helper()
	rows, err := a.store.SessionsOf(context.Background(), mustUserID(t, a, email))
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// checkSessionCap: a login beyond maxSessions ends the one unused for
// longest, here bob's registration session.
func checkSessionCap(t *testing.T, a *testApp, bob *browser) {
	t.Helper()
	var first *browser
	for i := range maxSessions + 1 {
		a.advance(time.Second)
		b, code := loginFrom(t, a, "bob@example.org", goodPassword, firefoxUA)
		if code != http.StatusSeeOther {
			t.Fatalf("login %d: %d", i+1, code)
		}
		if i == 0 {
			first = b
		}
	}
	if n := len(sessionsOf(t, a, "bob@example.org")); n != maxSessions {
		t.Errorf("bob has %d sessions, want the cap of %d", n, maxSessions)
	}
	if signedIn(t, first) {
		t.Error("the session unused for longest survived the cap")
	}
	if signedIn(t, bob) {
		t.Error("bob's registration session, unused for longest, survived the cap")
	}
}
