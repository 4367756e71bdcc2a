package web

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/mail/smtptest"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// mailBase is the public address the test app is configured with: links
// in emails use it, whatever Host a request names.
const mailBase = "http://workbook.test"

// syncBuffer is a log sink several goroutines write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// mustStartMail runs the app with a real SMTP server to send through (it
// wants a password) and returns the server and the app's log.
func mustStartMail(t *testing.T, be testenv.Backend) (*testApp, *smtptest.Server, *syncBuffer) {
	t.Helper()
	srv := smtptest.Start(t, smtptest.Options{Username: "workbook", Password: "mail pass"})
	logs := &syncBuffer{}
	a := MustStartDeps(t, be, func(c *config.Config) {
		c.BaseURL = mailBase
		c.MailFrom = "Workbook <workbook@example.org>"
		c.SMTP = config.SMTP{Host: srv.Host, Port: srv.Port, Username: "workbook", Password: "mail pass", Security: config.SMTPNone}
	}, func(d *Deps) { d.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	return a, srv, logs
}

// settle waits until the app's mail queue has done everything asked of it.
func settle(t *testing.T, a *testApp) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.app.mail.Wait(ctx); err != nil {
		t.Fatal("the mail queue did not finish:", err)
	}
}

// linkIn reads the one message the server got next, checks it is for to
// with a link under path on the configured address, and returns the
// link's path and the parsed message.
func linkIn(t *testing.T, srv *smtptest.Server, to, path string) (string, smtptest.Parsed) {
	t.Helper()
	r := srv.Next(t)
	p := r.Parse(t)
	if len(r.To) != 1 || r.To[0] != to || r.Auth != "workbook" || r.From != "workbook@example.org" {
		t.Fatalf("envelope to %v from %q auth %q, want %s", r.To, r.From, r.Auth, to)
	}
	links := p.Links()
	if len(links) != 1 || !strings.HasPrefix(links[0], mailBase+path) {
		t.Fatalf("links %v, want one under %s%s\n%s", links, mailBase, path, p.Body)
	}
	return strings.TrimPrefix(links[0], mailBase), p
}

func forgot(b *browser, email string) *http.Response {
	b.tb.Helper()
	return b.post("/forgot", url.Values{"email": {email}})
}

// loginAs logs in with a password and returns the status.
func loginAs(t *testing.T, a *testApp, email, password string) int {
	t.Helper()
	return newBrowser(t, a).post("/login", url.Values{"email": {email}, "password": {password}}).StatusCode
}

// A forgotten password, end to end through a real SMTP server: the same
// answer for an address with or without an account (and no email for
// the latter), a link on the configured address even with a forged Host,
// a new password that ends every session, a link that works once and
// only for 30 minutes, and no token in the log.
func TestPasswordResetByEmail(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a, srv, logs := mustStartMail(t, be)
			ada := MustRegister(t, a, "ada@example.com")
			linkIn(t, srv, "ada@example.com", "/verify/") // the welcome confirmation
			anon := newBrowser(t, a)
			link := askForReset(t, a, srv, anon)
			const newPassword = "a brand new passphrase"
			setNewPassword(t, a, anon, ada, link, newPassword)

			// The link works once.
			resp := anon.get(link)
			wantStatus(t, resp, http.StatusNotFound)
			if testid(doc(t, resp), "bad-link") == "" {
				t.Error("a used link does not say so")
			}
			wantStatus(t, anon.post(link, url.Values{"password": {"yet another passphrase"}}), http.StatusNotFound)

			// A link older than 30 minutes does not work.
			wantStatus(t, forgot(anon, "ada@example.com"), http.StatusOK)
			late, _ := linkIn(t, srv, "ada@example.com", "/reset/")
			a.advance(31 * time.Minute)
			wantStatus(t, anon.get(late), http.StatusNotFound)
			wantStatus(t, anon.post(late, url.Values{"password": {"yet another passphrase"}}), http.StatusNotFound)
			if got := loginAs(t, a, "ada@example.com", newPassword); got != http.StatusSeeOther {
				t.Errorf("the password changed through a used or expired link: %d", got)
			}
			wantStatus(t, anon.get("/reset/not-a-token"), http.StatusNotFound)

			// The log has each email with its request, and no token.
			settle(t, a)
			out := logs.String()
			for _, l := range []string{link, late} {
				if strings.Contains(out, strings.TrimPrefix(l, "/reset/")) {
					t.Error("a reset token is in the log")
				}
			}
			if !strings.Contains(out, `path=/reset/…`) || strings.Count(out, `msg="email sent" kind="password reset" request_id=`) != 2 ||
				!strings.Contains(out, "password reset asked for an address without an account") || strings.Contains(out, "mail pass") {
				t.Errorf("log:\n%s", out)
			}
		})
	}
}

// askForReset goes from the login page to the form, asks for an address
// without an account and then for ada's (with a forged Host header), checks
// that both answers read the same and that only ada got an email, and
// returns the path of her link.
func askForReset(t *testing.T, a *testApp, srv *smtptest.Server, anon *browser) string {
	t.Helper()
	d := doc(t, newBrowser(t, a).get("/login"))
	if href, _ := d.Find(`[data-testid="forgot-link"]`).Attr("href"); href != "/forgot" {
		t.Fatalf("login page links %q", href)
	}
	if doc(t, anon.get("/forgot")).Find(`[data-testid="forgot-form"] input[name="email"]`).Length() != 1 {
		t.Fatal("no form on /forgot")
	}
	resp := forgot(anon, "not an address")
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if testid(doc(t, resp), "error-email") == "" {
		t.Error("no message for a bad address")
	}

	resp = forgot(anon, "nobody@example.com")
	wantStatus(t, resp, http.StatusOK)
	unknown := testid(doc(t, resp), "forgot-sent")
	settle(t, a)
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d messages after a reset for an unknown address, want only the welcome one", n)
	}

	req, _ := http.NewRequest(http.MethodPost, a.URL+"/forgot", strings.NewReader(url.Values{"email": {" Ada@Example.com "}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Host = "evil.example"
	resp = anon.do(req)
	wantStatus(t, resp, http.StatusOK)
	known := testid(doc(t, resp), "forgot-sent")
	if known == "" || strings.ReplaceAll(known, "ada@example.com", "X") != strings.ReplaceAll(unknown, "nobody@example.com", "X") {
		t.Errorf("the answers differ:\n%q\n%q", known, unknown)
	}
	link, msg := linkIn(t, srv, "ada@example.com", "/reset/")
	if !strings.Contains(msg.Subject, "new password") || !strings.Contains(msg.Body, "30 minutes") ||
		msg.Header.Get("From") != `"Workbook" <workbook@example.org>` || msg.Header.Get("To") != "<ada@example.com>" {
		t.Errorf("message: %q %v\n%s", msg.Subject, msg.Header, msg.Body)
	}
	if strings.Contains(msg.Body, "evil.example") {
		t.Error("the forged Host reached the email")
	}
	return link
}

// setNewPassword follows the link, is refused a short password and a
// cross-site post, sets the new password, and checks that ada's session
// ended and only the new password logs in.
func setNewPassword(t *testing.T, a *testApp, anon, ada *browser, link, password string) {
	t.Helper()
	resp := anon.get(link)
	wantStatus(t, resp, http.StatusOK)
	if resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("Referrer-Policy %q", resp.Header.Get("Referrer-Policy"))
	}
	if got := testid(doc(t, resp), "reset-email"); got != "ada@example.com" {
		t.Errorf("reset page for %q", got)
	}
	resp = anon.post(link, url.Values{"password": {"short"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if testid(doc(t, resp), "error-password") == "" {
		t.Error("no message for a short password")
	}
	req, _ := http.NewRequest(http.MethodPost, a.URL+link, strings.NewReader("password=chosen+by+another+site"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	wantStatus(t, anon.do(req), http.StatusForbidden)

	resp = anon.post(link, url.Values{"password": {password}})
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/login" {
		t.Errorf("after the reset: to %q", loc)
	}
	if resp := ada.get("/account"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("ada's old session: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if got := loginAs(t, a, "ada@example.com", goodPassword); got != http.StatusUnauthorized {
		t.Errorf("old password: %d", got)
	}
	if got := loginAs(t, a, "ada@example.com", password); got != http.StatusSeeOther {
		t.Fatalf("new password: %d", got)
	}
}

// Reset requests are counted before anything is looked up, per address
// and per network address, in one atomic step: a burst gets exactly the
// budget through, and an address with an account is throttled exactly
// like one without.
func TestPasswordResetThrottle(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a, srv, _ := mustStartMail(t, be)
			MustRegister(t, a, "bob@example.com")
			settle(t, a)
			welcome := len(srv.Messages())

			// 20 at once for one address: 3 pass, and 3 emails go out.
			var wg sync.WaitGroup
			codes := make([]int, 20)
			for i := range codes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					b := newBrowser(t, a)
					req, _ := http.NewRequest(http.MethodPost, a.URL+"/forgot", strings.NewReader("email=bob%40example.com"))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("Sec-Fetch-Site", "same-origin")
					resp, err := b.c.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					codes[i] = resp.StatusCode
				}()
			}
			wg.Wait()
			count := map[int]int{}
			for _, c := range codes {
				count[c]++
			}
			if count[http.StatusOK] != 3 || count[http.StatusTooManyRequests] != 17 {
				t.Errorf("burst: %v", count)
			}
			settle(t, a)
			if n := len(srv.Messages()) - welcome; n != 3 {
				t.Errorf("%d reset emails from the burst, want 3", n)
			}

			// An address without an account is throttled alike.
			anon := newBrowser(t, a)
			for i := 0; i < 3; i++ {
				wantStatus(t, forgot(anon, "ghost@example.com"), http.StatusOK)
			}
			resp := forgot(anon, "ghost@example.com")
			wantStatus(t, resp, http.StatusTooManyRequests)
			if resp.Header.Get("Retry-After") == "" || testid(doc(t, resp), "form-message") == "" {
				t.Error("the throttled answer has no wait")
			}

			// 30 an hour from one network address, whatever the addresses.
			for i := 0; i < 24; i++ {
				wantStatus(t, forgot(anon, "person"+string(rune('a'+i))+"@example.com"), http.StatusOK)
			}
			wantStatus(t, forgot(anon, "one-more@example.com"), http.StatusTooManyRequests)
			settle(t, a)
			if n := len(srv.Messages()) - welcome; n != 3 {
				t.Errorf("%d reset emails, want 3", n)
			}
		})
	}
}

// A new account gets a link to confirm its address; the account page
// shows the state and sends the link again a few times an hour; the link
// confirms once, and not after 2 days.
func TestEmailVerification(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a, srv, _ := mustStartMail(t, be)
			ctx := context.Background()
			ada := MustRegister(t, a, "ada@example.com")
			if flash := testid(doc(t, ada.get("/")), "flash"); !strings.Contains(flash, "sent a link to ada@example.com") {
				t.Errorf("welcome: %q", flash)
			}
			link, msg := linkIn(t, srv, "ada@example.com", "/verify/")
			if !strings.Contains(msg.Subject, "Confirm") || !strings.Contains(msg.Body, "2 days") {
				t.Errorf("message %q\n%s", msg.Subject, msg.Body)
			}
			d := doc(t, ada.get("/account"))
			if testid(d, "email-unverified") == "" || d.Find(`[data-testid="send-verification"]`).Length() != 1 {
				t.Fatal("the account page does not show an unconfirmed address")
			}

			// Opening the link only asks; the button confirms.
			resp := ada.get(link)
			wantStatus(t, resp, http.StatusOK)
			if got := testid(doc(t, resp), "verify-email"); got != "ada@example.com" {
				t.Errorf("verify page for %q", got)
			}
			if u, _ := a.store.UserByEmail(ctx, "ada@example.com"); u.EmailVerified() {
				t.Fatal("opening the link confirmed the address")
			}
			resp = ada.post(link, nil)
			wantStatus(t, resp, http.StatusSeeOther)
			if loc := resp.Header.Get("Location"); loc != "/account" {
				t.Errorf("after confirming: to %q", loc)
			}
			d = doc(t, ada.get("/account"))
			if testid(d, "email-verified") == "" || d.Find(`[data-testid="send-verification"]`).Length() != 0 {
				t.Error("the account page does not show the address confirmed")
			}
			if u, _ := a.store.UserByEmail(ctx, "ada@example.com"); !u.EmailVerified() {
				t.Error("the address is not confirmed")
			}
			wantStatus(t, ada.post(link, nil), http.StatusNotFound)
			wantStatus(t, ada.get(link), http.StatusNotFound)

			// Sending again: three an hour, then a wait on the account page.
			bob := MustRegister(t, a, "bob@example.com")
			first, _ := linkIn(t, srv, "bob@example.com", "/verify/")
			for i := 0; i < 3; i++ {
				resp := bob.post("/account/verify", nil)
				wantStatus(t, resp, http.StatusSeeOther)
				linkIn(t, srv, "bob@example.com", "/verify/")
			}
			resp = bob.post("/account/verify", nil)
			wantStatus(t, resp, http.StatusTooManyRequests)
			if msg := testid(doc(t, resp), "email-message"); !strings.Contains(msg, "wait") {
				t.Errorf("throttled resend says %q", msg)
			}
			settle(t, a)
			if n := len(srv.Messages()); n != 5 { // two welcomes, three sent again
				t.Errorf("%d messages, want 5", n)
			}

			// A link older than 2 days does not confirm.
			a.advance(49 * time.Hour)
			wantStatus(t, newBrowser(t, a).post(first, nil), http.StatusNotFound)
			if u, _ := a.store.UserByEmail(ctx, "bob@example.com"); u.EmailVerified() {
				t.Error("an expired link confirmed the address")
			}
		})
	}
}

// A mail server that does not answer neither holds up registration nor
// loses the email silently: the failure is in the log with the request id
// of the registration.
func TestMailServerDown(t *testing.T) {
	be := testenv.Backend{Name: "embedded", DataDir: t.TempDir()}
	logs := &syncBuffer{}
	a := MustStartDeps(t, be, func(c *config.Config) {
		c.BaseURL = mailBase
		c.MailFrom = "workbook@example.org"
		c.SMTP = config.SMTP{Host: "127.0.0.1", Port: closedPort(t), Security: config.SMTPNone}
	}, func(d *Deps) { d.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	a.app.mail.Backoff = []time.Duration{time.Millisecond}
	b := newBrowser(t, a)
	req, _ := http.NewRequest(http.MethodPost, a.URL+"/register", strings.NewReader(url.Values{"email": {"ada@example.com"}, "password": {goodPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("X-Request-ID", "register-ada")
	wantStatus(t, b.do(req), http.StatusSeeOther)
	settle(t, a)
	if out := logs.String(); !strings.Contains(out, `level=ERROR msg="email not sent" kind="address confirmation" request_id=register-ada user_id=`) ||
		!strings.Contains(out, "attempts=2") {
		t.Errorf("log:\n%s", out)
	}
}

// Without a mail server the pages say an administrator resets passwords,
// and accounts stay unconfirmed.
func TestForgotPasswordWithoutMail(t *testing.T) {
	be := testenv.Backend{Name: "embedded", DataDir: t.TempDir()}
	a := MustStart(t, be, nil)
	ada := MustRegister(t, a, "ada@example.com")
	if flash := testid(doc(t, ada.get("/")), "flash"); flash != "Welcome! Your account is ready." {
		t.Errorf("welcome: %q", flash)
	}
	for _, resp := range []*http.Response{newBrowser(t, a).get("/forgot"), forgot(newBrowser(t, a), "ada@example.com")} {
		wantStatus(t, resp, http.StatusOK)
		d := doc(t, resp)
		if !strings.Contains(testid(d, "forgot-admin"), "server admin reset-password") || d.Find(`[data-testid="forgot"] input`).Length() != 0 {
			t.Errorf("without mail /forgot shows: %q", testid(d, "forgot"))
		}
		if d.Find(`[data-testid="forgot-form"]`).Length() != 0 {
			t.Error("a form without a mail server")
		}
	}
	d := doc(t, ada.get("/account"))
	if testid(d, "email-unverified") == "" || testid(d, "email-no-mail") == "" || d.Find(`[data-testid="send-verification"]`).Length() != 0 {
		t.Error("the account page offers to confirm without a mail server")
	}
	resp := ada.post("/account/verify", nil)
	wantStatus(t, resp, http.StatusSeeOther)
	if testid(doc(t, ada.get("/account")), "flash") == "" {
		t.Error("no answer to sending without a mail server")
	}
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// emailRouteCases are the authorization table's rows for the email routes:
// the pages of live links (bob's) are public, the links stay live through
// every refused request, and bob stays unconfirmed.
func emailRouteCases(t *testing.T, a *testApp, bob int64) []routeCase {
	t.Helper()
	ctx := context.Background()
	resetTok, verifyTok := auth.NewToken(), auth.NewToken()
	for tok, purpose := range map[string]string{resetTok: store.TokenReset, verifyTok: store.TokenVerify} {
		if _, err := a.store.CreateEmailToken(ctx, bob, purpose, auth.TokenID(tok), time.Hour, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { // before the app stops
		for tok, purpose := range map[string]string{resetTok: store.TokenReset, verifyTok: store.TokenVerify} {
			if _, _, err := a.store.LiveEmailToken(ctx, auth.TokenID(tok), purpose, time.Now()); err != nil {
				t.Errorf("bob's %s link: %v", purpose, err)
			}
		}
		if u, _ := a.store.UserByID(ctx, bob); u.EmailVerified() {
			t.Error("bob is confirmed")
		}
	})
	return []routeCase{
		{method: "GET", pattern: "/forgot", policy: public, path: "/forgot"},
		{method: "POST", pattern: "/forgot", policy: public, path: "/forgot", form: url.Values{"email": {"bob@example.com"}}},
		{method: "GET", pattern: "/reset/:token", policy: public, path: "/reset/" + resetTok, unknown: "/reset/" + auth.NewToken()},
		{method: "POST", pattern: "/reset/:token", policy: public, path: "/reset/" + resetTok, destructive: true,
			unknown: "/reset/" + auth.NewToken()},
		{method: "GET", pattern: "/verify/:token", policy: public, path: "/verify/" + verifyTok, unknown: "/verify/" + auth.NewToken()},
		{method: "POST", pattern: "/verify/:token", policy: public, path: "/verify/" + verifyTok, destructive: true,
			unknown: "/verify/" + auth.NewToken()},
		{method: "POST", pattern: "/account/verify", policy: user, path: "/account/verify"},
	}
}
