package testenv

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Axe finds what it should on a small page: a picture without a text
// alternative and grey-on-white text are reported, a clean page is not.
func TestAxeReportsViolations(t *testing.T) {
	pages := map[string]string{
		"/clean": `<main><h1>Fine</h1><p>Readable text.</p></main>`,
		"/bad": `<main><h1>Broken</h1><img src="/x.png">` +
			`<p style="color:#ccc;background:#fff">Faint text</p></main>`,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><title>t</title></head><body>%s</body></html>`, body)
	}))
	defer srv.Close()
	ctx := Browser(t, 60*time.Second)

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/clean")); err != nil {
		t.Fatal(err)
	}
	if vs, err := AxeAll(ctx); err != nil || len(vs) != 0 {
		t.Errorf("clean page: err %v, violations:\n%s", err, FormatAxe(vs))
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/bad")); err != nil {
		t.Fatal(err)
	}
	vs, err := AxeAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, v := range vs {
		ids[v.ID] = v.Impact
	}
	if ids["image-alt"] != "critical" || ids["color-contrast"] != "serious" {
		t.Errorf("violations on the bad page: %v", ids)
	}
	out := FormatAxe(vs)
	for _, want := range []string{"[critical] image-alt", `<img src="/x.png">`, "color-contrast"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
