package web

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/internal/testenv"
)

// useSession makes the browser ctx drives signed in as b: it drops its
// cookies and takes b's.
func useSession(t *testing.T, ctx context.Context, a *testApp, b *browser) {
	t.Helper()
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(a.URL)
	for _, ck := range b.c.Jar.Cookies(u) {
		if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
			Name: ck.Name, Value: ck.Value, URL: a.URL + "/"}); err != nil {
			t.Fatal(err)
		}
	}
}

// The learner's and the instructor's homes, and a refused fourth lab
// instance, pass axe at both sizes in both schemes, and are kept as
// screenshots.
func TestBrowserHomes(t *testing.T) {
	w := newHomeWorld(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()})
	ctx := testenv.Browser(t, 3*time.Minute)
	do, _ := chromeSteps(t, ctx)
	useSession(t, ctx, w.a, w.ada)
	testenv.CheckLooks(t, ctx, "home-learner", w.a.URL+"/", `[data-testid="home-review"]`)

	for range 2 {
		wantStatus(t, w.ada.api("POST", "/api/labs/limiter/instances", `{}`), http.StatusCreated)
	}
	for _, l := range testenv.Looks {
		l.Apply(t, ctx)
		do(chromedp.Navigate(w.a.URL+"/labs/limiter"), chromedp.WaitReady(`[data-testid="launch-fold"]`),
			chromedp.Click(`[data-testid="launch-fold"] > summary`), // the form folds away while instances run
			chromedp.Click(`[data-testid="launch"]`), chromedp.WaitVisible(`[data-testid="running-list"]`))
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="form-message"] [data-testid="running-instance"] button').length`))
		if err != nil || n != 3 {
			t.Errorf("%s: the refusal shows %d Stop buttons, want 3 (%v)", l.Name, n, err)
		}
		testenv.Axe(t, ctx, "lab refusal ("+l.Name+")")
		testenv.Screenshot(t, ctx, "lab-refused-"+l.Name)
	}

	useSession(t, ctx, w.a, w.teacher)
	testenv.CheckLooks(t, ctx, "home-instructor", w.a.URL+"/", `[data-testid="home-classes"]`)
}
