package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// A whole mock interview in the browser: start a session, answer and
// close a stage, tick what it covered; on the high-level design stage,
// add two boxes and an arrow with the keyboard through the list editor,
// then a box and an arrow with the mouse on the board; close every stage,
// finish and see the rubric. The session page passes axe. Then the
// class's instructor scores the assigned interview with the rubric.
func TestBrowserMockInterview(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil)
	b := MustRegister(t, a, "ada@example.org")
	cl := assignedClass(t, a, "ada@example.org")
	ctx := testenv.Browser(t, 3*time.Minute)
	do, text := chromeSteps(t, ctx)
	useSession(t, ctx, a, b)

	do(chromedp.Navigate(a.URL+"/interviews/chat"), chromedp.Click(`[data-testid="start"]`),
		chromedp.WaitVisible(`[data-testid="interview-clock"]`))
	if got := text(`[data-testid="interview-clock"]`); !strings.HasSuffix(got, " left") {
		t.Errorf("clock: %q", got)
	}
	do(chromedp.SendKeys(`#answer-requirements`, "1:1 and groups of 500; ordered; offline delivery"),
		chromedp.Click(`[data-testid="close-requirements"]`),
		chromedp.WaitVisible(`[data-testid="ticks-requirements"]`),
		chromedp.Click(`[data-testid="ticks-requirements"] input[value="1"]`))
	submitAndWait(t, ctx, `[data-testid="save-ticks-requirements"]`)
	if got := text(`[data-testid="score-requirements"]`); !strings.Contains(got, "1 of 4") {
		t.Errorf("requirements score: %q", got)
	}

	drawByKeyboardAndMouse(t, ctx)
	testenv.Axe(t, ctx, "mock interview session")
	do(chromedp.Reload(), chromedp.WaitVisible(`[data-testid="diagram-svg-high-level"]`))
	if n := countOf(t, ctx, `[data-testid="diagram-svg-high-level"] [data-testid="diagram-node"]`); n != 3 {
		t.Errorf("after reloading, the board has %d boxes, want 3", n)
	}
	if n := countOf(t, ctx, `[data-testid="diagram-list-high-level"] [data-testid="diagram-list-edge"]`); n != 2 {
		t.Errorf("after reloading, the list has %d arrows, want 2", n)
	}
	do(chromedp.SendKeys(`#answer-high-level`, "Gateways hold the sockets; a registry maps users to gateways."),
		chromedp.Click(`[data-testid="close-high-level"]`),
		chromedp.WaitVisible(`[data-testid="ticks-high-level"]`),
		chromedp.Click(`[data-testid="ticks-high-level"] input[value="0"]`),
		chromedp.Click(`[data-testid="ticks-high-level"] input[value="1"]`))
	submitAndWait(t, ctx, `[data-testid="save-ticks-high-level"]`)
	if got := text(`[data-testid="score-high-level"]`); !strings.Contains(got, "2 of 4") {
		t.Errorf("high-level score: %q", got)
	}
	if n := countOf(t, ctx, `[data-testid="stage-high-level"] svg [data-testid="diagram-node"]`); n != 3 {
		t.Errorf("the closed stage shows %d boxes for review, want 3", n)
	}
	for _, st := range []string{"estimation", "api", "data-model", "deep-dives", "tradeoffs"} {
		do(chromedp.SendKeys(`#answer-`+st, "My answer to "+st))
		submitAndWait(t, ctx, `[data-testid="close-`+st+`"]`)
	}
	submitAndWait(t, ctx, `[data-testid="finish"]`)
	if got := text(`[data-testid="interview-percent"]`); got != "10%" { // (25+50+0×5)/7 stages
		t.Errorf("overall after every stage: %q", got)
	}
	testenv.Screenshot(t, ctx, "mock-interview")
	instructorScores(t, ctx, a, cl)
}

// drawByKeyboardAndMouse draws on the high-level board: two boxes and an
// arrow through the list editor, submitted with Enter, then a box placed
// with the mouse and joined to the first.
func drawByKeyboardAndMouse(t *testing.T, ctx context.Context) {
	t.Helper()
	do, _ := chromeSteps(t, ctx)
	enter := func(sel, keys string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__before = true`)); err != nil {
			t.Fatal(err)
		}
		do(chromedp.SendKeys(sel, keys+"\r"))
		waitNewDocument(t, ctx)
	}
	for _, n := range [][2]string{{"client", "Phone"}, {"service", "Chat API"}} {
		do(chromedp.SetValue(`#node-kind-high-level`, n[0]))
		enter(`#node-label-high-level`, n[1])
	}
	do(chromedp.SetValue(`#edge-to-high-level`, "n2"))
	enter(`#edge-label-high-level`, "WebSocket")
	if n := countOf(t, ctx, `[data-testid="diagram-list-edge"]`); n != 1 {
		t.Fatalf("the keyboard's arrow: %d arrows listed", n)
	}

	// The mouse: a box placed on the board, then joined to the phone.
	do(chromedp.Click(`button[data-kind="cache"]`), chromedp.SendKeys(`[data-testid="board-label"]`, "Presence"))
	clickBoard(t, ctx, 0.5, 0.85)
	waitStatus(t, ctx, "Added Presence. Saved.")
	do(chromedp.Click(`[data-testid="diagram-svg-high-level"] g[data-id="n1"]`),
		chromedp.Click(`[data-testid="diagram-svg-high-level"] g[data-id="n3"]`))
	waitStatus(t, ctx, "Joined the boxes. Saved.")
	do(chromedp.WaitVisible(`[data-testid="diagram-list-high-level"] li:nth-of-type(3)`))

}

// instructorScores: the class's instructor opens the session from the
// gradebook, ticks checkpoints of the rubric, leaves feedback, and the
// gradebook shows the instructor's score.
func instructorScores(t *testing.T, ctx context.Context, a *testApp, cl store.Class) {
	t.Helper()
	do, text := chromeSteps(t, ctx)
	teacher := newBrowser(t, a)
	wantStatus(t, teacher.post("/login", url.Values{"email": {"teacher@example.org"}, "password": {goodPassword}}), http.StatusSeeOther)
	useSession(t, ctx, a, teacher)
	classPage := a.URL + "/classes/" + strconv.FormatInt(cl.ID, 10)
	do(chromedp.Navigate(classPage), chromedp.Click(`[data-testid="gb-cell"] a`),
		chromedp.WaitVisible(`[data-testid="interview-review-form"]`))
	testenv.Axe(t, ctx, "mock interview review")
	do(chromedp.Click(`input[value="requirements:0"]`), chromedp.Click(`input[value="high-level:2"]`),
		chromedp.SendKeys(`#f-feedback`, "Good diagram; size the fan-out."))
	submitAndWait(t, ctx, `[data-testid="save-interview-review"]`)
	if got := text(`[data-testid="review-score"]`); !strings.Contains(got, "7%") { // (25+25)/7
		t.Errorf("the review's score: %q", got)
	}
	do(chromedp.Navigate(classPage), chromedp.WaitVisible(`[data-testid="gb-cell"]`))
	if got := text(`[data-testid="gb-cell"]`); !strings.Contains(got, "7") || !strings.Contains(got, "override") {
		t.Errorf("the gradebook cell: %q", got)
	}
}

// assignedClass makes teacher@example.org's class with the learner in it,
// assigning the chat interview.
func assignedClass(t *testing.T, a *testApp, learner string) store.Class {
	t.Helper()
	MustAccount(t, a, "teacher@example.org", store.RoleInstructor)
	bg := context.Background()
	cl, err := a.store.CreateClass(bg, mustUserID(t, a, "teacher@example.org"), "Spring", time.Now())
	if err == nil {
		err = a.store.JoinClass(bg, cl.ID, mustUserID(t, a, learner), time.Now())
	}
	if err == nil {
		err = a.store.AddAssignment(bg, &store.Assignment{ClassID: cl.ID, Kind: store.AssignInterview, Ref: "chat", CreatedAt: time.Now()})
	}
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// submitAndWait clicks a submit button and waits for the next page.
func submitAndWait(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__before = true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(sel)); err != nil {
		t.Fatal(err)
	}
	waitNewDocument(t, ctx)
}

// clickBoard clicks the high-level board at a share of its width and
// height.
func clickBoard(t *testing.T, ctx context.Context, fx, fy float64) {
	t.Helper()
	pt, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => {
		const s = document.querySelector('[data-testid="diagram-svg-high-level"]');
		s.scrollIntoView({block: "center"});
		const r = s.getBoundingClientRect();
		return [r.left + r.width * `+ftoa(fx)+`, r.top + r.height * `+ftoa(fy)+`];
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.MouseClickXY(pt[0], pt[1])); err != nil {
		t.Fatal(err)
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// waitStatus waits for the board's status line to say want.
func waitStatus(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	sel := `[data-testid="diagram-status-high-level"]`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('`+sel+`').textContent === `+"`"+want+"`")); err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Text(sel))
		t.Fatalf("board status %q, want %q: %v", got, want, err)
	}
}

func countOf(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('`+sel+`').length`))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
