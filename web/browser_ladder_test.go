package web

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// A learner climbs the limiter's ladder to its third step in the browser:
// step 2 is locked until step 1 is passed, and each passing design
// unlocks the next.
func TestBrowserClimbsTheLimiterLadder(t *testing.T) {
	a := MustStartGrading(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, limiter.Lab)
	ctx := testenv.Browser(t, 8*time.Minute)
	do, text := chromeSteps(t, ctx)
	do(
		chromedp.Navigate(a.URL+"/register"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, "climber@example.org"),
		chromedp.SendKeys(`#password`, "a passphrase long enough"),
		chromedp.Submit(`[data-testid="register-form"]`),
		chromedp.WaitVisible(`[data-testid="nav-user"]`),
		chromedp.Navigate(a.URL+"/labs/limiter"),
		chromedp.WaitVisible(`[data-testid="exercise-limiter-login-guard"] [data-testid="locked"]`),
	)
	if s := text(`[data-testid="exercise-limiter-login-guard"] [data-testid="unlocks"]`); !strings.Contains(s, "pass step 1") {
		t.Errorf("a locked step says %q", s)
	}
	steps := []struct {
		id     string
		design [][2]string
	}{
		{limiterExercise, [][2]string{{"algorithm", "sliding_log"}, {"limit", "20"}, {"window_ms", "2000"}}},
		{"limiter-login-guard", [][2]string{{"algorithm", "sliding_log"}, {"limit", "5"}, {"window_ms", "900000"},
			{"ip_limit", "100"}, {"ip_window_ms", "900000"}, {"on_store_error", "fail_closed"}}},
		{"limiter-pro-plan", [][2]string{{"algorithm", "token_bucket"}, {"limit", "10"}, {"window_ms", "1000"}, {"burst", "40"}}},
	}
	for i, st := range steps {
		do(
			chromedp.Navigate(a.URL+"/labs/limiter"),
			chromedp.Click(`[data-testid="exercise-`+st.id+`"] a`),
			chromedp.WaitVisible(`[data-testid="submit-form"]`),
		)
		for _, kv := range st.design {
			do(chromedp.SetValue(`#f-`+kv[0], kv[1]))
		}
		do(chromedp.Click(`[data-testid="submit"]`), chromedp.WaitVisible(`[data-testid="submission"]`))
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](graded, chromedp.WithPollingTimeout(3*time.Minute))); err != nil {
			t.Fatalf("step %d was never graded: %v (status %q)", i+1, err, text(`[data-testid="status"]`))
		}
		if s := text(`[data-testid="score"]`); !strings.HasPrefix(s, "100 / 100") {
			t.Fatalf("step %d (%s) scored %q", i+1, st.id, s)
		}
	}
	do(chromedp.Navigate(a.URL+"/labs/limiter"), chromedp.WaitVisible(`.ladder`))
	passed, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('.ladder [data-testid=passed]').length`))
	if err != nil || passed != 3 {
		t.Errorf("the ladder shows %d steps passed (%v), want 3", passed, err)
	}
	testenv.Screenshot(t, ctx, "ladder-climbed")
}
