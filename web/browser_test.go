package web

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/internal/testenv"
)

// TestBrowserAccountJourney drives Chromium through register, log out, log
// in and log out again, checking what a person sees at each step.
func TestBrowserAccountJourney(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil)
	ctx := testenv.Browser(t, 90*time.Second)

	do, text := chromeSteps(t, ctx)

	do(chromedp.Navigate(a.URL+"/"), chromedp.WaitVisible(`a[href="/register"]`))
	testenv.Screenshot(t, ctx, "home-anonymous")
	do(chromedp.Click(`.nav-account a[href="/register"]`), chromedp.WaitVisible(`[data-testid="register-form"]`))

	// A short password is refused beside the field, and the email is kept.
	do(
		chromedp.SendKeys(`#email`, "journey@example.org"),
		chromedp.SendKeys(`#password`, "short"),
		chromedp.Submit(`[data-testid="register-form"]`),
		chromedp.WaitVisible(`[data-testid="error-password"]`),
	)
	if v, _ := chromedp.Run(ctx, chromedp.Value(`#email`)); v != "journey@example.org" {
		t.Errorf("email field after error = %q", v)
	}
	do(
		chromedp.Clear(`#password`),
		chromedp.SendKeys(`#password`, "a passphrase long enough"),
		chromedp.Submit(`[data-testid="register-form"]`),
		chromedp.WaitVisible(`[data-testid="nav-user"]`),
	)
	if got := text(`[data-testid="nav-user"]`); !strings.Contains(got, "journey@example.org") {
		t.Errorf("nav after registration shows %q", got)
	}
	testenv.Screenshot(t, ctx, "home-signed-in")

	// The account page: a token needs a name, is shown once, and revoked.
	do(
		chromedp.Click(`[data-testid="nav-user"]`),
		chromedp.WaitVisible(`[data-testid="token-form"]`),
		chromedp.Click(`[data-testid="create-token"]`),
		chromedp.WaitVisible(`[data-testid="error-name"]`),
		chromedp.SendKeys(`#f-token-name`, "nightly export"),
		chromedp.Click(`[data-testid="create-token"]`),
		chromedp.WaitVisible(`[data-testid="new-token"]`),
	)
	if tok, _ := chromedp.Run(ctx, chromedp.Value(`[data-testid="new-token"]`)); !strings.HasPrefix(tok, "wbk_") {
		t.Errorf("new token %q", tok)
	}
	testenv.Screenshot(t, ctx, "account-token")
	do(
		chromedp.Click(`tr[data-token="nightly export"] button`),
		chromedp.WaitVisible(`[data-testid="no-tokens"]`),
	)

	do(chromedp.Click(`[data-testid="logout"]`), chromedp.WaitVisible(`.nav-account a[href="/login"]`))
	if got := text(`[data-testid="flash"]`); !strings.Contains(got, "logged out") {
		t.Errorf("flash after logout %q", got)
	}

	do(
		chromedp.Navigate(a.URL+"/login"),
		chromedp.WaitVisible(`[data-testid="login-form"]`),
		chromedp.SendKeys(`#email`, "JOURNEY@example.org"),
		chromedp.SendKeys(`#password`, "a passphrase long enough"),
		chromedp.Submit(`[data-testid="login-form"]`),
		chromedp.WaitVisible(`[data-testid="nav-user"]`),
	)
	if got := text(`[data-testid="nav-user"]`); !strings.Contains(got, "journey@example.org") {
		t.Errorf("nav after login shows %q", got)
	}
	do(chromedp.Click(`[data-testid="logout"]`), chromedp.WaitVisible(`.nav-account a[href="/login"]`))
}
