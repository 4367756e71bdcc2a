package web

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sdworkbook/workbook/internal/testenv"
)

// A whole review session from the keyboard alone: Space shows the answer
// with each grade's next interval, 1 to 4 answer, the page counts "Card i
// of n", and the session ends with its summary. The card with its answer
// and the summary pass axe at both sizes in both schemes.
func TestBrowserReviewByKeyboard(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil)
	b := MustRegister(t, a, "ada@example.org")
	wantStatus(t, b.get("/lessons/cap"), http.StatusOK)
	q, err := a.app.progress.ReviewQueue(context.Background(), mustUserID(t, a, "ada@example.org"))
	if err != nil || q.Total() < 4 {
		t.Fatalf("queue %d cards (%v)", q.Total(), err)
	}
	n := q.Total()
	ctx := testenv.Browser(t, 3*time.Minute)
	do, text := chromeSteps(t, ctx)
	useSession(t, ctx, a, b)
	answerShown := func() {
		t.Helper()
		do(chromedp.KeyEvent(" "), chromedp.WaitVisible(`[data-testid="card-back"]`), chromedp.WaitVisible(`[data-testid="interval-good"]`))
	}
	for _, l := range testenv.Looks {
		l.Apply(t, ctx)
		do(chromedp.Navigate(a.URL+"/review"), chromedp.WaitVisible(`[data-testid="show-answer"]`))
		answerShown()
		testenv.Axe(t, ctx, "review card ("+l.Name+")")
		testenv.Screenshot(t, ctx, "review-answer-"+l.Name)
	}
	testenv.Looks[0].Apply(t, ctx)
	do(chromedp.Navigate(a.URL+"/review"), chromedp.WaitVisible(`[data-testid="show-answer"]`))
	for i := range n {
		if got, want := text(`[data-testid="session-progress"]`), "Card "+strconv.Itoa(i+1)+" of "+strconv.Itoa(n); got != want {
			t.Errorf("progress %q, want %q", got, want)
		}
		answerShown()
		if got := text(`[data-testid="interval-again"]`); got != "10 min" {
			t.Errorf("card %d: Again comes back in %q, want 10 min", i+1, got)
		}
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__before = true`)); err != nil {
			t.Fatal(err)
		}
		do(chromedp.KeyEvent(strconv.Itoa(i%4 + 1)))
		waitNewDocument(t, ctx)
	}
	do(chromedp.WaitVisible(`[data-testid="review-summary"]`))
	if got := text(`[data-testid="summary-count"]`); got != strconv.Itoa(n) {
		t.Errorf("summary counts %q cards, want %d", got, n)
	}
	summary, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	testenv.CheckLooks(t, ctx, "review-summary", summary, `[data-testid="review-summary"]`)
}
