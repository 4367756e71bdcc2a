package interviews

import (
	"bytes"
	"html/template"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// answerMD renders learners' Markdown: GFM, and no raw HTML (goldmark
// omits it) nor links to dangerous URLs (javascript: and the like), since
// an answer is shown to its learner and their instructor.
var answerMD = goldmark.New(goldmark.WithExtensions(extension.GFM))

// RenderAnswer renders a learner's Markdown answer to safe HTML; should
// rendering fail, the text is shown escaped in a paragraph.
func RenderAnswer(s string) template.HTML {
	var buf bytes.Buffer
	if err := answerMD.Convert([]byte(s), &buf); err != nil {
		return template.HTML("<p>" + template.HTMLEscapeString(s) + "</p>") // #nosec: escaped
	}
	return template.HTML(buf.String()) // #nosec: goldmark without raw HTML or unsafe links
}
