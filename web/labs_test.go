package web

import (
	"bufio"
	"context"
	"github.com/PuerkitoBio/goquery"
	"github.com/sdworkbook/workbook/labs/breaker"
	"github.com/sdworkbook/workbook/labs/cache"
	"github.com/sdworkbook/workbook/labs/limiter"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labhttp"
)

// counterLab is a small lab that exercises the web layer's lab API.
type counterLab struct{}

type counterInst struct {
	hits atomic.Int64
	env  labs.Env
}

func (counterLab) Info() labs.Info {
	return labs.Info{ID: "counter", Title: "Counter", Summary: "Counts.", Lesson: "cap", Explain: "It counts.",
		Try: []string{"Count."}, Charts: []labs.Chart{{Title: "Hits", Series: []string{"hits"}, Kind: "count"}}}
}

func (counterLab) Fields() []labs.Field {
	lo, hi := labs.Range(1, 10)
	return []labs.Field{{Name: "step", Label: "Step", Type: labs.Int, Default: 1, Min: lo, Max: hi, Help: "How much a hit adds."}}
}

func (counterLab) Check(labs.Design) labs.FieldErrors { return nil }

func (counterLab) New(_ context.Context, env labs.Env, _ labs.Design) (labs.Instance, error) {
	return &counterInst{env: env}, nil
}

func (c *counterInst) Handler() http.Handler {
	rt := labhttp.NewRouter(nil)
	rt.HandleFunc("POST /hit/{n}", func(w http.ResponseWriter, r *http.Request) {
		n := r.PathValue("n")
		c.hits.Add(1)
		c.env.Metrics.Count("hits", 1)
		c.env.Metrics.Eventf("info", "hit %s", n)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"hit":"`+n+`"}`)
	})
	return rt
}

func (c *counterInst) Hit(context.Context, string) (int, error) {
	c.hits.Add(1)
	c.env.Metrics.Count("hits", 1)
	return http.StatusOK, nil
}

func (c *counterInst) State(context.Context) (any, error) {
	return map[string]int64{"hits": c.hits.Load()}, nil
}
func (c *counterInst) Close(context.Context) error { return nil }

func TestLabAPI(t *testing.T) {
	a := MustStartLabs(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, counterLab{})
	anon := newBrowser(t, a)
	resp := anon.api("GET", "/api/labs", "")
	wantStatus(t, resp, http.StatusOK)
	if body := decodeJSON(t, resp); len(body["labs"].([]any)) != 1 {
		t.Errorf("labs %v", body)
	}
	wantStatus(t, anon.api("POST", "/api/labs/counter/instances", `{}`), http.StatusUnauthorized)
	b := MustRegister(t, a, "labber@example.org")
	base := labAPILaunch(t, b)
	labAPIRoutes(t, a, b, base)
	labAPIReconfigure(t, b, base)
	labAPILoad(t, b, base)
	labAPIEvents(t, a, b, base)
	labAPISlots(t, b, base)
}

// labAPILaunch: a bad design is a 422 naming its field, an unknown lab a
// 404, a good design 201; it returns the instance's API path.
func labAPILaunch(t *testing.T, b *browser) string {
	t.Helper()
	resp := b.api("POST", "/api/labs/counter/instances", `{"step": 99}`)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if f := decodeJSON(t, resp)["error"].(map[string]any)["fields"].(map[string]any); f["step"] == nil {
		t.Errorf("422 does not name the field: %v", f)
	}
	wantStatus(t, b.api("POST", "/api/labs/nope/instances", `{}`), http.StatusNotFound)
	resp = b.api("POST", "/api/labs/counter/instances", `{"step": 2}`)
	wantStatus(t, resp, http.StatusCreated)
	inst := decodeJSON(t, resp)
	id, _ := inst["id"].(string)
	if id == "" || inst["design"].(map[string]any)["step"].(float64) != 2 {
		t.Fatalf("launch answered %v", inst)
	}
	return "/api/labs/counter/instances/" + id

}

// labAPIRoutes: the lab's own route, the instance, and someone else's view
// of it.
func labAPIRoutes(t *testing.T, a *testApp, b *browser, base string) {
	t.Helper()
	resp := b.api("POST", base+"/hit/7", "")
	wantStatus(t, resp, http.StatusOK)
	if got := decodeJSON(t, resp)["hit"]; got != "7" {
		t.Errorf("lab route answered %v", got)
	}
	wantStatus(t, b.api("POST", base+"/nothing-here", ""), http.StatusNotFound)
	resp = b.api("GET", base, "")
	wantStatus(t, resp, http.StatusOK)
	if st := decodeJSON(t, resp)["state"].(map[string]any); st["hits"].(float64) != 1 {
		t.Errorf("state %v", st)
	}
	other := MustRegister(t, a, "other-labber@example.org")
	for _, m := range []string{"GET", "DELETE", "PATCH"} {
		wantStatus(t, other.api(m, base, `{}`), http.StatusNotFound)
	}
	wantStatus(t, other.api("POST", base+"/hit/1", ""), http.StatusNotFound)
	wantStatus(t, other.api("GET", base+"/events", ""), http.StatusNotFound)
	wantStatus(t, b.api("GET", strings.Replace(base, "/counter/", "/limiter/", 1), ""), http.StatusNotFound)

}

// labAPIReconfigure: reconfiguring keeps the id.
func labAPIReconfigure(t *testing.T, b *browser, base string) {
	t.Helper()
	id := base[strings.LastIndex(base, "/")+1:]
	wantStatus(t, b.api("PATCH", base, `{"step": 0}`), http.StatusUnprocessableEntity)
	resp := b.api("PATCH", base, `{"step": 5}`)
	wantStatus(t, resp, http.StatusOK)
	if j := decodeJSON(t, resp); j["id"] != id || j["design"].(map[string]any)["step"].(float64) != 5 {
		t.Errorf("patched %v", j)
	}

}

// labAPILoad: load runs are bounded and summarised.
func labAPILoad(t *testing.T, b *browser, base string) {
	t.Helper()
	resp := b.api("POST", base+"/load", `{"requests": 100000, "concurrency": 5, "rate_per_s": 0, "keys": 1}`)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if f := decodeJSON(t, resp)["error"].(map[string]any)["fields"].(map[string]any); f["requests"] == nil {
		t.Errorf("load 422 fields %v", f)
	}
	wantStatus(t, b.api("POST", base+"/load", `{"requests": 5, "surprise": 1}`), http.StatusUnprocessableEntity)
	resp = b.api("POST", base+"/load", `{"requests": 200, "concurrency": 8, "rate_per_s": 0, "keys": 3}`)
	wantStatus(t, resp, http.StatusOK)
	if sum := decodeJSON(t, resp); sum["requests"].(float64) != 200 || sum["by_status"].(map[string]any)["200"].(float64) != 200 {
		t.Errorf("load summary %v", sum)
	}

	resp = b.api("POST", base+"/load", `{"requests": 5, "concurrency": 1, "keys": 3, "distribution": "pareto"}`)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if f := decodeJSON(t, resp)["error"].(map[string]any)["fields"].(map[string]any); f["distribution"] == nil {
		t.Errorf("an unknown distribution: fields %v", f)
	}
	wantStatus(t, b.api("POST", base+"/load", `{"requests": 50, "concurrency": 4, "keys": 100, "distribution": "zipf"}`), http.StatusOK)

}

// labAPIEvents: the event stream opens with the charts and history, then
// streams.
func labAPIEvents(t *testing.T, a *testApp, b *browser, base string) {
	t.Helper()
	req, _ := http.NewRequest("GET", a.URL+base+"/events", nil)
	ctx, cancel := context.WithCancel(context.Background())
	req = req.WithContext(ctx)
	resp := b.do(req)
	wantStatus(t, resp, http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("events content type %q", ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	seen := map[string]bool{}
	for sc.Scan() && !(seen["init"] && seen["point"]) {
		if ev, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			seen[ev] = true
		}
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok && !seen["point"] && strings.Contains(d, `"charts"`) && !strings.Contains(d, `"Hits"`) {
			t.Errorf("init lacks the charts: %s", d)
		}
	}
	cancel()
	if !seen["init"] || !seen["point"] {
		t.Errorf("stream events seen: %v", seen)
	}

}

// labAPISlots: three instances at most; then stop frees a slot.
func labAPISlots(t *testing.T, b *browser, base string) {
	t.Helper()
	var ids []string
	for i := 0; i < 2; i++ {
		resp := b.api("POST", "/api/labs/counter/instances", `{}`)
		wantStatus(t, resp, http.StatusCreated)
		ids = append(ids, decodeJSON(t, resp)["id"].(string))
	}
	wantStatus(t, b.api("POST", "/api/labs/counter/instances", `{}`), http.StatusTooManyRequests)
	wantStatus(t, b.api("DELETE", base, ""), http.StatusNoContent)
	wantStatus(t, b.api("GET", base, ""), http.StatusNotFound)
	wantStatus(t, b.api("POST", "/api/labs/counter/instances", `{}`), http.StatusCreated)
}

func TestLabPages(t *testing.T) {
	a := MustStartLabs(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, counterLab{})
	anon := newBrowser(t, a)
	resp := anon.get("/labs")
	wantStatus(t, resp, http.StatusOK)
	if doc(t, resp).Find(`[data-testid="lab-counter"]`).Length() != 1 {
		t.Error("labs index does not list the lab")
	}
	d := doc(t, anon.get("/labs/counter"))
	if d.Find(`[data-testid="launch-form"]`).Length() != 0 {
		t.Error("anonymous visitor sees the launch form")
	}
	b := MustRegister(t, a, "pages@example.org")
	resp = b.post("/labs/counter", url.Values{"step": {"77"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	d = doc(t, resp)
	if msg := testid(d, "error-step"); msg == "" {
		t.Error("no message beside the bad field")
	}
	if v, _ := d.Find("#f-step").Attr("value"); v != "77" {
		t.Errorf("the form lost the input: %q", v)
	}
	resp = b.post("/labs/counter", url.Values{"step": {"3"}})
	wantStatus(t, resp, http.StatusSeeOther)
	d = doc(t, b.get("/labs/counter"))
	panel := d.Find(`[data-testid="instance"]`)
	if panel.Length() != 1 {
		t.Fatalf("%d instance panels", panel.Length())
	}
	id, _ := panel.Attr("data-id")
	charts, _ := panel.Attr("data-charts")
	if id == "" || !strings.Contains(charts, "Hits") {
		t.Errorf("panel id %q charts %q", id, charts)
	}
	if d.Find(`script[src*="uplot"]`).Length() != 1 || d.Find(`script[src*="labs.js"]`).Length() != 1 {
		t.Error("lab page does not load uPlot and the lab script")
	}
	wantStatus(t, b.post("/labs/counter/instances/"+id+"/stop", nil), http.StatusSeeOther)
	if doc(t, b.get("/labs/counter")).Find(`[data-testid="instance"]`).Length() != 0 {
		t.Error("stopped instance still shown")
	}
}

// Every lab link on every lesson page leads to a lab this server runs.
func TestLessonLabLinksResolve(t *testing.T) {
	a := MustStartLabs(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, limiter.Lab, breaker.Lab, cache.Lab)
	b := newBrowser(t, a)
	links := 0
	for _, l := range a.app.catalog().Lessons {
		d := doc(t, b.get("/lessons/"+l.Slug))
		d.Find(`.practice-card.lab`).Each(func(_ int, sel *goquery.Selection) {
			links++
			href, _ := sel.Attr("href")
			if resp := b.get(href); resp.StatusCode != http.StatusOK {
				t.Errorf("%s links %s: %d", l.Slug, href, resp.StatusCode)
			}
		})
	}
	if links < 5 {
		t.Errorf("only %d lab links found on lesson pages", links)
	}
	resp := b.get("/labs/shop")
	wantStatus(t, resp, http.StatusNotFound)
	if !strings.Contains(doc(t, resp).Text(), "not available on this server yet") {
		t.Error("a planned lab's page does not say it is not here yet")
	}
}
