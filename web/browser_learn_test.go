package web

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/lessons"
)

// TestBrowserLearningJourney: open a lesson, mark it complete, take its
// quiz, answer a question and rate it, review a card, and see the dashboard
// change, all through Chromium.
func TestBrowserLearningJourney(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil)
	ctx := testenv.Browser(t, 2*time.Minute)
	do, text := chromeSteps(t, ctx)

	do(
		chromedp.Navigate(a.URL+"/register"),
		chromedp.WaitVisible(`#email`),
		chromedp.SendKeys(`#email`, "reader@example.org"),
		chromedp.SendKeys(`#password`, "a passphrase long enough"),
		chromedp.Submit(`[data-testid="register-form"]`),
		chromedp.WaitVisible(`[data-testid="nav-user"]`),
	)
	// The dashboard before.
	do(chromedp.Navigate(a.URL+"/progress"), chromedp.WaitVisible(`[data-testid="stat-lessons"]`))
	if got := text(`[data-testid="stat-lessons"]`); !strings.HasPrefix(got, "0") {
		t.Fatalf("fresh dashboard shows %q lessons", got)
	}

	// Open the CAP lesson from the index and mark it complete (htmx swap).
	do(
		chromedp.Navigate(a.URL+"/lessons"),
		chromedp.Click(`[data-testid="lesson-cap"] a`),
		chromedp.WaitVisible(`[data-testid="lesson"]`),
		chromedp.Click(`[data-testid="lesson-complete"]`),
		chromedp.WaitVisible(`[data-testid="lesson-complete-state"]`),
	)
	testenv.Screenshot(t, ctx, "lesson-cap")

	// Take its quiz, answering every question right.
	takeQuizInBrowser(t, ctx, a.app.catalog().Quizzes["cap"])

	// Answer an interview question, reveal, rate.
	do(
		chromedp.Navigate(a.URL+"/questions/consistency-vs-availability"),
		chromedp.WaitVisible(`[data-testid="answer-form"]`),
		chromedp.SendKeys(`#answer`, "During a partition a replica must either refuse or risk serving stale data."),
		chromedp.Click(`[data-testid="reveal"]`),
		chromedp.WaitVisible(`[data-testid="model-answer"]`),
		chromedp.Click(`[data-testid="rate-form"] input[name="point"][value="0"]`),
		chromedp.Click(`[data-testid="rate-form"] input[name="rating"][value="4"]`),
		chromedp.Click(`[data-testid="rate"]`),
		chromedp.WaitVisible(`[data-testid="rating-saved"]`),
	)

	reviewOneCardInBrowser(t, ctx, a.URL)

	// The dashboard after.
	do(chromedp.Navigate(a.URL+"/progress"), chromedp.WaitVisible(`[data-testid="stat-lessons"]`))
	for id, want := range map[string]string{"stat-lessons": "1", "stat-quizzes": "1", "stat-questions": "1", "stat-streak": "1"} {
		if got := text(`[data-testid="` + id + `"]`); !strings.HasPrefix(got, want) {
			t.Errorf("%s = %q, want %s", id, got, want)
		}
	}
	testenv.Screenshot(t, ctx, "progress")
}

// takeQuizInBrowser answers every question of the open quiz right and
// checks the full score.
func takeQuizInBrowser(t *testing.T, ctx context.Context, quiz *lessons.Quiz) {
	t.Helper()
	do, text := chromeSteps(t, ctx)
	do(chromedp.Click(`[data-testid="quiz-link"]`), chromedp.WaitVisible(`[data-testid="quiz-form"]`))
	for _, q := range quiz.Questions {
		switch q.Kind {
		case lessons.KindNumeric:
			do(chromedp.SendKeys(`#q-`+q.ID, strconv.FormatFloat(q.Answer, 'f', -1, 64)))
		default:
			for _, i := range q.Correct {
				do(chromedp.Click(`input[name="q.` + q.ID + `"][value="` + strconv.Itoa(i) + `"]`))
			}
		}
	}
	do(chromedp.Click(`[data-testid="quiz-submit"]`), chromedp.WaitVisible(`[data-testid="quiz-result"]`))
	n := strconv.Itoa(len(quiz.Questions))
	if got := text(`[data-testid="quiz-score"]`); got != n+" / "+n {
		t.Errorf("quiz score %q", got)
	}
	testenv.Screenshot(t, ctx, "quiz-result")
}

// reviewOneCardInBrowser grades one flashcard Good: the page is replaced
// and the nav counts one card fewer.
func reviewOneCardInBrowser(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	do, text := chromeSteps(t, ctx)
	do(chromedp.Navigate(base+"/review"), chromedp.WaitVisible(`[data-testid="flashcard"]`))
	before := text(`[data-testid="due-count"]`)
	front := text(`[data-testid="card-front"]`)
	do(
		chromedp.Click(`[data-testid="show-answer"]`),
		chromedp.WaitVisible(`[data-testid="card-back"]`),
	)
	testenv.Screenshot(t, ctx, "review-card")
	// Mark this document, click, and wait for a new document to replace it.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__before = true`)); err != nil {
		t.Fatal(err)
	}
	do(chromedp.Click(`[data-testid="grade-good"]`))
	waitNewDocument(t, ctx)
	do(chromedp.WaitVisible(`[data-testid="review-stats"]`))
	after := text(`[data-testid="due-count"]`)
	if b, _ := strconv.Atoi(before); after != strconv.Itoa(b-1) {
		t.Errorf("due count %s → %s after reviewing %q", before, after, front)
	}
}

// waitNewDocument waits until the document marked with window.__before has
// been replaced by a fully loaded one (the context's deadline bounds it).
func waitNewDocument(t *testing.T, ctx context.Context) {
	t.Helper()
	for ctx.Err() == nil {
		fresh, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__before !== true && document.readyState === "complete"`))
		if err == nil && fresh {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the page never navigated")
}
