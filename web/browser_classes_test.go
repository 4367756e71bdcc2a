package web

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/internal/store"
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
	register, login := browserAccountSteps(a, do)
	logout := func() { do(chromedp.Click(`[data-testid="logout"]`), chromedp.WaitVisible(`a[href="/login"]`)) }

	register("teacher@example.org")
	MustSetRole(t, a, "teacher@example.org", store.RoleInstructor)
	classURL, joinURL := createClassInBrowser(t, ctx)
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
	// The graded submission waits for the instructor's look.
	if n := text(`[data-testid="notice-count"]`); n != "1" {
		t.Errorf("instructor's notice badge %q, want 1", n)
	}
	do(
		chromedp.Click(`nav a[href="/notices"]`),
		chromedp.WaitVisible(`[data-testid="waiting-item"]`),
	)
	testenv.Screenshot(t, ctx, "notices-instructor")
	if w := text(`[data-testid="waiting-item"]`); !strings.Contains(w, "learner@example.org") || !strings.Contains(w, "Browser cohort") {
		t.Errorf("waiting for a look: %q", w)
	}
	do(
		chromedp.Navigate(classURL),
		chromedp.WaitVisible(`[data-testid="gradebook"]`),
	)
	if row := text(`[data-testid="gb-row"]`); !strings.Contains(row, "learner@example.org") || !strings.Contains(row, "1×") {
		t.Errorf("gradebook row: %q", row)
	}
	testenv.Screenshot(t, ctx, "gradebook")
	reviewFromGradebook(t, ctx)

	// The gradebook's CSV, downloaded as a person would and parsed.
	records := downloadCSV(t, ctx, classURL)
	last := records[len(records)-1]
	if len(records) != 3 || last[0] != "learner@example.org" || !slices.Contains(last, "100") {
		t.Errorf("downloaded CSV: %q", records)
	}
	logout()

	login("learner@example.org")
	checkLearnerReadsReview(t, ctx, submissionURL)
}

// downloadCSV clicks the class page's CSV export, as a person would, and
// parses the file the browser saved.
func downloadCSV(t *testing.T, ctx context.Context, classURL string) [][]string {
	t.Helper()
	do, _ := chromeSteps(t, ctx)
	dir := t.TempDir()
	progress := chromedp.Events(ctx, cdpbrowser.DownloadProgress)
	do(
		chromedp.Navigate(classURL),
		chromedp.WaitVisible(`[data-testid="export-csv"]`),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			events := true
			_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
				Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: &events})
			return err
		}),
		chromedp.Click(`[data-testid="export-csv"]`),
	)
	var file string
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("download: %v", err)
		}
		if ev.State == cdpbrowser.DownloadProgressStateCompleted {
			file = filepath.Join(dir, ev.GUID)
			break
		}
		if ev.State == cdpbrowser.DownloadProgressStateCanceled {
			t.Fatal("the CSV download was cancelled")
		}
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("the downloaded CSV does not parse: %v", err)
	}
	return records
}

// checkLearnerReadsReview: the signed-in learner hears of the review and
// follows the notice to it.
func checkLearnerReadsReview(t *testing.T, ctx context.Context, submissionURL string) {
	t.Helper()
	do, text := chromeSteps(t, ctx)
	if n := text(`[data-testid="notice-count"]`); n != "1" {
		t.Errorf("learner's notice badge %q, want 1", n)
	}
	do(
		chromedp.Click(`nav a[href="/notices"]`),
		chromedp.WaitVisible(`[data-testid="notice"]`),
	)
	testenv.Screenshot(t, ctx, "notices-learner")
	do(
		chromedp.Click(`[data-testid="notice"] a`),
		chromedp.WaitVisible(`[data-testid="instructor-review"]`),
	)
	if u, _ := chromedp.Run(ctx, chromedp.Location()); u != submissionURL {
		t.Errorf("the notice led to %s, not %s", u, submissionURL)
	}
	if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('[data-testid="notice-count"]') !== null`)); ok {
		t.Error("the notice is still unread after reading the review")
	}
	if fb := text(`[data-testid="feedback"]`); fb != "Well argued. Compare it with a sliding log next." {
		t.Errorf("learner sees feedback %q", fb)
	}
	if s := text(`[data-testid="instructor-review"] [data-testid="override-score"]`); !strings.HasPrefix(s, "100 / 100") {
		t.Errorf("learner sees override %q", s)
	}
}

// browserAccountSteps are registering and logging in through the pages,
// with one password for everyone.
func browserAccountSteps(a *testApp, do func(...chromedp.Action[chromedp.Void])) (register, login func(email string)) {
	const pw = "a passphrase long enough"
	register = func(email string) {
		do(
			chromedp.Navigate(a.URL+"/register"),
			chromedp.WaitVisible(`#email`),
			chromedp.SendKeys(`#email`, email),
			chromedp.SendKeys(`#password`, pw),
			chromedp.Submit(`[data-testid="register-form"]`),
			chromedp.WaitVisible(`[data-testid="nav-user"]`),
		)
	}
	login = func(email string) {
		do(
			chromedp.Navigate(a.URL+"/login"),
			chromedp.WaitVisible(`#email`),
			chromedp.SendKeys(`#email`, email),
			chromedp.SendKeys(`#password`, pw),
			chromedp.Submit(`[data-testid="login-form"]`),
			chromedp.WaitVisible(`[data-testid="nav-user"]`),
		)
	}
	return register, login
}

// reviewFromGradebook: the instructor opens the submission from the
// gradebook and overrides its score with feedback, which clears its
// notice.
func reviewFromGradebook(t *testing.T, ctx context.Context) {
	t.Helper()
	do, _ := chromeSteps(t, ctx)
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
	if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('[data-testid="notice-count"]') !== null`)); ok {
		t.Error("the reviewed submission still waits for a look")
	}

}

// createClassInBrowser: the signed-in instructor creates a class that
// sets the limiter exercise; its page's URL and its join link.
func createClassInBrowser(t *testing.T, ctx context.Context) (classURL, joinURL string) {
	t.Helper()
	do, text := chromeSteps(t, ctx)
	var err error
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
	classURL, err = chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	classURL, _, _ = strings.Cut(classURL, "#")
	joinURL = text(`[data-testid="join-url"]`)
	return classURL, joinURL
}
