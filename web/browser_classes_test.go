package web

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// An instructor opens a class and sets the limiter exercise; a learner
// joins by the link and submits; the instructor finds the submission in the
// gradebook, overrides its score with feedback, and the learner reads it.
func TestBrowserInstructorAndLearner(t *testing.T) {
	a := MustStartGrading(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, limiter.Lab)
	ctx := testenv.Browser(t, 4*time.Minute)
	do, text := chromeSteps(t, ctx)
	const pw = "a passphrase long enough"
	register := func(email string) {
		do(
			chromedp.Navigate(a.URL+"/register"),
			chromedp.WaitVisible(`#email`),
			chromedp.SendKeys(`#email`, email),
			chromedp.SendKeys(`#password`, pw),
			chromedp.Submit(`[data-testid="register-form"]`),
			chromedp.WaitVisible(`[data-testid="nav-user"]`),
		)
	}
	login := func(email string) {
		do(
			chromedp.Navigate(a.URL+"/login"),
			chromedp.WaitVisible(`#email`),
			chromedp.SendKeys(`#email`, email),
			chromedp.SendKeys(`#password`, pw),
			chromedp.Submit(`[data-testid="login-form"]`),
			chromedp.WaitVisible(`[data-testid="nav-user"]`),
		)
	}
	logout := func() { do(chromedp.Click(`[data-testid="logout"]`), chromedp.WaitVisible(`a[href="/login"]`)) }

	register("teacher@example.org") // the first account runs the server
	do(
		chromedp.Click(`nav a[href="/classes"]`),
		chromedp.WaitVisible(`[data-testid="class-form"]`),
		chromedp.SendKeys(`#f-name`, "Browser cohort"),
		chromedp.Click(`[data-testid="create-class"]`),
		chromedp.WaitVisible(`[data-testid="join-code"]`),
		chromedp.SetValue(`#f-assignment`, "exercise:"+limiterExercise),
		chromedp.Click(`[data-testid="add-assignment"]`),
		chromedp.WaitVisible(`[data-testid="assignments"]`),
	)
	classURL, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	classURL, _, _ = strings.Cut(classURL, "#")
	joinURL := text(`[data-testid="join-url"]`)
	logout()

	register("learner@example.org")
	do(
		chromedp.Navigate(joinURL),
		chromedp.Click(`[data-testid="join"]`),
		chromedp.WaitVisible(`[data-testid="assignments"]`),
		chromedp.Click(`[data-testid="assignments"] a`),
		chromedp.WaitVisible(`[data-testid="submit-form"]`),
		chromedp.SetValue(`#f-limit`, "20"),
		chromedp.SetValue(`#f-window_ms`, "2000"),
		chromedp.SendKeys(`#f-notes`, "Sliding window, shared in Redis."),
		chromedp.Click(`[data-testid="submit"]`),
		chromedp.WaitVisible(`[data-testid="submission"]`),
	)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](graded,
		chromedp.WithPollingTimeout(2*time.Minute))); err != nil {
		t.Fatalf("never graded: %v", err)
	}
	submissionURL, _ := chromedp.Run(ctx, chromedp.Location())
	logout()

	login("teacher@example.org")
	do(
		chromedp.Navigate(classURL),
		chromedp.WaitVisible(`[data-testid="gradebook"]`),
	)
	if row := text(`[data-testid="gb-row"]`); !strings.Contains(row, "learner@example.org") || !strings.Contains(row, "1×") {
		t.Errorf("gradebook row: %q", row)
	}
	testenv.Screenshot(t, ctx, "gradebook")
	do(
		chromedp.Click(`[data-testid="gb-cell"] a`),
		chromedp.WaitVisible(`[data-testid="review-form"]`),
		chromedp.SendKeys(`#f-score`, "100"),
		chromedp.SendKeys(`#f-reason`, "The window estimate is fine for this class."),
		chromedp.SendKeys(`#f-feedback`, "Well argued. Compare it with a sliding log next."),
		chromedp.Click(`[data-testid="save-review"]`),
		chromedp.WaitVisible(`[data-testid="override-score"]`),
	)
	testenv.Screenshot(t, ctx, "review")
	logout()

	login("learner@example.org")
	do(chromedp.Navigate(submissionURL), chromedp.WaitVisible(`[data-testid="instructor-review"]`))
	if fb := text(`[data-testid="feedback"]`); fb != "Well argued. Compare it with a sliding log next." {
		t.Errorf("learner sees feedback %q", fb)
	}
	if s := text(`[data-testid="instructor-review"] [data-testid="override-score"]`); !strings.HasPrefix(s, "100 / 100") {
		t.Errorf("learner sees override %q", s)
	}
}
