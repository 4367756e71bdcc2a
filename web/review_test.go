package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/web/views"
)

// reviewStep reads the review page's card, its session progress, what it
// says waits and what the nav's badge says.
type reviewStep struct {
	d         *goquery.Document
	card      string
	since     string
	progress  string
	remaining string
	badge     string
}

func readReview(t *testing.T, b *browser, path string) reviewStep {
	t.Helper()
	resp := b.get(path)
	wantStatus(t, resp, http.StatusOK)
	d := doc(t, resp)
	card, _ := d.Find(`[data-testid="grade-form"] input[name="card"]`).Attr("value")
	since, _ := d.Find(`[data-testid="grade-form"] input[name="since"]`).Attr("value")
	return reviewStep{d: d, card: card, since: since, progress: testid(d, "session-progress"),
		remaining: testid(d, "review-remaining"), badge: testid(d, "due-count")}
}

func intervalsOf(d *goquery.Document) []string {
	var out []string
	for _, g := range []string{"again", "hard", "good", "easy"} {
		out = append(out, testid(d, "interval-"+g))
	}
	return out
}

// A review session: each grade shows when the card comes back, as the
// scheduler will set it; the page says "Card i of n" and what waits, and
// the nav's badge says the same number at every step; once the queue is
// empty, a summary counts the session's grades and says when the next
// card is due.
func TestReviewSession(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, nil)
			b := MustRegister(t, a, "ada@example.org")
			wantStatus(t, b.get("/lessons/cap"), http.StatusOK)
			uid := mustUserID(t, a, "ada@example.org")
			q, err := a.app.progress.ReviewQueue(context.Background(), uid)
			if err != nil || q.Total() < 4 {
				t.Fatalf("queue %d cards (%v), want at least 4", q.Total(), err)
			}
			n := q.Total()
			step := readReview(t, b, "/review")
			if got := strings.Join(intervalsOf(step.d), ","); got != "10 min,1 d,1 d,1 d" {
				t.Errorf("a new card's intervals %q, want 10 min,1 d,1 d,1 d", got)
			}
			grades := []string{"1", "3", "4", "5"}
			for i := range n {
				if want := "Card " + strconv.Itoa(i+1) + " of " + strconv.Itoa(n); step.progress != want {
					t.Errorf("step %d: progress %q, want %q", i, step.progress, want)
				}
				if step.remaining != strconv.Itoa(n-i) || step.badge != step.remaining {
					t.Errorf("step %d: the page says %s wait, the nav %s, want %d", i, step.remaining, step.badge, n-i)
				}
				resp := b.post("/review", url.Values{"card": {step.card}, "grade": {grades[i%4]}, "since": {step.since}})
				wantStatus(t, resp, http.StatusSeeOther)
				step = readReview(t, b, resp.Header.Get("Location"))
			}
			sum := step.d.Find(`[data-testid="review-summary"]`)
			if sum.Length() == 0 || testid(step.d, "summary-count") != strconv.Itoa(n) {
				t.Fatalf("no summary of %d cards: %q", n, sum.Text())
			}
			for i, g := range []string{"again", "hard", "good", "easy"} {
				want := (n - i + 3) / 4 // grades went round in turn
				if got := testid(step.d, "summary-"+g); got != strconv.Itoa(want) {
					t.Errorf("summary %s %q, want %d", g, got, want)
				}
			}
			if got := testid(step.d, "summary-next"); !strings.Contains(got, "10 min") {
				t.Errorf("summary's next due %q, want the again cards in 10 min", got)
			}
			if step.remaining != "0" || step.badge != "" {
				t.Errorf("after the session the page says %s wait, the nav %s", step.remaining, step.badge)
			}
			// A day later, a fresh visit starts a new session, and Good
			// schedules the first card as its button said.
			a.advance(25 * time.Hour)
			step = readReview(t, b, "/review")
			if step.remaining == "0" || step.progress != "Card 1 of "+step.remaining || step.badge != step.remaining {
				t.Errorf("a new session starts at %q", step.progress)
			}
			ivs := intervalsOf(step.d)
			resp := b.post("/review", url.Values{"card": {step.card}, "grade": {"4"}, "since": {step.since}})
			wantStatus(t, resp, http.StatusSeeOther)
			st := cardState(t, a, uid, step.card)
			if got := views.IntervalText(st.DueAt.Sub(a.clock())); got != ivs[2] {
				t.Errorf("Good said %q, the card is due in %q", ivs[2], got)
			}
		})
	}
}

// A session's start comes from the page; a start in the future, too old
// or not a number starts the session now.
func TestReviewSessionStart(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil)
	b := MustRegister(t, a, "ada@example.org")
	wantStatus(t, b.get("/lessons/cap"), http.StatusOK)
	for _, since := range []string{"x", "-1", "99999999999999999999", strconv.FormatInt(a.clock().Add(time.Hour).Unix(), 10),
		strconv.FormatInt(a.clock().Add(-13*time.Hour).Unix(), 10)} {
		step := readReview(t, b, "/review?since="+url.QueryEscape(since))
		if !strings.HasPrefix(step.progress, "Card 1 of") {
			t.Errorf("since=%s: progress %q", since, step.progress)
		}
	}
	resp := b.post("/review", url.Values{"card": {"nope"}, "grade": {"4"}, "since": {"bad"}})
	wantStatus(t, resp, http.StatusNotFound)
}

func FuzzReviewSessionStart(f *testing.F) {
	s := &Server{now: func() time.Time { return time.Unix(1_800_000_000, 0) }}
	for _, seed := range []string{"", "1799999000", "-5", "1e9", "99999999999999999999", "1800000001"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := s.sessionStart(raw)
		now := s.now()
		if got.After(now) || now.Sub(got) > maxSession {
			t.Errorf("sessionStart(%q) = %v, outside the last %v", raw, got, maxSession)
		}
	})
}

func cardState(t *testing.T, a *testApp, uid int64, card string) store.CardState {
	t.Helper()
	sts, err := a.store.CardStates(context.Background(), uid)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range sts {
		if st.CardID == card {
			return st
		}
	}
	t.Fatalf("no schedule for %s", card)
	return store.CardState{}
}
