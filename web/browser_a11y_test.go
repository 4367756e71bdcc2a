package web

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// The pages with code and charts read well in both colour schemes: axe
// finds no serious or critical violation (contrast included) on a lesson
// with highlighted code, a lab with a running instance and its charts, and
// a graded submission with its check charts, at laptop and phone sizes.
func TestBrowserCodeAndChartsInBothSchemes(t *testing.T) {
	a := MustStartGrading(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, limiter.Lab)
	ctx := testenv.Browser(t, 5*time.Minute)
	do, _ := chromeSteps(t, ctx)
	do(
		chromedp.Navigate(a.URL+"/register"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, "themes@example.org"),
		chromedp.SendKeys(`#password`, "a passphrase long enough"),
		chromedp.Submit(`[data-testid="register-form"]`),
		chromedp.WaitVisible(`[data-testid="nav-user"]`),
	)
	testenv.CheckLooks(t, ctx, "lesson-caching", a.URL+"/lessons/caching", `[data-testid="lesson"]`)

	// A running instance with some traffic on its charts.
	do(
		chromedp.Navigate(a.URL+"/labs/limiter"),
		chromedp.WaitVisible(`[data-testid="launch-form"]`),
		chromedp.Click(`[data-testid="launch"]`),
		chromedp.WaitVisible(`[data-testid="instance"][data-live="true"]`),
		chromedp.SetValue(`[data-testid="load-form"] input[name="requests"]`, "200"),
		chromedp.SetValue(`[data-testid="load-form"] input[name="rate_per_s"]`, "0"),
		chromedp.Click(`[data-testid="load"]`),
		chromedp.WaitVisible(`[data-testid="load-summary"][data-status="200"]`),
	)
	testenv.CheckLooks(t, ctx, "lab-limiter", a.URL+"/labs/limiter", `[data-testid="instance"][data-live="true"] .chart canvas`,
		axesReadable(t, ctx, "lab", "figure.chart"))

	// A graded submission with its check charts.
	do(
		chromedp.Navigate(a.URL+"/labs/limiter/exercises/"+limiterExercise),
		chromedp.WaitVisible(`[data-testid="submit-form"]`),
		chromedp.SetValue(`#f-algorithm`, "fixed_window"),
		chromedp.SetValue(`#f-storage`, "memory"),
		chromedp.Click(`[data-testid="submit"]`),
		chromedp.WaitVisible(`[data-testid="submission"]`),
	)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](graded, chromedp.WithPollingTimeout(2*time.Minute))); err != nil {
		t.Fatalf("never graded: %v", err)
	}
	url, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	testenv.CheckLooks(t, ctx, "submission", url, `figure.check-chart[data-drawn] canvas`,
		axesReadable(t, ctx, "submission", "figure.check-chart"))
}

// axesReadable checks, in a look, that the tick labels uPlot draws on each
// chart's canvas (which axe cannot read) stand out from the background: the
// strongest contrast among the pixels of the left axis strip is at least
// 4.5:1 against the colour behind the chart.
func axesReadable(t *testing.T, ctx context.Context, page, figures string) func(testenv.Look) {
	return func(l testenv.Look) {
		t.Helper()
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(function () {
	function rgb(s) { var m = s.match(/[\d.]+/g) || []; return m.map(Number); }
	function lum(c) { return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]); }
	function lin(v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }
	function behind(e) {
		for (; e; e = e.parentElement) { var c = rgb(getComputedStyle(e).backgroundColor); if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c; }
		return [255, 255, 255];
	}
	return Array.from(document.querySelectorAll(`+"`"+figures+"`"+`)).map(function (fig) {
		var cv = fig.querySelector("canvas"); if (!cv) return 0;
		var bg = lum(behind(fig)), strip = Math.round(cv.width * 0.08);
		var px = cv.getContext("2d").getImageData(0, 0, strip, cv.height).data, best = 1;
		for (var i = 0; i < px.length; i += 4) {
			if (px[i + 3] < 250) continue;
			var l = lum([px[i], px[i + 1], px[i + 2]]);
			best = Math.max(best, (Math.max(l, bg) + 0.05) / (Math.min(l, bg) + 0.05));
		}
		return best;
	});
})()`))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			t.Errorf("%s (%s): no chart found", page, l.Name)
		}
		for i, c := range got {
			if c < 4.5 {
				t.Errorf("%s (%s): chart %d's axis labels have contrast %.2f:1 against the background, want 4.5:1", page, l.Name, i, c)
			}
		}
	}
}
