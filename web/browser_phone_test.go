package web

import (
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// The pages people open on a phone fit its width in the dark scheme: no
// page scrolls sideways at 390 px, and each is kept as a screenshot.
func TestBrowserPagesOnAPhoneInTheDark(t *testing.T) {
	a := MustStartLabs(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, limiter.Lab)
	ctx := testenv.Browser(t, 2*time.Minute)
	do, _ := chromeSteps(t, ctx)
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}); err != nil {
		t.Fatal(err)
	}
	do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	fits := func(name string) {
		t.Helper()
		wide, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if err != nil {
			t.Fatal(err)
		}
		dark, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`matchMedia("(prefers-color-scheme: dark)").matches`))
		if !dark {
			t.Errorf("%s: the dark scheme is not in effect", name)
		}
		if wide > 390 {
			t.Errorf("%s is %d px wide on a 390 px phone: it scrolls sideways", name, wide)
		}
		testenv.Screenshot(t, ctx, "phone-dark-"+name)
	}
	for _, p := range []struct{ name, path, wait string }{
		{"register", "/register", `#email`},
		{"login", "/login", `#email`},
		{"forgot", "/forgot", `main`},
	} {
		do(chromedp.Navigate(a.URL+p.path), chromedp.WaitVisible(p.wait))
		fits(p.name)
	}
	do(
		chromedp.Navigate(a.URL+"/register"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, "phone@example.org"),
		chromedp.SendKeys(`#password`, "a passphrase long enough"),
		chromedp.Submit(`[data-testid="register-form"]`),
		chromedp.WaitReady(`[data-testid="nav-user"]`),
	)
	for _, p := range []struct{ name, path string }{
		{"account", "/account"},
		{"lab", "/labs/limiter"},
		{"build-exercise", "/labs/limiter/exercises/limiter-build"},
		{"lesson", "/lessons/cap"},
	} {
		do(chromedp.Navigate(a.URL+p.path), chromedp.WaitReady(`footer`))
		fits(p.name)
	}
	// A mock interview's session, with its diagram boards.
	do(chromedp.Navigate(a.URL+"/interviews/chat"), chromedp.Click(`[data-testid="start"]`),
		chromedp.WaitVisible(`[data-testid="diagram-svg-high-level"]`))
	fits("mock-interview")
}
