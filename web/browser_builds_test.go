package web

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/internal/testenv"
)

// A learner uploads a service from the build exercise's page: a file over
// the limit is refused before it is sent, a hostile archive comes back
// with the server's sentence beside the field and the notes kept, and a
// good one opens its submission page, where the run's logs show newest
// line first.
func TestBrowserBuildUpload(t *testing.T) {
	a := MustStartLabs(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, buildLabs...)
	ctx := testenv.Browser(t, 2*time.Minute)
	do, text := chromeSteps(t, ctx)
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	huge := file("huge.zip", append(zipOf(t, "app.py", pyService), make([]byte, 11<<20)...))
	hostile := file("hostile.zip", zipOf(t, "app.py", pyService, "../../etc/cron.d/evil", "* * * * * root x"))
	good := file("service.zip", zipOf(t, "limiter/app.py", pyService))
	page := a.URL + "/labs/limiter/exercises/" + testBuildExercise
	do(
		chromedp.Navigate(a.URL+"/register"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, "uploader@example.org"),
		chromedp.SendKeys(`#password`, "a passphrase long enough"),
		chromedp.Submit(`[data-testid="register-form"]`),
		chromedp.WaitVisible(`[data-testid="nav-user"]`),
		chromedp.Navigate(page),
		chromedp.WaitVisible(`[data-testid="upload-form"]`),
		chromedp.SendKeys(`#f-notes`, "One Lua script per decision."),
		chromedp.SetUploadFiles(`#f-archive`, []string{huge}),
		chromedp.Click(`[data-testid="submit"]`),
		chromedp.WaitVisible(`[data-testid="error-archive"]`),
	)
	if got := text(`[data-testid="error-archive"]`); !strings.Contains(got, "larger than 10 MB") {
		t.Errorf("a file over the limit: %q", got)
	}
	testenv.Screenshot(t, ctx, "build-exercise-too-large")
	wantNothingStored(t, a, "uploader@example.org")

	do(
		chromedp.SetUploadFiles(`#f-archive`, []string{hostile}),
		chromedp.Click(`[data-testid="submit"]`),
		chromedp.WaitVisible(`.has-error [data-testid="error-archive"]`),
	)
	if got := text(`[data-testid="error-archive"]`); !strings.Contains(got, "climbs out") {
		t.Errorf("a hostile archive: %q", got)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(`#f-notes`)); v != "One Lua script per decision." {
		t.Errorf("notes after a refusal: %q", v)
	}
	wantNothingStored(t, a, "uploader@example.org")

	do(
		chromedp.SetUploadFiles(`#f-archive`, []string{good}),
		chromedp.Click(`[data-testid="submit"]`),
		chromedp.WaitVisible(`[data-testid="archive"]`),
	)
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	id := loc[strings.LastIndex(loc, "/")+1:]
	sub, ok, err := a.store.StartRun(context.Background(), id, "test-worker", time.Now(), time.Minute)
	if err != nil || !ok {
		t.Fatalf("start run: %v %v", ok, err)
	}
	if err := a.store.SaveRunLogs(context.Background(), id, sub.Run, "Step 1/3 : FROM workbook-local/python:3.11\nSuccessfully built 1f2e\n",
		map[string]string{"replica-1": "serving on 8080\nGET /healthz 200\nPOST /request 429\n"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	do(
		chromedp.Reload(),
		chromedp.WaitVisible(`[data-testid="log-replica-1"] summary`),
		chromedp.Click(`[data-testid="log-replica-1"] summary`),
		chromedp.WaitVisible(`[data-testid="log-replica-1"] .log-lines li`),
	)
	if got := text(`[data-testid="log-replica-1"] .log-lines li`); got != "POST /request 429" {
		t.Errorf("newest line first: %q", got)
	}
	testenv.Screenshot(t, ctx, "build-submission-logs")
}
