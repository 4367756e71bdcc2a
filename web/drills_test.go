package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/sdworkbook/workbook/drills"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// drillForm opens a fresh problem of kind and returns it, as the page's
// seed regenerates it, with the page's hidden fields.
func drillForm(t *testing.T, b *browser, kind string) (drills.Problem, url.Values) {
	t.Helper()
	resp := b.get("/drills/" + kind)
	wantStatus(t, resp, http.StatusOK)
	d := doc(t, resp)
	form := d.Find(`[data-testid="drill-form"]`)
	seedText, _ := form.Find(`input[name="seed"]`).Attr("value")
	seed, err := strconv.ParseInt(seedText, 10, 64)
	if err != nil {
		t.Fatalf("seed %q: %v", seedText, err)
	}
	k, _ := drills.ByID(kind)
	p := k.Generate(seed)
	if got := testid(d, "drill-prompt"); !strings.Contains(got, p.Prompt[0]) {
		t.Fatalf("the page shows %q, not the problem of seed %d", got, seed)
	}
	for _, a := range p.Asks {
		if form.Find(`input[name="`+a.ID+`"]`).Length() != 1 || d.Find(`label[for="est-`+a.ID+`"]`).Length() != 1 {
			t.Fatalf("no labelled field for %s", a.ID)
		}
	}
	return p, url.Values{"seed": {seedText}}
}

// answer fills every estimate: right ones at the answer, others at half.
func answer(p drills.Problem, v url.Values, right bool) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = vs
	}
	for _, a := range p.Asks {
		x := a.Answer
		if !right {
			x /= 2
			if a.Unit.Exact {
				x = a.Answer - 1
			}
		}
		out.Set(a.ID, drills.Num(x))
	}
	return out
}

func drillRows(t *testing.T, a *testApp) int {
	t.Helper()
	var n int
	if err := a.store.SQL().QueryRowContext(context.Background(), "SELECT COUNT(*) FROM drill_attempts").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDrillPages: anyone lists and practises every kind; an unknown kind
// is a 404; estimates that do not read come back with what was typed and a
// message naming the field; a signed-in learner's attempts are saved and
// the progress page shows attempts, streak and best time; a stored
// attempt shows again to its owner only.
func TestDrillPages(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, nil)
			anon := newBrowser(t, a)

			resp := anon.get("/drills")
			wantStatus(t, resp, http.StatusOK)
			d := doc(t, resp)
			for _, k := range drills.Kinds() {
				if d.Find(`a[href="/drills/`+k.ID+`"]`).Length() != 1 {
					t.Errorf("/drills does not link %s", k.ID)
				}
			}
			if d.Find(`nav a[href="/drills"][aria-current="page"]`).Length() != 1 {
				t.Error("the navigation has no current Drills link")
			}
			wantStatus(t, anon.get("/drills/no-such-kind"), http.StatusNotFound)

			// Fresh numbers at every visit; a visitor is graded, nothing kept.
			p1, _ := drillForm(t, anon, "peak-qps")
			p, hidden := drillForm(t, anon, "peak-qps")
			if p1.Seed == p.Seed {
				t.Errorf("two visits gave the same seed %d", p.Seed)
			}
			resp = anon.post("/drills/peak-qps", answer(p, hidden, true))
			wantStatus(t, resp, http.StatusOK)
			d = doc(t, resp)
			if got := testid(d, "drill-score"); got != "2 of 2 within 15%" {
				t.Errorf("score %q", got)
			}
			if !strings.Contains(testid(d, "drill-solution"), p.Asks[1].Text()) {
				t.Errorf("the worked solution does not give %q", p.Asks[1].Text())
			}
			if d.Find(`[data-testid="another"][href="/drills/peak-qps"]`).Length() != 1 {
				t.Error("no link to another problem")
			}
			if n := drillRows(t, a); n != 0 {
				t.Fatalf("a visitor's attempt was stored (%d rows)", n)
			}

			learner := MustRegister(t, a, "drills@example.org")
			badInput(t, a, learner)
			savedAttempts(t, a, learner)
		})
	}
}

// badInput: an estimate that does not read re-shows the same problem with
// the typed values and a message by the field, and stores nothing.
func badInput(t *testing.T, a *testApp, b *browser) {
	t.Helper()
	p, hidden := drillForm(t, b, "storage-per-year")
	form := answer(p, hidden, true)
	form.Set("per_year", "12 XB")
	resp := b.post("/drills/storage-per-year", form)
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	d := doc(t, resp)
	if msg := testid(d, "error-per_year"); !strings.Contains(msg, `"xb"`) {
		t.Errorf("message by per_year: %q", msg)
	}
	if testid(d, "error-per_day") != "" {
		t.Error("the field that read has a message too")
	}
	for id, want := range map[string]string{"per_year": "12 XB", "per_day": form.Get("per_day"), "seed": hidden.Get("seed")} {
		if got, _ := d.Find(`[data-testid="drill-form"] input[name="` + id + `"]`).Attr("value"); got != want {
			t.Errorf("%s re-shown as %q, want %q", id, got, want)
		}
	}
	if inv, _ := d.Find(`#est-per_year`).Attr("aria-invalid"); inv != "true" {
		t.Error("the bad field is not marked invalid")
	}
	// A seed that does not read gives a new problem, and a message.
	resp = b.post("/drills/storage-per-year", url.Values{"seed": {"-3"}, "per_day": {"1"}, "per_year": {"1"}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if testid(doc(t, resp), "form-message") == "" {
		t.Error("no message for a problem that could not be read")
	}
	if n := drillRows(t, a); n != 0 {
		t.Fatalf("bad input stored %d attempts", n)
	}
}

// savedAttempts: wrong, right, right on two kinds make a streak of 2 and
// a best time from the clock; the attempt page is the owner's only.
func savedAttempts(t *testing.T, a *testApp, b *browser) {
	t.Helper()
	steps := []struct {
		kind  string
		right bool
		took  time.Duration
	}{{"peak-qps", true, 50 * time.Second}, {"peak-qps", false, 20 * time.Second},
		{"cache-size", true, 95 * time.Second}, {"peak-qps", true, 40 * time.Second}}
	var last url.Values
	for _, s := range steps {
		p, hidden := drillForm(t, b, s.kind)
		a.advance(s.took)
		last = answer(p, hidden, s.right)
		resp := b.post("/drills/"+s.kind, last)
		wantStatus(t, resp, http.StatusOK)
		if testid(doc(t, resp), "drill-saved") == "" {
			t.Fatal("a signed-in attempt does not say it was saved")
		}
	}
	resp := b.get("/progress")
	wantStatus(t, resp, http.StatusOK)
	d := doc(t, resp)
	for id, want := range map[string]string{"drill-streak": "2", "drill-attempts": "4", "drill-best": "40 s"} {
		if got := testid(d, id); got != want {
			t.Errorf("progress %s = %q, want %q", id, got, want)
		}
	}
	row := d.Find(`[data-testid="drill-row-peak-qps"]`)
	for id, want := range map[string]string{"attempts": "3", "correct": "2", "streak": "1", "best": "40 s"} {
		if got := strings.TrimSpace(row.Find(`[data-testid="` + id + `"]`).Text()); got != want {
			t.Errorf("peak-qps %s = %q, want %q", id, got, want)
		}
	}
	if got := strings.TrimSpace(d.Find(`[data-testid="drill-row-cache-size"] [data-testid="best"]`).Text()); got != "1 min 35 s" {
		t.Errorf("cache-size best %q", got)
	}
	resp = b.get("/drills")
	wantStatus(t, resp, http.StatusOK)
	if got := strings.Join(strings.Fields(doc(t, resp).Find(`[data-testid="drill-peak-qps"] [data-testid="drill-figures"]`).Text()), " "); got != "2 of 3 right · streak 1" {
		t.Errorf("the drills page shows %q for peak-qps", got)
	}
	href, ok := d.Find(`[data-testid="drill-recent"] a`).First().Attr("href")
	if !ok {
		t.Fatal("no recent attempt linked")
	}
	resp = b.get(href)
	wantStatus(t, resp, http.StatusOK)
	if got := testid(doc(t, resp), "drill-score"); got != "2 of 2 within 15%" {
		t.Errorf("the stored attempt re-graded as %q", got)
	}
	// The time counts once: the same problem sent again is saved with none.
	a.advance(time.Second)
	wantStatus(t, b.post("/drills/peak-qps", last), http.StatusOK)
	resp = b.get("/progress")
	wantStatus(t, resp, http.StatusOK)
	d = doc(t, resp)
	if got := d.Find(`[data-testid="drill-recent"] li`).First().Text(); !strings.Contains(got, "no time recorded") {
		t.Errorf("a problem sent twice took %q the second time", strings.Join(strings.Fields(got), " "))
	}
	if got := testid(d, "drill-best"); got != "40 s" {
		t.Errorf("best time %q after a second sending", got)
	}
	other := MustRegister(t, a, "other-drills@example.org")
	theirs, missing := other.get(href), other.get("/drills/attempts/999999")
	wantStatus(t, theirs, http.StatusNotFound)
	wantStatus(t, missing, http.StatusNotFound)
	if a, b := errorPageText(t, theirs), errorPageText(t, missing); a != b || a == "" {
		t.Error("another learner's attempt is not the same page as a missing one")
	}
}

// errorPageText is an error page's words without its request id.
func errorPageText(t *testing.T, resp *http.Response) string {
	t.Helper()
	page := doc(t, resp).Find(`[data-testid="error-page"]`)
	page.Find("code").Remove()
	return strings.Join(strings.Fields(page.Text()), " ")
}

// TestDrillAttemptBurstKeepsTheLimit: a burst of attempts stores exactly the per-minute
// limit; the rest are graded, answered 429 and not kept; a minute later
// attempts are kept again.
func TestDrillAttemptBurstKeepsTheLimit(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, nil)
			b := MustRegister(t, a, "burst@example.org")
			p, hidden := drillForm(t, b, "limiter-memory")
			form := answer(p, hidden, true)
			var (
				mu    sync.Mutex
				codes = map[int]int{}
				wg    sync.WaitGroup
			)
			for range drillLimits.PerMinute + 10 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req, _ := http.NewRequest(http.MethodPost, a.URL+"/drills/limiter-memory", strings.NewReader(form.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("Sec-Fetch-Site", "same-origin")
					resp, err := b.c.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					var notice string
					if d, err := goquery.NewDocumentFromReader(resp.Body); err == nil {
						notice = testid(d, "drill-notice")
					}
					resp.Body.Close()
					mu.Lock()
					codes[resp.StatusCode]++
					if resp.StatusCode == http.StatusTooManyRequests && !strings.Contains(notice, "not saved") {
						t.Errorf("a refused attempt says %q", notice)
					}
					mu.Unlock()
				}()
			}
			wg.Wait()
			if codes[http.StatusOK] != drillLimits.PerMinute || codes[http.StatusTooManyRequests] != 10 {
				t.Fatalf("answers %v, want %d × 200 and 10 × 429", codes, drillLimits.PerMinute)
			}
			if n := drillRows(t, a); n != drillLimits.PerMinute {
				t.Fatalf("%d attempts stored, want %d", n, drillLimits.PerMinute)
			}
			a.advance(61 * time.Second)
			wantStatus(t, b.post("/drills/limiter-memory", form), http.StatusOK)
		})
	}
}

// drillRouteCases are the authorization test's rows of the drills: ada
// owns a stored attempt.
func drillRouteCases(t *testing.T, a *testApp, w *authzWorld) []routeCase {
	t.Helper()
	now := time.Now()
	at := store.DrillAttempt{UserID: w.ids["ada"], Kind: "peak-qps", Seed: 7, Answers: `{"average":"1","peak":"2"}`,
		Asked: 2, StartedAt: now.Add(-time.Minute), FinishedAt: now, DurationMS: 60000}
	if err := a.store.AddDrillAttempt(context.Background(), &at, drillLimits); err != nil {
		t.Fatal(err)
	}
	attempt := "/drills/attempts/" + strconv.FormatInt(at.ID, 10)
	return []routeCase{
		{method: "GET", pattern: "/drills", policy: public, path: "/drills"},
		{method: "GET", pattern: "/drills/:kind", policy: public, path: "/drills/peak-qps", unknown: "/drills/no-such-kind"},
		{method: "POST", pattern: "/drills/:kind", policy: public, path: "/drills/peak-qps",
			form: url.Values{"seed": {"7"}, "average": {"2.3k"}, "peak": {"7k"}}, unknown: "/drills/no-such-kind"},
		{method: "GET", pattern: "/drills/attempts/:id", policy: owner, path: attempt, unknown: "/drills/attempts/999999"},
	}
}

// TestDrillIssuedProblemsAreBounded: a learner's shown problems are
// remembered up to a bound; past it the oldest have no time, and an
// attempt at one is still graded and saved.
func TestDrillIssuedProblemsAreBounded(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, nil)
			b := MustRegister(t, a, "reload@example.org")
			first, hidden := drillForm(t, b, "peak-qps")
			for range maxIssuedDrills {
				wantStatus(t, b.get("/drills/peak-qps"), http.StatusOK)
			}
			a.advance(30 * time.Second)
			resp := b.post("/drills/peak-qps", answer(first, hidden, true))
			wantStatus(t, resp, http.StatusOK)
			resp = b.get("/progress")
			wantStatus(t, resp, http.StatusOK)
			d := doc(t, resp)
			if got := d.Find(`[data-testid="drill-recent"] li`).First().Text(); !strings.Contains(got, "no time recorded") {
				t.Errorf("a problem shown %d problems ago took %q", maxIssuedDrills, strings.Join(strings.Fields(got), " "))
			}
			if testid(d, "drill-attempts") != "1" {
				t.Errorf("attempts %q, want 1", testid(d, "drill-attempts"))
			}
		})
	}
}
