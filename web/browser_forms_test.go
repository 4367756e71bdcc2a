package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// After a validation error a form opens on an error summary that has the
// focus and links to each field; a quiz with questions left open asks
// before grading, a blank one is refused; the correct option is named in
// words and choices show a focus ring.
func TestBrowserFormsTakeYouToTheProblem(t *testing.T) {
	a := MustStartGrading(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, limiter.Lab)
	ctx := testenv.Browser(t, 3*time.Minute)
	do, _ := chromeSteps(t, ctx)
	testenv.Looks[0].Apply(t, ctx)

	// A short form: the registration's password.
	do(
		chromedp.Navigate(a.URL+"/register"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, "forms@example.org"),
		chromedp.SendKeys(`#password`, "short"),
		chromedp.Submit(`[data-testid="register-form"]`),
		chromedp.WaitVisible(`[data-testid="error-summary"]`),
	)
	checkSummary(t, ctx, "register", "Password", "password")
	do(
		chromedp.SetValue(`#password`, "a passphrase long enough"),
		chromedp.Submit(`[data-testid="register-form"]`),
		chromedp.WaitReady(`[data-testid="nav-user"]`),
	)

	// A long one: a design whose field is out of range, sent past the
	// browser's own checks as an older browser would.
	do(
		chromedp.Navigate(a.URL+"/labs/limiter/exercises/"+limiterExercise),
		chromedp.WaitVisible(`[data-testid="submit-form"]`),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="submit-form"]').noValidate = true`),
		chromedp.SetValue(`#f-limit`, "-5"),
		chromedp.Click(`[data-testid="submit"]`),
		chromedp.WaitVisible(`[data-testid="error-summary"]`),
	)
	checkSummary(t, ctx, "design", "Limit", "f-limit")
	testenv.ViewportShot(t, ctx, "form-error-summary")

	checkQuizAsksFirst(t, ctx, a.URL)
	testenv.CheckLooks(t, ctx, "quiz", a.URL+"/lessons/cap/quiz", `[data-testid="quiz-form"]`)
}

// checkSummary: the summary has the focus, is in view, names the field and
// its link puts the focus in it.
func checkSummary(t *testing.T, ctx context.Context, form, label, fieldID string) {
	t.Helper()
	state, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function () {
		const s = document.querySelector('[data-testid="error-summary"]'), r = s.getBoundingClientRect();
		return (document.activeElement === s ? "focused" : "not focused") + "|" +
			(r.top >= 0 && r.top < innerHeight ? "in view" : "out of view at " + r.top) + "|" + s.textContent;
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(state, "focused|in view|") || !strings.Contains(state, label) {
		t.Errorf("%s form's error summary: %q", form, state)
	}
	if err := chromedp.Do(ctx, chromedp.Click(`[data-testid="error-summary"] button`)); err != nil {
		t.Fatal(err)
	}
	if id, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`)); id != fieldID {
		t.Errorf("%s form: the summary's link focused %q, want %q", form, id, fieldID)
	}
}

// checkQuizAsksFirst: focus ring on a choice, a question when some are
// open, the refusal of a blank quiz, and the correct option in words.
func checkQuizAsksFirst(t *testing.T, ctx context.Context, base string) {
	do, text := chromeSteps(t, ctx)
	do(chromedp.Navigate(base+"/lessons/cap/quiz"), chromedp.WaitVisible(`[data-testid="quiz-form"]`))
	ring, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(function () {
		const r = document.querySelector('[data-testid="quiz-form"] input[type=radio], [data-testid="quiz-form"] input[type=checkbox]');
		r.focus(); const s = getComputedStyle(r);
		return r.matches(':focus-visible') + " " + s.outlineStyle + " " + s.outlineWidth;
	})()`))
	if err != nil || ring != "true solid 3px" {
		t.Errorf("a focused choice shows %q (%v), want a 3px ring", ring, err)
	}
	// Blank: refused by the server with a sentence that has the focus.
	do(chromedp.Click(`[data-testid="quiz-submit"]`), chromedp.WaitVisible(`[data-testid="quiz-error"]`))
	if got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.dataset.testid || document.activeElement.tagName`)); got != "quiz-error" {
		t.Errorf("after a blank quiz the focus is on %q", got)
	}
	// One answer of several: the learner is asked first.
	do(
		chromedp.Evaluate[chromedp.Void](`window.confirm = m => { window.asked = m; return false; }`),
		chromedp.Click(`[data-testid="quiz-form"] fieldset input[type=radio]`),
		chromedp.Click(`[data-testid="quiz-submit"]`),
	)
	asked, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`window.asked || ""`))
	if !strings.Contains(asked, "questions have no answer and will count as wrong") {
		t.Errorf("the quiz was not held back for a question; asked %q", asked)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="quiz-result"]').length`)); n != 0 {
		t.Error("the quiz was graded although the learner said no")
	}
	do(
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		chromedp.Click(`[data-testid="quiz-submit"]`),
		chromedp.WaitVisible(`[data-testid="quiz-result"]`),
	)
	if got := text(`[data-testid="correct-tag"]`); !strings.Contains(got, "correct answer") {
		t.Errorf("correct option tagged %q", got)
	}
	testenv.Axe(t, ctx, "quiz result")
	testenv.Screenshot(t, ctx, "quiz-result")
}
