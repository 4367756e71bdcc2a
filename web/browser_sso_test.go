package web

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/internal/testenv"
)

// TestBrowserSSOJourney drives Chromium through single sign-on with a real
// provider on another site (localhost, while the workbook is on
// 127.0.0.1): a page that needs an account sends the person to the login
// page, "Sign in with School account" leads to the provider's login form,
// and after it the person lands signed in on the page they wanted.
func TestBrowserSSOJourney(t *testing.T) {
	s := MustStartSSO(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, ssoOptions{IssuerHost: "localhost"})
	s.users.put("journey", "journey@school.edu", true)
	ctx := testenv.Browser(t, 90*time.Second)
	do, text := chromeSteps(t, ctx)

	do(chromedp.Navigate(s.base+"/progress"), chromedp.WaitVisible(`[data-testid="sso-start"]`))
	if got := text(`[data-testid="sso-start"]`); got != "Sign in with School account" {
		t.Errorf("button %q", got)
	}
	testenv.Screenshot(t, ctx, "login-sso")

	do(chromedp.Click(`[data-testid="sso-start"]`), chromedp.WaitVisible(`#username`))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.HasPrefix(loc, s.issuer+"/login/username") {
		t.Fatalf("at the provider's login form? %q, %v", loc, err)
	}
	do(
		chromedp.SendKeys(`#username`, "journey"),
		chromedp.SendKeys(`#password`, ssoPassword),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitVisible(`[data-testid="nav-user"]`),
	)
	if got := text(`[data-testid="nav-user"]`); !strings.Contains(got, "journey@school.edu") {
		t.Errorf("nav after single sign-on shows %q", got)
	}
	loc, _ = chromedp.Run(ctx, chromedp.Location())
	if u, err := url.Parse(loc); err != nil || u.Path != "/progress" || !strings.HasPrefix(loc, s.base) {
		t.Errorf("landed on %q, want %s/progress", loc, s.base)
	}
	testenv.Screenshot(t, ctx, "signed-in-sso")
}
