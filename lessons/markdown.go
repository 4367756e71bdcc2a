package lessons

import (
	"bytes"
	stdhtml "html"
	"html/template"
	"regexp"
	"strings"

	chromahtml "github.com/alecthomas/chroma/v2/formatters/html"
	"github.com/alecthomas/chroma/v2/styles"
	"github.com/yuin/goldmark"
	highlighting "github.com/yuin/goldmark-highlighting/v2"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
)

// md renders content Markdown: GFM tables, heading anchors, and code
// highlighted on the server with CSS classes (no inline styles, so the
// page's CSP holds and light and dark themes both work). Raw HTML is
// allowed because the content is ours and is reviewed like code.
var md = goldmark.New(
	goldmark.WithExtensions(
		extension.GFM,
		extension.Typographer,
		highlighting.NewHighlighting(
			highlighting.WithFormatOptions(chromahtml.WithClasses(true), chromahtml.ClassPrefix("hl-")),
			highlighting.WithGuessLanguage(false),
		),
	),
	goldmark.WithParserOptions(parser.WithAutoHeadingID()),
	goldmark.WithRendererOptions(html.WithUnsafe()),
)

// rendered is a Markdown document after parsing and rendering.
type rendered struct {
	HTML     template.HTML
	TOC      []Heading
	GoBlocks []CodeBlock
	Images   []string
	Text     string
}

func render(src []byte) (rendered, error) {
	doc := md.Parser().Parse(text.NewReader(src))
	var r rendered
	var plain strings.Builder
	err := ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			if n.Level == 2 || n.Level == 3 {
				id, _ := n.AttributeString("id")
				idStr, _ := id.([]byte)
				r.TOC = append(r.TOC, Heading{Level: n.Level, ID: string(idStr), Text: nodeText(n, src)})
			}
		case *ast.FencedCodeBlock:
			lang := ""
			if n.Info != nil {
				lang = string(n.Info.Segment.Value(src))
			}
			if lang == "go" || strings.HasPrefix(lang, "go ") {
				var code bytes.Buffer
				lines := n.Lines()
				for i := 0; i < lines.Len(); i++ {
					seg := lines.At(i)
					code.Write(seg.Value(src))
				}
				line := 1 + bytes.Count(src[:n.Lines().At(0).Start], []byte("\n"))
				r.GoBlocks = append(r.GoBlocks, CodeBlock{Info: lang, Code: code.String(), Line: line})
			}
		case *ast.Image:
			r.Images = append(r.Images, string(n.Destination))
		case *ast.Text:
			plain.Write(n.Segment.Value(src))
			plain.WriteByte(' ')
		}
		return ast.WalkContinue, nil
	})
	if err != nil {
		return r, err
	}
	var buf bytes.Buffer
	if err := md.Renderer().Render(&buf, src, doc); err != nil {
		return r, err
	}
	out := strings.ReplaceAll(buf.String(), "<img ", `<img loading="lazy" `)
	out = focusableCode(out)
	r.HTML = template.HTML(out) // #nosec: our own reviewed content
	r.Text = plain.String()
	return r, nil
}

// focusableCode puts code blocks and tables in the tab order: a long line
// or a wide table scrolls sideways, and a keyboard user must be able to
// reach it to scroll.
func focusableCode(html string) string {
	html = strings.ReplaceAll(html, "<table>", `<table tabindex="0">`)
	html = strings.ReplaceAll(html, "<pre><code", `<pre tabindex="0"><code`)
	return strings.ReplaceAll(html, `<pre class="hl-chroma"`, `<pre tabindex="0" class="hl-chroma"`)
}

var paragraphWrap = regexp.MustCompile(`^<p>(.*)</p>\n?$`)

// renderInline renders a short Markdown string (a pitfall, a card's back,
// an explanation) without the surrounding paragraph when it is only one.
func renderInline(s string) (template.HTML, error) {
	var buf bytes.Buffer
	if err := md.Convert([]byte(s), &buf); err != nil {
		return "", err
	}
	out := buf.String()
	if m := paragraphWrap.FindStringSubmatch(out); m != nil && !strings.Contains(m[1], "<p>") {
		out = m[1]
	}
	return template.HTML(out), nil // #nosec: our own reviewed content
}

// Markdown renders Markdown written with the workbook's code (an
// exercise's contract, say) as the lessons are rendered.
func Markdown(s string) (template.HTML, error) {
	var buf bytes.Buffer
	if err := md.Convert([]byte(s), &buf); err != nil {
		return "", err
	}
	return template.HTML(focusableCode(buf.String())), nil // #nosec: our own reviewed content
}

func nodeText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if t, ok := c.(*ast.Text); ok && entering {
			b.Write(t.Segment.Value(src))
		}
		if s, ok := c.(*ast.String); ok && entering {
			// The typographer's quotes and dashes are HTML entities
			// (&ldquo;); a heading's text is plain and escaped once, later.
			b.WriteString(stdhtml.UnescapeString(string(s.Value)))
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

// HighlightCSS is the stylesheet for highlighted code: a light theme, and a
// dark one for readers whose system prefers it. The dark theme leaves some
// token kinds to its base text colour where the light one names a colour,
// so in the dark every token the light theme styles is first reset, or dark
// code keeps the light theme's near-black text on a dark background.
func HighlightCSS() string {
	f := chromahtml.New(chromahtml.WithClasses(true), chromahtml.ClassPrefix("hl-"))
	var light, dark bytes.Buffer
	_ = f.WriteCSS(&light, styles.Get("github"))
	_ = f.WriteCSS(&dark, styles.Get("github-dark"))
	return "/* generated from chroma's github and github-dark styles */\n" + light.String() +
		"\n@media (prefers-color-scheme: dark) {\n" + darkReset(light.String()) + dark.String() + "\n}\n"
}

// tokenRule finds the token classes a chroma stylesheet colours.
var tokenRule = regexp.MustCompile(`(?m)^/\* \w+ \*/ \.hl-chroma (\.hl-[a-z0-9]+) \{[^}]*\b(?:color|background-color):`)

// darkReset is one rule that hands every token class the light stylesheet
// colours back to the dark code's own text colour and background.
func darkReset(light string) string {
	var sel []string
	for _, m := range tokenRule.FindAllStringSubmatch(light, -1) {
		sel = append(sel, ".hl-chroma "+m[1])
	}
	if len(sel) == 0 {
		return ""
	}
	return strings.Join(sel, ", ") + " { color: inherit; background-color: transparent }\n"
}

func templateHTML(s string) template.HTML { return template.HTML(s) } // #nosec: built from rendered content
