package web

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/breaker"
	"github.com/sdworkbook/workbook/labs/cache"
	"github.com/sdworkbook/workbook/labs/limiter"
	"github.com/sdworkbook/workbook/labs/shop"
	"github.com/sdworkbook/workbook/labs/shortener"
)

// labJourney drives one lab through Chromium: launch from the form, see the
// live stream connect, poke it and read the raw response, run a burst of
// load, and see a chart's series grow.
type labJourney struct {
	lab    labs.Lab
	design map[string]string // form values to set before launching
	poke   int               // index of the poke to send
	status string            // its expected HTTP status
	series string            // a count series that the load must make grow
}

func runLabJourney(t *testing.T, j labJourney) {
	id := j.lab.Info().ID
	a := MustStartLabs(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, j.lab)
	ctx := testenv.Browser(t, 2*time.Minute)
	do, _ := chromeSteps(t, ctx)
	do(
		chromedp.Navigate(a.URL+"/register"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, id+"@example.org"),
		chromedp.SendKeys(`#password`, "a passphrase long enough"),
		chromedp.Submit(`[data-testid="register-form"]`),
		chromedp.WaitVisible(`[data-testid="nav-user"]`),
		chromedp.Navigate(a.URL+"/labs/"+id),
		chromedp.WaitVisible(`[data-testid="launch-form"]`),
	)
	for name, v := range j.design {
		do(chromedp.SetValue(`#`+name, v))
	}
	do(
		chromedp.Click(`[data-testid="launch"]`),
		chromedp.WaitVisible(`[data-testid="instance"][data-live="true"]`),
		chromedp.Click(`[data-testid="poke-`+strconv.Itoa(j.poke)+`"] button`),
		chromedp.WaitVisible(`[data-testid="response"][data-status]`),
	)
	st, err := chromedp.Run(ctx, chromedp.AttributeValue(`[data-testid="response"][data-status]`, "data-status"))
	if err != nil || st.Value != j.status {
		t.Errorf("poke answered %q (%v), want %s", st.Value, err, j.status)
	}
	raw, _ := chromedp.Run(ctx, chromedp.Text(`[data-testid="response"][data-status]`))
	if !strings.HasPrefix(raw, "HTTP/1.1 "+j.status) || !strings.Contains(strings.ToLower(raw), "content-type: application/json") {
		t.Errorf("raw response lacks its status line or headers:\n%s", raw)
	}
	do(
		chromedp.SetValue(`[data-testid="load-form"] input[name="requests"]`, "400"),
		chromedp.SetValue(`[data-testid="load-form"] input[name="rate_per_s"]`, "0"),
		chromedp.Click(`[data-testid="load"]`),
		chromedp.WaitVisible(`[data-testid="load-summary"][data-status="200"]`),
	)
	attr := "data-sum-" + strings.ReplaceAll(j.series, "_", "-")
	grown, err := chromedp.Run(ctx, chromedp.Poll[bool](
		`parseFloat(document.querySelector('[data-testid="instance"]').getAttribute('`+attr+`') || "0") > 0`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil || !grown {
		attrs, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`Array.from(document.querySelector('[data-testid="instance"]').attributes).map(a => a.name + "=" + a.value.slice(0, 80)).join("\n") + "\n" + document.querySelector('[data-testid="load-result"]').textContent`))
		t.Errorf("series %s never grew on the chart (%v); panel:\n%s", j.series, err, attrs)
	}
	// The event log shows the load run.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](
		`document.querySelector('[data-testid="events"]').textContent.includes("load run done")`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Errorf("event log never showed the load run: %v", err)
	}
	testenv.Screenshot(t, ctx, "lab-"+id)
}

func TestBrowserLimiterLab(t *testing.T) {
	runLabJourney(t, labJourney{lab: limiter.Lab, design: map[string]string{"f-limit": "20"}, poke: 0, status: "200", series: "rejected"})
}

func TestBrowserBreakerLab(t *testing.T) {
	runLabJourney(t, labJourney{lab: breaker.Lab, poke: 0, status: "200", series: "downstream_calls"})
}

func TestBrowserShortenerLab(t *testing.T) {
	runLabJourney(t, labJourney{lab: shortener.Lab, design: map[string]string{"f-codegen": "sequence_base62", "f-cache": "redis_and_local"},
		poke: 0, status: "201", series: "redirects"})
}

func TestBrowserShopLab(t *testing.T) {
	runLabJourney(t, labJourney{lab: shop.Lab, design: map[string]string{"f-payment_latency_ms": "5"}, poke: 0, status: "202", series: "orders_placed"})
}

func TestBrowserCacheLab(t *testing.T) {
	runLabJourney(t, labJourney{lab: cache.Lab, design: map[string]string{"f-db_latency_ms": "5"}, poke: 0, status: "200", series: "hits"})
}

// The shop lab's pokes draw what their JSON says: an order's saga as a
// timeline of steps, and a product's stock as bars of available, reserved
// and sold.
func TestBrowserShopPictures(t *testing.T) {
	a := MustStartLabs(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, shop.Lab)
	ctx := testenv.Browser(t, 2*time.Minute)
	do, text := chromeSteps(t, ctx)
	do(
		chromedp.Navigate(a.URL+"/register"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, "shop@example.org"),
		chromedp.SendKeys(`#password`, "a passphrase long enough"),
		chromedp.Submit(`[data-testid="register-form"]`),
		chromedp.WaitVisible(`[data-testid="nav-user"]`),
		chromedp.Navigate(a.URL+"/labs/shop"),
		chromedp.SetValue(`#f-payment_failure_rate`, "0"),
		chromedp.SetValue(`#f-payment_latency_ms`, "5"),
		chromedp.Click(`[data-testid="launch"]`),
		chromedp.WaitVisible(`[data-testid="instance"][data-live="true"]`),
		chromedp.Click(`[data-testid="poke-0"] button`),
		chromedp.WaitVisible(`[data-testid="response"][data-status="202"]`),
	)
	// Follow the order until its saga has settled.
	var steps int
	for range 50 {
		do(chromedp.Click(`[data-testid="poke-2"] button`), chromedp.WaitVisible(`[data-testid="poke-picture"] .timeline`))
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="poke-picture"] .tl-step').length`))
		if err != nil {
			t.Fatal(err)
		}
		steps = n
		if strings.Contains(text(`[data-testid="poke-picture"] p`), "confirmed") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if pic := text(`[data-testid="poke-picture"]`); steps < 3 || !strings.Contains(pic, "confirmed") {
		t.Errorf("order timeline: %d steps: %q", steps, pic)
	}
	do(chromedp.Click(`[data-testid="poke-4"] button`), chromedp.WaitVisible(`[data-testid="poke-picture"] .stock-bar`))
	if label := text(`[data-testid="poke-picture"] .stock-label`); !strings.Contains(label, "2 sold") || !strings.Contains(label, "= 100 of 100") {
		t.Errorf("stock picture: %q", label)
	}
	testenv.Screenshot(t, ctx, "shop-stock")
}
