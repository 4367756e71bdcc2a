package testenv

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// axeSource is axe-core, vendored from the npm registry by scripts/vendor.sh.
// It is injected into pages by the browser tests and never served.
//
//go:embed vendor/axe.min.js
var axeSource string

// AxeViolation is one rule that failed on a page, with the elements it
// failed on.
type AxeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		HTML    string `json:"html"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// axeRun runs axe on the whole document (WCAG 2.x A and AA rules and best
// practices) and returns its violations as JSON.
const axeRun = `axe.run(document, {
	resultTypes: ["violations"],
	runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]}
}).then(r => JSON.stringify(r.violations))`

// structureRules are rules of moderate impact that fail a page all the
// same: a screen reader user moves by landmarks and headings, so landmarks
// of one kind need names of their own and headings must not skip levels.
var structureRules = map[string]bool{"landmark-unique": true, "heading-order": true}

// Axe runs axe-core on the page ctx shows and returns the serious and
// critical violations, and those of structureRules. Each one fails the test (with tb.Errorf, so a
// journey goes on) and is printed readably under name: the rule, its help
// text and up to five of the elements it failed on.
func Axe(tb testing.TB, ctx context.Context, name string) []AxeViolation {
	tb.Helper()
	all, err := AxeAll(ctx)
	if err != nil {
		tb.Fatalf("axe on %s: %v", name, err)
	}
	var bad []AxeViolation
	for _, v := range all {
		if v.Impact == "serious" || v.Impact == "critical" || structureRules[v.ID] {
			bad = append(bad, v)
		}
	}
	if len(bad) > 0 {
		tb.Errorf("axe on %s: %d serious or critical violations:\n%s", name, len(bad), FormatAxe(bad))
	}
	return bad
}

// AxeAll injects axe-core into the page ctx shows (once per document) and
// returns every violation it finds, whatever its impact.
func AxeAll(ctx context.Context) ([]AxeViolation, error) {
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === "object"`))
	if err != nil {
		return nil, err
	}
	if !loaded {
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](axeSource)); err != nil {
			return nil, fmt.Errorf("injecting axe-core: %w", err)
		}
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, err
	}
	var vs []AxeViolation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		return nil, fmt.Errorf("reading axe's answer: %w", err)
	}
	return vs, nil
}

// FormatAxe prints violations one rule a paragraph, for a test log.
func FormatAxe(vs []AxeViolation) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "  [%s] %s: %s (%d elements)\n", v.Impact, v.ID, v.Help, len(v.Nodes))
		for i, n := range v.Nodes {
			if i == 5 {
				fmt.Fprintf(&b, "      … and %d more\n", len(v.Nodes)-i)
				break
			}
			html := n.HTML
			if len(html) > 160 {
				html = html[:160] + "…"
			}
			summary := strings.ReplaceAll(strings.TrimSpace(n.Summary), "\n", " ")
			fmt.Fprintf(&b, "    - %v %s\n      %s\n", n.Target, html, summary)
		}
	}
	return b.String()
}

// ColorScheme makes the page ctx shows prefer "light" or "dark".
func ColorScheme(tb testing.TB, ctx context.Context, scheme string) {
	tb.Helper()
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}); err != nil {
		tb.Fatal(err)
	}
}

// A Look is one way a page is seen: a window size and a colour scheme.
type Look struct {
	Name          string // laptop-light, phone-dark …
	Width, Height int64
	Phone         bool
	Scheme        string
}

// Looks are the four ways pages are checked: 1280×800 and a 390×844 phone,
// each in the light and the dark scheme.
var Looks = []Look{
	{Name: "laptop-light", Width: 1280, Height: 800, Scheme: "light"},
	{Name: "laptop-dark", Width: 1280, Height: 800, Scheme: "dark"},
	{Name: "phone-light", Width: 390, Height: 844, Phone: true, Scheme: "light"},
	{Name: "phone-dark", Width: 390, Height: 844, Phone: true, Scheme: "dark"},
}

// Apply sets the window size and colour scheme of the look.
func (l Look) Apply(tb testing.TB, ctx context.Context) {
	tb.Helper()
	opts := []chromedp.EmulateViewportOption{}
	if l.Phone {
		opts = append(opts, chromedp.EmulateScale(2), chromedp.EmulateMobile)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(l.Width, l.Height, opts...)); err != nil {
		tb.Fatal(err)
	}
	ColorScheme(tb, ctx, l.Scheme)
}

// CheckLooks opens url in every look, runs axe on it (failing the test on
// serious or critical violations) and saves a screenshot named
// name-look.png. ready is what to wait for after loading (a CSS selector);
// each of also runs in every look, after axe.
func CheckLooks(tb testing.TB, ctx context.Context, name, url, ready string, also ...func(Look)) {
	tb.Helper()
	for _, l := range Looks {
		l.Apply(tb, ctx)
		if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitReady(ready)); err != nil {
			tb.Fatalf("%s (%s): %v", name, l.Name, err)
		}
		Axe(tb, ctx, name+" ("+l.Name+")")
		for _, f := range also {
			f(l)
		}
		Screenshot(tb, ctx, name+"-"+l.Name)
	}
}
