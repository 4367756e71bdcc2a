package lessons

import (
	"regexp"
	"strings"
	"testing"
)

// In the dark scheme no token keeps a colour from the light stylesheet:
// every class the light one colours is reset inside the dark block, before
// the dark theme's own rules.
func TestHighlightCSSDarkResetsLightColours(t *testing.T) {
	css := HighlightCSS()
	at := strings.Index(css, "@media (prefers-color-scheme: dark)")
	if at < 0 {
		t.Fatal("no dark block")
	}
	light, dark := css[:at], css[at:]
	reset := dark[:strings.Index(dark, "/* ")]
	classes := regexp.MustCompile(`\.hl-chroma (\.hl-[a-z0-9]+) \{[^}]*color: #`).FindAllStringSubmatch(light, -1)
	if len(classes) < 20 {
		t.Fatalf("only %d coloured classes found in the light stylesheet", len(classes))
	}
	for _, m := range classes {
		if !strings.Contains(reset, ".hl-chroma "+m[1]+",") && !strings.Contains(reset, ".hl-chroma "+m[1]+" {") {
			t.Errorf("%s keeps its light colour in the dark", m[1])
		}
	}
	if !strings.Contains(reset, "color: inherit") {
		t.Errorf("reset rule: %q", reset)
	}
}

// Code blocks and tables, which scroll sideways on a phone, can be reached
// with the keyboard.
func TestRenderedScrollersAreFocusable(t *testing.T) {
	r, err := render([]byte("# T\n\n```go\npackage main\n```\n\n```\nplain\n```\n\n| a | b |\n| - | - |\n| 1 | 2 |\n"))
	if err != nil {
		t.Fatal(err)
	}
	html := string(r.HTML)
	if n := strings.Count(html, `<pre tabindex="0"`); n != 2 {
		t.Errorf("%d of 2 code blocks are focusable:\n%s", n, html)
	}
	if !strings.Contains(html, `<table tabindex="0">`) {
		t.Errorf("table not focusable:\n%s", html)
	}
}

// A heading's text in the table of contents is plain text: the
// typographer's curly quotes are characters, not entities that would be
// escaped a second time on the page.
func TestTOCTextIsPlain(t *testing.T) {
	r, err := render([]byte("## Why \"pick two\" misleads -- and what's left\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.TOC) != 1 {
		t.Fatalf("TOC %+v", r.TOC)
	}
	if got, want := r.TOC[0].Text, "Why \u201cpick two\u201d misleads \u2013 and what\u2019s left"; got != want {
		t.Errorf("TOC text %q, want %q", got, want)
	}
}
