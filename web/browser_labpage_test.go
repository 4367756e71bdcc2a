package web

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// The lab page puts the running system first, at both sizes and in both
// schemes: after Launch the new instance is in view with the introduction
// and the form folded away; a poke's response appears right under the
// poke that sent it; a load run ends as a summary card (status counts,
// p50 and p99, the lab's key number) with the raw response one click away.
func TestBrowserLabRunningFirst(t *testing.T) {
	a := MustStartLabs(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, limiter.Lab)
	b := MustRegister(t, a, "ada@example.org")
	ctx := testenv.Browser(t, 4*time.Minute)
	do, text := chromeSteps(t, ctx)
	useSession(t, ctx, a, b)
	eval := func(js string) bool {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	for _, l := range testenv.Looks {
		for _, r := range mustOwned(t, b) {
			wantStatus(t, b.api("DELETE", "/api/labs/limiter/instances/"+r, ""), http.StatusNoContent)
		}
		l.Apply(t, ctx)
		do(chromedp.Navigate(a.URL+"/labs/limiter"), chromedp.WaitVisible(`[data-testid="launch"]`),
			chromedp.Click(`[data-testid="launch"]`), chromedp.WaitVisible(`[data-testid="instance"][data-live="true"]`))
		if !eval(`(() => { const r = document.querySelector('[data-testid="instance"]').getBoundingClientRect(); return r.top >= -2 && r.top < innerHeight / 2; })()`) {
			top, _ := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.querySelector('[data-testid="instance"]').getBoundingClientRect().top`))
			t.Errorf("%s: after Launch the instance starts %.0f px down a %d px window", l.Name, top, l.Height)
		}
		if eval(`document.querySelector('[data-testid="about-fold"]').open || document.querySelector('[data-testid="launch-fold"]').open`) {
			t.Errorf("%s: the introduction or the form is still open after Launch", l.Name)
		}
		if l.Name == "laptop-light" {
			emptyNote := `[...document.querySelectorAll('[data-testid="chart-empty"]')].some(e => e.checkVisibility())`
			if !eval(emptyNote) {
				t.Error("a fresh instance's charts do not say how to get data")
			}
			defer checkChartsExplain(t, ctx, emptyNote)
		}
		do(chromedp.Click(`[data-testid="poke-0"] button`), chromedp.WaitVisible(`[data-testid="poke-0"] [data-testid="response"][data-status]`))
		if !eval(`(() => { const f = document.querySelector('[data-testid="poke-0"]'); const b = f.querySelector('button').getBoundingClientRect();
			const r = f.querySelector('[data-testid="response"]').getBoundingClientRect(); return r.top >= b.bottom - 1 && r.top - b.bottom < 80; })()`) {
			t.Errorf("%s: the poke's response is not next to its button", l.Name)
		}
		if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="response"]:not([hidden])').length`)); n != 1 {
			t.Errorf("%s: %d response boxes show after one poke, want 1", l.Name, n)
		}
		do(
			chromedp.SetValue(`[data-testid="load-form"] input[name="requests"]`, "200"),
			chromedp.SetValue(`[data-testid="load-form"] input[name="rate_per_s"]`, "0"),
			chromedp.Click(`[data-testid="load"]`),
			chromedp.WaitVisible(`[data-testid="load-summary"][data-status="200"]`),
		)
		if got := text(`[data-testid="load-status-200"]`); got == "" || got == "0" {
			t.Errorf("%s: the card counts %q answers 200", l.Name, got)
		}
		if p99 := text(`[data-testid="load-p99"]`); !strings.HasSuffix(p99, " ms") {
			t.Errorf("%s: the card's p99 %q", l.Name, p99)
		}
		if key := text(`[data-testid="load-key"]`); !strings.Contains(key, " / ") {
			t.Errorf("%s: the card's allowed / refused %q", l.Name, key)
		}
		if eval(`document.querySelector('[data-testid="load-result"]').checkVisibility()`) {
			t.Errorf("%s: the raw response shows before it is asked for", l.Name)
		}
		do(chromedp.Click(`.load-raw > summary`), chromedp.WaitVisible(`[data-testid="load-result"][data-status="200"]`))
		testenv.Axe(t, ctx, "lab with an instance ("+l.Name+")")
		testenv.Screenshot(t, ctx, "lab-running-"+l.Name)
	}
}

// checkChartsExplain runs once the loads are done: the note is gone;
// the axes carry units, the legend names series in words and shows the
// latest values without hovering; the log scale switches; each chart's
// data reads as a table.
func checkChartsExplain(t *testing.T, ctx context.Context, emptyNote string) {
	t.Helper()
	eval := func(js string) bool {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		return err == nil && v
	}
	if eval(emptyNote) {
		t.Error("the charts still say there is no data after a load")
	}
	axes, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('[data-testid="instance"] .charts').innerText + " " +
		document.querySelector('[data-testid="instance"]').__panel.charts.map(c => c.u.axes.map(a => a.label).join(" ")).join(" ")`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"per 100 ms", "milliseconds", "p99 latency", "store errors", "time (min:s)"} {
		if !strings.Contains(axes, want) {
			t.Errorf("the charts do not say %q", want)
		}
	}
	if !eval(`[...document.querySelectorAll('.chart')].every(c => [...c.querySelectorAll('.u-legend .u-series:not(:first-child) .u-value')].some(v => /\d/.test(v.textContent)))`) {
		t.Error("a legend does not show its latest values without hovering")
	}
	if !eval(`document.querySelector('[data-testid="instance"]').__panel.charts.every(c => { const v = c.u.axes[0]._values || []; return v.length > 0 && new Set(v).size === v.length; })`) {
		v, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(document.querySelector('[data-testid="instance"]').__panel.charts.map(c => [c.u.axes[0]._values, c.u.axes[0]._splits]))`))
		t.Errorf("a chart's time axis repeats a label: %s", v)
	}
	if !eval(`(() => { const cb = document.querySelector('[data-testid="log-scale"]'); cb.click();
		return document.querySelector('[data-testid="instance"]').__panel.charts[0].u.scales.y.distr === 4; })()`) {
		t.Error("the log scale switch does not switch the scale")
	}
	if !eval(`(() => { const d = document.querySelector('.chart-table'); d.open = true; d.dispatchEvent(new Event('toggle'));
		return document.querySelectorAll('[data-testid="chart-table"]')[0].querySelectorAll('tr').length > 1; })()`) {
		t.Error("a chart's data does not read as a table")
	}
}

// mustOwned lists the ids of b's limiter instances.
func mustOwned(t *testing.T, b *browser) []string {
	t.Helper()
	d := doc(t, b.get("/labs/limiter"))
	var ids []string
	d.Find(`[data-testid="instance"]`).Each(func(_ int, s *goquery.Selection) {
		id, _ := s.Attr("data-id")
		ids = append(ids, id)
	})
	return ids
}
