package web

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// The header fits one row on a laptop even for an admin with a long
// address, folds into a Menu on a phone that opens and leads somewhere, has
// a named logo link at every width and styled search boxes; axe passes on
// the pages it sits on in every look.
func TestBrowserHeaderAtEveryWidth(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil)
	ctx := testenv.Browser(t, 3*time.Minute)
	do, _ := chromeSteps(t, ctx)
	email := "an.instructor.with.a.long.name@example.org"

	// A visitor's header is one row too.
	testenv.Looks[0].Apply(t, ctx)
	do(chromedp.Navigate(a.URL+"/"), chromedp.WaitReady(`footer`))
	if h := headerHeight(t, ctx); h > 72 {
		t.Errorf("a visitor's header is %.0f px tall at 1280", h)
	}
	do(
		chromedp.Navigate(a.URL+"/register"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, email),
		chromedp.SendKeys(`#password`, "a passphrase long enough"),
		chromedp.Submit(`[data-testid="register-form"]`),
		chromedp.WaitReady(`[data-testid="nav-user"]`),
	)
	MustSetRole(t, a, email, store.RoleAdmin)
	checkHeaderOnLaptops(t, ctx, a.URL, email)
	checkHeaderOnPhones(t, ctx, a.URL)
	checkSearchBoxes(t, ctx, a.URL)
	for _, p := range []struct{ name, path string }{{"header-lessons", "/lessons"}, {"header-search", "/search?q=cache"}} {
		testenv.CheckLooks(t, ctx, p.name, a.URL+p.path, `footer`)
	}
}

// checkHeaderOnLaptops: one row, a named logo, nothing sticking out, the
// address readable.
func checkHeaderOnLaptops(t *testing.T, ctx context.Context, base, email string) {
	do, _ := chromeSteps(t, ctx)
	for _, w := range []int64{1440, 1280, 1100} {
		do(chromedp.EmulateViewport(w, 800), chromedp.Navigate(base+"/lessons"), chromedp.WaitReady(`footer`))
		testenv.ViewportShot(t, ctx, "header-laptop-"+strconv.FormatInt(w, 10))
		if h := headerHeight(t, ctx); h > 72 {
			t.Errorf("signed-in admin's header is %.0f px tall at %d px: it wraps", h, w)
		}
		if name := logoName(t, ctx); name != "System Design Workbook" {
			t.Errorf("logo link's name at %d px: %q", w, name)
		}
		fits, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function () {
			const nav = document.querySelector('.nav'), r = nav.getBoundingClientRect();
			const email = document.querySelector('.nav-email').getBoundingClientRect();
			const out = Array.from(nav.querySelectorAll('a, button, input')).filter(e => e.getClientRects().length &&
				(e.getBoundingClientRect().right > r.right + 1 || e.getBoundingClientRect().left < r.left - 1));
			if (out.length) return out.length + " controls stick out of the header";
			if (email.width < 60) return "the address is squeezed to " + email.width + " px";
			return "";
		})()`))
		if err != nil || fits != "" {
			t.Errorf("header at %d px: %s %v", w, fits, err)
		}
	}
	// The whole address is still there for the account link's readers.
	if got, _ := chromedp.Run(ctx, chromedp.TextContent(`[data-testid="nav-user"]`)); !strings.Contains(got, email) {
		t.Errorf("account link reads %q", got)
	}
}

// checkHeaderOnPhones: below 1100 px the links fold behind a Menu that opens
// and leads somewhere.
func checkHeaderOnPhones(t *testing.T, ctx context.Context, base string) {
	do, _ := chromeSteps(t, ctx)

	// A phone: a compact header with a Menu that opens the links.
	testenv.Looks[2].Apply(t, ctx)
	do(chromedp.Navigate(base+"/lessons"), chromedp.WaitReady(`footer`))
	testenv.ViewportShot(t, ctx, "header-phone-closed")
	if h := headerHeight(t, ctx); h > 72 {
		t.Errorf("closed header on a phone is %.0f px tall", h)
	}
	if visible(t, ctx, `.nav-links a[href="/progress"]`) {
		t.Error("the links show before the menu is opened")
	}
	if name := logoName(t, ctx); name != "System Design Workbook" {
		t.Errorf("logo link's name on a phone: %q", name)
	}
	for _, w := range []int64{1099, 820} {
		do(chromedp.EmulateViewport(w, 800), chromedp.Navigate(base+"/lessons"), chromedp.WaitReady(`footer`))
		if visible(t, ctx, `.nav-links a[href="/progress"]`) || !visible(t, ctx, `[data-testid="nav-toggle"] summary`) {
			t.Errorf("at %d px the header does not fold into the menu", w)
		}
	}
	testenv.Looks[2].Apply(t, ctx)
	do(chromedp.Navigate(base+"/lessons"), chromedp.WaitReady(`footer`))
	do(chromedp.Click(`[data-testid="nav-toggle"] summary`), chromedp.WaitVisible(`.nav-links a[href="/progress"]`))
	testenv.ViewportShot(t, ctx, "header-phone-open")
	do(chromedp.Click(`.nav-links a[href="/progress"]`), chromedp.WaitVisible(`[data-testid="stat-lessons"]`))
}

// checkSearchBoxes: search boxes are styled, not the browser's default.
func checkSearchBoxes(t *testing.T, ctx context.Context, base string) {
	do, _ := chromeSteps(t, ctx)

	for _, path := range []string{"/lessons", "/search?q=cache"} {
		do(chromedp.Navigate(base+path), chromedp.WaitReady(`footer`))
		styled, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
			`Array.from(document.querySelectorAll('input[type=search]')).map(i => getComputedStyle(i).appearance + " " + getComputedStyle(i).borderTopLeftRadius)`))
		if err != nil || len(styled) == 0 {
			t.Fatalf("search boxes on %s: %v %v", path, styled, err)
		}
		for _, s := range styled {
			if s != "none 8px" {
				t.Errorf("a search box on %s keeps the default look: %s", path, s)
			}
		}
	}
}

func headerHeight(t *testing.T, ctx context.Context) float64 {
	t.Helper()
	h, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.querySelector('.site-header').getBoundingClientRect().height`))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// logoName is the accessible name of the logo link, as the browser's
// accessibility tree has it.
func logoName(t *testing.T, ctx context.Context) string {
	t.Helper()
	nodes, err := chromedp.Run(ctx, chromedp.Nodes(`a.brand`))
	if err != nil || len(nodes) == 0 {
		t.Fatalf("logo link: %v", err)
	}
	no := false
	res, err := chromedp.Call(ctx, accessibility.GetPartialAXTree, accessibility.GetPartialAXTreeParams{
		BackendNodeID: nodes[0].BackendNodeID, FetchRelatives: &no})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range res.Nodes {
		if n.Name != nil {
			var name string
			if err := json.Unmarshal([]byte(n.Name.Value), &name); err != nil {
				t.Fatalf("name %s: %v", n.Name.Value, err)
			}
			return name
		}
	}
	return ""
}

func visible(t *testing.T, ctx context.Context, sel string) bool {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(function () { const e = document.querySelector('`+sel+`');
		return !!e && e.checkVisibility(); })()`))
	if err != nil {
		t.Fatal(err)
	}
	return v
}
