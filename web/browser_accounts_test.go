package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// TestBrowserInviteOnlyAccount drives Chromium on an invite-only server:
// the register page explains the policy, a class join link leads into
// registration and the class, and the account page lists this session,
// makes a token with a chosen expiry and scope, and changes the password.
func TestBrowserInviteOnlyAccount(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, withRegistration(config.RegistrationInvite))
	teacher, err := a.store.CreateUser(context.Background(), "teacher@example.org", "x", store.RoleInstructor)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := a.store.CreateClass(context.Background(), teacher.ID, "Evening cohort", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx := testenv.Browser(t, 90*time.Second)
	do, text := chromeSteps(t, ctx)

	do(chromedp.Navigate(a.URL+"/register"), chromedp.WaitVisible(`[data-testid="join-code-form"]`))
	if got := text(`[data-testid="registration-policy"]`); !strings.Contains(got, "by invitation") {
		t.Errorf("policy on the register page: %q", got)
	}
	do(
		chromedp.Navigate(a.URL+"/join/"+cl.JoinCode),
		chromedp.Click(`[data-testid="join-register"]`),
		chromedp.WaitVisible(`[data-testid="register-form"]`),
	)
	if got := text(`[data-testid="registration-policy"]`); !strings.Contains(got, "Evening cohort") {
		t.Errorf("policy with a join link: %q", got)
	}
	do(
		chromedp.SendKeys(`#email`, "night@example.org"),
		chromedp.SendKeys(`#password`, "an evening passphrase"),
		chromedp.Submit(`[data-testid="register-form"]`),
		chromedp.WaitVisible(`[data-testid="flash"]`),
	)
	if got := text(`[data-testid="flash"]`); !strings.Contains(got, "You joined Evening cohort") {
		t.Errorf("flash after registering with a join link: %q", got)
	}

	do(chromedp.Click(`[data-testid="nav-user"]`), chromedp.WaitVisible(`[data-testid="sessions"]`))
	if got := text(`tr[data-current]`); !strings.Contains(got, "Headless Chrome") || !strings.Contains(got, "this session") {
		t.Errorf("this session's row: %q", got)
	}
	do(
		chromedp.SendKeys(`#f-token-name`, "weekly export"),
		chromedp.SetValue(`#f-token-days`, "7"),
		chromedp.Click(`input[name="scope"][value="read-write"]`),
		chromedp.Click(`[data-testid="create-token"]`),
		chromedp.WaitVisible(`[data-testid="new-token"]`),
	)
	if got := text(`tr[data-token="weekly export"] [data-testid="token-scope"]`); got != "read-write" {
		t.Errorf("the new token's scope: %q", got)
	}
	testenv.Screenshot(t, ctx, "account-security")

	do(
		chromedp.SendKeys(`#f-current_password`, "not the password"),
		chromedp.SendKeys(`#f-new_password`, "a morning passphrase"),
		chromedp.Click(`[data-testid="change-password"]`),
		chromedp.WaitVisible(`[data-testid="error-current_password"]`),
		chromedp.SendKeys(`#f-current_password`, "an evening passphrase"),
		chromedp.SendKeys(`#f-new_password`, "a morning passphrase"),
		chromedp.Click(`[data-testid="change-password"]`),
		chromedp.WaitVisible(`[data-testid="flash"]`),
	)
	if got := text(`[data-testid="flash"]`); !strings.Contains(got, "password is changed") {
		t.Errorf("flash after the change: %q", got)
	}
}
