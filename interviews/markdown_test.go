package interviews

import (
	"strings"
	"testing"
)

func TestRenderAnswer(t *testing.T) {
	got := string(RenderAnswer("- **cache** hot links\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))"))
	if !strings.Contains(got, "<strong>cache</strong>") {
		t.Errorf("Markdown not rendered: %s", got)
	}
	if strings.Contains(got, "<script") || strings.Contains(got, "javascript:") {
		t.Errorf("unsafe HTML kept: %s", got)
	}
}

// FuzzRenderAnswer checks that no answer renders raw HTML elements that
// run code, nor a javascript: link or image.
func FuzzRenderAnswer(f *testing.F) {
	f.Add("<script>alert(1)</script>")
	f.Add("[x](javascript:alert(1))")
	f.Add("<img src=x onerror=alert(1)>")
	f.Add("| a | b |\n|---|---|\n| <b>1</b> | `2` |")
	f.Fuzz(func(t *testing.T, s string) {
		out := strings.ToLower(string(RenderAnswer(s)))
		for _, bad := range []string{"<script", "<iframe", "<object", "<embed", "<svg", "<style", "href=\"javascript:", "src=\"javascript:", "href=\"vbscript:"} {
			if strings.Contains(out, bad) {
				t.Fatalf("rendered %q: %s", bad, out)
			}
		}
	})
}
