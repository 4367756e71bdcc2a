package web

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/internal/testenv"
)

// TestBrowserPasswordReset drives Chromium through a forgotten password:
// the login page's link, the form, the email a real SMTP server received,
// the new password, and logging in with it.
func TestBrowserPasswordReset(t *testing.T) {
	a, srv, _ := mustStartMail(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()})
	MustRegister(t, a, "journey@example.org")
	linkIn(t, srv, "journey@example.org", "/verify/")
	ctx := testenv.Browser(t, 90*time.Second)
	do, text := chromeSteps(t, ctx)

	do(
		chromedp.Navigate(a.URL+"/login"),
		chromedp.WaitVisible(`[data-testid="login-form"]`),
		chromedp.Click(`[data-testid="forgot-link"]`),
		chromedp.WaitVisible(`[data-testid="forgot-form"]`),
		chromedp.SendKeys(`#email`, "journey@example.org"),
		chromedp.Submit(`[data-testid="forgot-form"]`),
		chromedp.WaitVisible(`[data-testid="forgot-sent"]`),
	)
	if got := text(`[data-testid="forgot-sent"]`); !strings.Contains(got, "If an account with journey@example.org exists") {
		t.Errorf("after asking: %q", got)
	}
	testenv.Screenshot(t, ctx, "forgot-sent")

	link, _ := linkIn(t, srv, "journey@example.org", "/reset/")
	do(
		chromedp.Navigate(a.URL+link),
		chromedp.WaitVisible(`[data-testid="reset-form"]`),
		chromedp.SendKeys(`#password`, "short"),
		chromedp.Submit(`[data-testid="reset-form"]`),
		chromedp.WaitVisible(`[data-testid="error-password"]`),
	)
	testenv.Screenshot(t, ctx, "reset-error")
	do(
		chromedp.SendKeys(`#password`, "a fresh passphrase for the journey"),
		chromedp.Submit(`[data-testid="reset-form"]`),
		chromedp.WaitVisible(`[data-testid="login-form"]`),
	)
	if got := text(`[data-testid="flash"]`); !strings.Contains(got, "Your password is changed") {
		t.Errorf("flash after the reset: %q", got)
	}
	do(
		chromedp.SendKeys(`#email`, "journey@example.org"),
		chromedp.SendKeys(`#password`, "a fresh passphrase for the journey"),
		chromedp.Submit(`[data-testid="login-form"]`),
		chromedp.WaitVisible(`[data-testid="nav-user"]`),
	)
	if got := text(`[data-testid="nav-user"]`); !strings.Contains(got, "journey@example.org") {
		t.Errorf("nav after login shows %q", got)
	}
}
