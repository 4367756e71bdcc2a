package web

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"
	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// threeAssignments is a class with two exercises and a quiz set, and a
// learner with a long address in it; it returns the class page's path.
func threeAssignments(t *testing.T, a *testApp) (teacher *browser, path string) {
	t.Helper()
	ctx := context.Background()
	teacher = MustAccount(t, a, "teach@example.org", store.RoleInstructor)
	MustRegister(t, a, "a.learner.with.a.long.address@university.example.edu")
	t1, _ := a.store.UserByEmail(ctx, "teach@example.org")
	l1, _ := a.store.UserByEmail(ctx, "a.learner.with.a.long.address@university.example.edu")
	cl, err := a.store.CreateClass(ctx, t1.ID, "Spring cohort", a.clock())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store.JoinClass(ctx, cl.ID, l1.ID, a.clock()); err != nil {
		t.Fatal(err)
	}
	for _, as := range []store.Assignment{
		{ClassID: cl.ID, Kind: store.AssignExercise, Ref: limiterExercise},
		{ClassID: cl.ID, Kind: store.AssignExercise, Ref: "limiter-build"},
		{ClassID: cl.ID, Kind: store.AssignQuiz, Ref: "cap"},
	} {
		as.CreatedAt = a.clock()
		if err := a.store.AddAssignment(ctx, &as); err != nil {
			t.Fatal(err)
		}
	}
	return teacher, "/classes/" + strconv.FormatInt(cl.ID, 10)
}

// The gradebook's columns carry short titles with the full one to hover
// (and for screen readers); removing an assignment asks first; the add
// form offers only what is not assigned yet; the total closes each row.
func TestGradebookColumnsAndOptions(t *testing.T) {
	a := MustStartGrading(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, limiter.Lab)
	teacher, path := threeAssignments(t, a)
	d := doc(t, teacher.get(path))
	cols := d.Find(`[data-testid="gb-col"]`)
	if cols.Length() != 3 {
		t.Fatalf("%d assignment columns, want 3", cols.Length())
	}
	for i := range cols.Length() {
		abbr := cols.Eq(i).Find("abbr")
		full, _ := abbr.Attr("title")
		if full == "" || utf8.RuneCountInString(abbr.Text()) > 17 || strings.Contains(full, "…") {
			t.Errorf("column %d: %q with full title %q", i, abbr.Text(), full)
		}
	}
	if got := d.Find(`[data-testid="gb-row"] td`).Last().AttrOr("data-testid", ""); got != "gb-total" {
		t.Errorf("the row's last cell is %q, want the total", got)
	}
	d.Find(`[data-testid="assignments"] li`).Each(func(_ int, li *goquery.Selection) {
		title := li.Find("a").First().Text()
		if msg, _ := li.Find(`form:has([data-testid="remove-assignment"])`).Attr("data-confirm"); !strings.Contains(msg, title) {
			t.Errorf("removing %q asks %q", title, msg)
		}
	})
	var offered []string
	d.Find(`#f-assignment option`).Each(func(_ int, o *goquery.Selection) { offered = append(offered, o.AttrOr("value", "")) })
	for _, v := range []string{"exercise:" + limiterExercise, "exercise:limiter-build", "quiz:cap"} {
		for _, o := range offered {
			if o == v {
				t.Errorf("the add form offers %s, assigned already", v)
			}
		}
	}
	if len(offered) == 0 {
		t.Error("the add form offers nothing")
	}
	wantStatus(t, teacher.get(path), http.StatusOK)
}

// At 1280 px the gradebook with three assignments fits without scrolling
// sideways; on a phone it scrolls with the learner and the total in view;
// Remove asks before it removes. Kept as screenshots in every look.
func TestBrowserGradebookFits(t *testing.T) {
	a := MustStartGrading(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, limiter.Lab)
	teacher, path := threeAssignments(t, a)
	ctx := testenv.Browser(t, 3*time.Minute)
	do, _ := chromeSteps(t, ctx)
	useSession(t, ctx, a, teacher)
	num := func(js string) float64 {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	for _, l := range testenv.Looks {
		l.Apply(t, ctx)
		do(chromedp.Navigate(a.URL+path), chromedp.WaitVisible(`[data-testid="gradebook"]`))
		wrap := `document.querySelector('[data-testid="gradebook"]').parentElement`
		if !l.Phone {
			if over := num(wrap + `.scrollWidth - ` + wrap + `.clientWidth`); over > 0 {
				t.Errorf("%s: the gradebook needs %.0f px of sideways scrolling", l.Name, over)
			}
		}
		do(chromedp.Evaluate[chromedp.Void](wrap + `.scrollLeft = 120`))
		right := num(wrap + `.getBoundingClientRect().right`)
		total := num(`document.querySelector('[data-testid="gb-total-head"]').getBoundingClientRect().right`)
		learnerLeft := num(`document.querySelector('[data-testid="gb-row"] th').getBoundingClientRect().left`)
		if total > right+1 || learnerLeft < num(wrap+`.getBoundingClientRect().left`)-1 {
			t.Errorf("%s: scrolled, the total ends at %.0f (box %.0f) and the learner starts at %.0f", l.Name, total, right, learnerLeft)
		}
		testenv.Axe(t, ctx, "gradebook ("+l.Name+")")
		testenv.Screenshot(t, ctx, "gradebook-"+l.Name)
	}
	do(chromedp.Evaluate[chromedp.Void](`window.confirm = m => { window.__asked = m; return false; }`),
		chromedp.Click(`[data-testid="remove-assignment"]`))
	asked, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`window.__asked || ""`))
	if !strings.Contains(asked, "Remove the assignment") {
		t.Errorf("Remove asked %q", asked)
	}
	if n := num(`document.querySelectorAll('[data-testid="gb-col"]').length`); n != 3 {
		t.Errorf("after a refused confirmation %v columns remain, want 3", n)
	}
}
