package web

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// A learner submits a weak design, reads why it failed while the checks
// come in live, revises it and sees the higher score.
func TestBrowserSubmitReviseAndImprove(t *testing.T) {
	a := MustStartGrading(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, limiter.Lab)
	ctx := testenv.Browser(t, 4*time.Minute)
	do, text := chromeSteps(t, ctx)
	do(
		chromedp.Navigate(a.URL+"/register"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, "grader@example.org"),
		chromedp.SendKeys(`#password`, "a passphrase long enough"),
		chromedp.Submit(`[data-testid="register-form"]`),
		chromedp.WaitVisible(`[data-testid="nav-user"]`),
		chromedp.Navigate(a.URL+"/labs/limiter"),
		chromedp.Click(`[data-testid="exercise-`+limiterExercise+`"] a`),
		chromedp.WaitVisible(`[data-testid="submit-form"]`),
		// Weak: a fixed window, and each replica counting on its own.
		chromedp.SetValue(`#f-algorithm`, "fixed_window"),
		chromedp.SetValue(`#f-limit`, "20"),
		chromedp.SetValue(`#f-window_ms`, "2000"),
		chromedp.SetValue(`#f-storage`, "memory"),
		chromedp.SendKeys(`#f-notes`, "Memory is the fastest place to count."),
		chromedp.Click(`[data-testid="submit"]`),
		chromedp.WaitVisible(`[data-testid="submission"]`),
	)
	// The page follows the grader live: checks arrive without a reload.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](graded,
		chromedp.WithPollingTimeout(2*time.Minute))); err != nil {
		t.Fatalf("the page never showed the graded result: %v (status %q)", err, text(`[data-testid="status"]`))
	}
	first := score(t, text(`[data-testid="score"]`))
	failed, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`Array.from(document.querySelectorAll('.check.failed')).map(c => c.querySelector('[data-testid=check-name]').textContent + ": " + c.querySelector('[data-testid=check-message]').textContent).join("\n")`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(failed, "holds across 3 replicas") || !strings.Contains(failed, "memory") ||
		!strings.Contains(failed, "sliding span") {
		t.Errorf("the weak design's failures do not explain themselves:\n%s", failed)
	}
	charts, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('figure.check-chart[data-drawn] canvas').length`))
	if charts == 0 {
		t.Error("no check chart was drawn")
	}
	testenv.Screenshot(t, ctx, "submission-weak")

	do(
		chromedp.Click(`[data-testid="revise"]`),
		chromedp.WaitVisible(`[data-testid="submit-form"]`),
	)
	if v, _ := chromedp.Run(ctx, chromedp.Value(`#f-storage`)); v != "memory" {
		t.Errorf("revising did not start from the submitted design: storage %q", v)
	}
	do(
		chromedp.SetValue(`#f-algorithm`, "sliding_log"),
		chromedp.SetValue(`#f-storage`, "redis"),
		chromedp.Click(`[data-testid="submit"]`),
		chromedp.WaitVisible(`[data-testid="submission"]`),
	)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](graded,
		chromedp.WithPollingTimeout(2*time.Minute))); err != nil {
		t.Fatalf("the revised design was never graded: %v", err)
	}
	second := score(t, text(`[data-testid="score"]`))
	if second <= first || second != 100 {
		t.Errorf("revised design scored %d after %d; want the full 100", second, first)
	}
	testenv.Screenshot(t, ctx, "submission-good")

	do(chromedp.Navigate(a.URL+"/labs/limiter/exercises/"+limiterExercise), chromedp.WaitVisible(`[data-testid="best-score"]`))
	if best := text(`[data-testid="best-score"]`); !strings.Contains(best, "100 / 100") || !strings.Contains(best, "2 attempts") {
		t.Errorf("best score line: %q", best)
	}
}

// graded is true once the submission page shows the graded result and has
// stopped swapping results in (the last swap replaces the nodes a test
// would read).
const graded = `(function () { const s = document.querySelector('#submission'); const st = document.querySelector('#results').getAttribute('data-status');
			return st === 'graded' && (s.getAttribute('data-live') === 'done' || !s.hasAttribute('data-events')); })()`

// score reads "N / M points…" and returns N.
func score(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(s, "/", 2)[0]))
	if err != nil {
		t.Fatalf("score %q: %v", s, err)
	}
	return n
}
