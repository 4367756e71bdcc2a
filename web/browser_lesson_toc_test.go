package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/internal/testenv"
)

// A lesson's table of contents is whole at 1280×800, marks the section
// being read, shows its headings as text (no literal entities), and on a
// narrow screen is a collapsed list at the top that opens and jumps.
func TestBrowserLessonTableOfContents(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil)
	ctx := testenv.Browser(t, 3*time.Minute)
	do, _ := chromeSteps(t, ctx)
	testenv.Looks[0].Apply(t, ctx)
	do(chromedp.Navigate(a.URL+"/lessons/cap"), chromedp.WaitVisible(`[data-testid="toc"]`))

	entries, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](tocEntries(`[data-testid="toc"]`)))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 6 {
		t.Fatalf("the table of contents has %d entries: %q", len(entries), entries)
	}
	for _, e := range entries {
		if strings.HasPrefix(e, "hidden:") {
			t.Errorf("entry %q is out of sight at 1280×800", e)
		}
		if strings.Contains(e, "&") && strings.Contains(e, ";") {
			t.Errorf("entry shows an HTML entity: %q", e)
		}
	}
	if !strings.Contains(strings.Join(entries, "|"), "Why \u201cpick two\u201d misleads") {
		t.Errorf("the pick-two entry is not plain text: %q", entries)
	}
	testenv.ViewportShot(t, ctx, "lesson-toc-laptop")

	// Reading further down marks the section read, in the list.
	ids, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('[data-testid="toc"] a')).map(a => a.dataset.section)`))
	for _, id := range []string{ids[3], ids[len(ids)-2], ids[1]} {
		do(chromedp.Evaluate[chromedp.Void](`document.getElementById('` + id + `').scrollIntoView({block: "start"}); window.scrollBy(0, -80)`))
		waitCurrent(t, ctx, id)
	}
	testenv.ViewportShot(t, ctx, "lesson-toc-current")

	// A narrow screen: a collapsed list at the top, which opens and jumps.
	for _, l := range []testenv.Look{{Name: "tablet", Width: 900, Height: 900, Scheme: "light"}, testenv.Looks[3]} {
		l.Apply(t, ctx)
		do(chromedp.Navigate(a.URL+"/lessons/cap"), chromedp.WaitVisible(`[data-testid="toc-top"] summary`))
		if visible(t, ctx, `[data-testid="toc"]`) || visible(t, ctx, `[data-testid="toc-top"] a`) {
			t.Errorf("%s: the side list shows, or the top one starts open", l.Name)
		}
		do(
			chromedp.Click(`[data-testid="toc-top"] summary`),
			chromedp.WaitVisible(`[data-testid="toc-top"] a[data-section="`+ids[2]+`"]`),
		)
		testenv.ViewportShot(t, ctx, "lesson-toc-"+l.Name)
		do(chromedp.Click(`[data-testid="toc-top"] a[data-section="` + ids[2] + `"]`))
		waitCurrent(t, ctx, ids[2])
	}
	testenv.CheckLooks(t, ctx, "lesson-cap", a.URL+"/lessons/cap", `[data-testid="lesson"]`)
}

// tocEntries lists a table of contents' entries, each prefixed with
// "hidden:" when it lies outside the window or its scrolling list.
func tocEntries(sel string) string {
	return `(function () {
		const nav = document.querySelector('` + sel + `'), box = nav.closest('.lesson-side') || nav;
		const b = box.getBoundingClientRect();
		return Array.from(nav.querySelectorAll('a')).map(a => {
			const r = a.getBoundingClientRect();
			const seen = r.top >= Math.max(b.top, 0) - 1 && r.bottom <= Math.min(b.bottom, innerHeight) + 1;
			return (seen ? "" : "hidden:") + a.textContent.trim();
		});
	})()`
}

// waitCurrent waits until the entry for section id is marked current.
func waitCurrent(t *testing.T, ctx context.Context, id string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`(function () {
		const cur = Array.from(document.querySelectorAll('.toc a[aria-current]')).filter(a => a.getClientRects().length);
		return cur.length === 1 && cur[0].dataset.section === '`+id+`';
	})()`, chromedp.WithPollingTimeout(5*time.Second)))
	if err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('.toc a[aria-current]')).map(a => a.dataset.section)`))
		t.Errorf("section %s is not marked as being read; marked: %q", id, got)
	}
}
