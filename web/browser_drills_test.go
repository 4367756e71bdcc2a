package web

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/internal/testenv"
)

// A drill reads well in both colour schemes at laptop and phone sizes:
// axe finds no serious or critical violation on the form, on the form
// re-shown with a message by a field, and on a graded result.
func TestBrowserDrillReadsWell(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil)
	ctx := testenv.Browser(t, 3*time.Minute)
	do, _ := chromeSteps(t, ctx)
	testenv.CheckLooks(t, ctx, "drill-form", a.URL+"/drills/bandwidth", `[data-testid="drill-form"]`)
	do(
		chromedp.Navigate(a.URL+"/drills/bandwidth"),
		chromedp.WaitVisible(`#est-average`),
		chromedp.SendKeys(`#est-average`, "lots"),
		chromedp.SendKeys(`#est-peak`, "40 Gbps"),
		chromedp.Click(`[data-testid="drill-submit"]`),
		chromedp.WaitVisible(`[data-testid="error-average"]`),
	)
	testenv.Axe(t, ctx, "drill-bad-input")
	do(
		chromedp.SetValue(`#est-average`, "1.2k"),
		chromedp.Click(`[data-testid="drill-submit"]`),
		chromedp.WaitVisible(`[data-testid="drill-solution"]`),
	)
	for _, l := range testenv.Looks {
		l.Apply(t, ctx)
		testenv.Axe(t, ctx, "drill-result ("+l.Name+")")
		testenv.Screenshot(t, ctx, "drill-result-"+l.Name)
	}
}
