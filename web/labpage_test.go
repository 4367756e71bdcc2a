package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// With no instance the lab page reads top down: what the lab is, then the
// form. Once one runs, the instances come first and the introduction and
// the form are folded, unless the form has something to say; each poke
// carries its own response box, and the instance its key number.
func TestLabPageRunningFirst(t *testing.T) {
	a := MustStartLabs(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, limiter.Lab)
	b := MustRegister(t, a, "ada@example.org")
	d := doc(t, b.get("/labs/limiter"))
	if d.Find(`[data-testid="about-fold"], [data-testid="launch-fold"]`).Length() != 0 || d.Find(`[data-testid="launch-form"]`).Length() != 1 {
		t.Error("without an instance the page folds something away")
	}
	wantStatus(t, b.api("POST", "/api/labs/limiter/instances", `{}`), http.StatusCreated)
	d = doc(t, b.get("/labs/limiter"))
	var order []string
	d.Find(`[data-testid="instance"], [data-testid="about-fold"], [data-testid="launch-fold"]`).Each(func(_ int, s *goquery.Selection) {
		id, _ := s.Attr("data-testid")
		order = append(order, id)
	})
	if strings.Join(order, " ") != "instance about-fold launch-fold" {
		t.Errorf("the page's order: %v, want the instance, then the folds", order)
	}
	if _, open := d.Find(`[data-testid="launch-fold"]`).Attr("open"); open {
		t.Error("the form is open while an instance runs")
	}
	pokes := d.Find(`[data-testid="instance"] form.poke`)
	if pokes.Length() == 0 || pokes.Find(`[data-testid="response"]`).Length() != pokes.Length() {
		t.Errorf("%d pokes, %d response boxes inside them", pokes.Length(), pokes.Find(`[data-testid="response"]`).Length())
	}
	if testid(d, "key-number") == "" {
		t.Error("no key number beside the charts")
	}
	resp := b.post("/labs/limiter", url.Values{"limit": {"-5"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if _, open := doc(t, resp).Find(`[data-testid="launch-fold"]`).Attr("open"); !open {
		t.Error("a form with an error stays folded")
	}
}
