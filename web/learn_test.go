package web

import (
	"context"
	"github.com/PuerkitoBio/goquery"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/lessons"
)

// correctAnswers builds the form that answers every question of a quiz right.
func correctAnswers(q *lessons.Quiz) url.Values {
	v := url.Values{}
	for _, qq := range q.Questions {
		switch qq.Kind {
		case lessons.KindNumeric:
			v.Set("q."+qq.ID, strconv.FormatFloat(qq.Answer, 'f', -1, 64))
		default:
			for _, i := range qq.Correct {
				v.Add("q."+qq.ID, strconv.Itoa(i))
			}
		}
	}
	return v
}

func TestLearningJourney(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStart(t, be, nil)
			w := &learnRun{a: a, cat: a.app.catalog(), anon: newBrowser(t, a)}
			w.anyoneReads(t)
			w.complete(t)
			w.takeQuiz(t)
			w.answerQuestion(t)
			w.review(t)
			w.checkProgress(t)
			w.checkOthersSeeNothing(t)
		})
	}
}

// learnRun is TestLearningJourney's world: the app, its content, an
// anonymous reader and a learner.
type learnRun struct {
	a     *testApp
	cat   *lessons.Catalog
	anon  *browser
	b     *browser // the learner
	qslug string   // the question answered
}

// anyoneReads: anyone reads the lessons and their diagrams; what needs an
// account asks for one.
func (w *learnRun) anyoneReads(t *testing.T) {
	t.Helper()
	// Anyone can read.
	resp := w.anon.get("/lessons")
	wantStatus(t, resp, http.StatusOK)
	if n := doc(t, resp).Find(".lesson-row").Length(); n != len(w.cat.Lessons) || n < 18 {
		t.Errorf("index lists %d lessons, catalog has %d", n, len(w.cat.Lessons))
	}
	resp = w.anon.get("/lessons/cap")
	wantStatus(t, resp, http.StatusOK)
	d := doc(t, resp)
	if d.Find(`[data-testid="lesson-complete"]`).Length() != 0 {
		t.Error("anonymous reader sees the complete button")
	}
	if d.Find(".pitfalls li").Length() == 0 || d.Find(".prose img").Length() == 0 || d.Find(`[data-testid="quiz-link"]`).Length() != 1 {
		t.Error("lesson page lacks pitfalls, diagrams or its quiz link")
	}
	src, _ := d.Find(".prose img").First().Attr("src")
	img := w.anon.get("/lessons/" + src)
	wantStatus(t, img, http.StatusOK)
	if ct := img.Header.Get("Content-Type"); ct != "image/svg+xml" {
		t.Errorf("diagram %s served as %q", src, ct)
	}
	wantStatus(t, w.anon.get("/lessons/no-such-lesson"), http.StatusNotFound)
	wantStatus(t, w.anon.get("/lessons/diagrams/nope.svg"), http.StatusNotFound)
	wantStatus(t, w.anon.post("/lessons/cap/complete", url.Values{"done": {"true"}}), http.StatusUnauthorized)
	if loc := w.anon.get("/review").Header.Get("Location"); !strings.HasPrefix(loc, "/login?next=") {
		t.Errorf("anonymous /review redirected to %q", loc)
	}
}

// complete: a learner marks a lesson complete with htmx and gets the
// fragment back.
func (w *learnRun) complete(t *testing.T) {
	t.Helper()
	w.b = MustRegister(t, w.a, "learner@example.org")
	wantStatus(t, w.b.get("/lessons/cap"), http.StatusOK)

	// Mark complete with htmx: the fragment comes back.
	req, _ := http.NewRequest(http.MethodPost, w.a.URL+"/lessons/cap/complete", strings.NewReader("done=true"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp := w.b.do(req)
	wantStatus(t, resp, http.StatusOK)
	if got := testid(doc(t, resp), "lesson-complete-state"); !strings.Contains(got, "completed") {
		t.Errorf("complete fragment says %q", got)
	}
}

// takeQuiz: a wrong attempt at the quiz, then a right one, each explained
// and listed.
func (w *learnRun) takeQuiz(t *testing.T) {
	t.Helper()
	// The quiz: a wrong attempt, then a right one.
	quiz := w.cat.Quizzes["cap"]
	resp := w.b.post("/lessons/cap/quiz", url.Values{"q.nonsense": {"1"}, "q." + quiz.Questions[0].ID: {"not a number", "99"}})
	wantStatus(t, resp, http.StatusOK)
	if got := testid(doc(t, resp), "quiz-score"); got != "0 / "+strconv.Itoa(len(quiz.Questions)) {
		t.Errorf("empty attempt scored %q", got)
	}
	resp = w.b.post("/lessons/cap/quiz", correctAnswers(quiz))
	wantStatus(t, resp, http.StatusOK)
	d := doc(t, resp)
	if got := testid(d, "quiz-score"); got != strconv.Itoa(len(quiz.Questions))+" / "+strconv.Itoa(len(quiz.Questions)) {
		t.Errorf("right attempt scored %q", got)
	}
	if d.Find(".explanation").Length() != len(quiz.Questions) {
		t.Error("not every answer is explained")
	}
	if d.Find(".history tbody tr").Length() != 2 {
		t.Error("attempts are not listed")
	}
	// An estimate is right within 15%: 6,000 for 6,944 requests a second.
	resp = w.b.post("/lessons/design-principles/quiz", url.Values{"q.peak-qps": {"6,000"}})
	wantStatus(t, resp, http.StatusOK)
	d = doc(t, resp)
	if got := testid(d, "quiz-score"); !strings.HasPrefix(got, "1 / ") {
		t.Errorf("an estimate within 15%% scored %q", got)
	}
	if !strings.Contains(d.Text(), "an estimate: within 15%") {
		t.Error("the result does not say an estimate is right within 15%")
	}
}

// answerQuestion: an empty answer to an interview question is refused,
// then an answer is kept and rated.
func (w *learnRun) answerQuestion(t *testing.T) {
	t.Helper()
	// An interview question: an empty answer is refused, then kept.
	w.qslug = w.cat.Lessons[1].Questions[0]
	resp := w.b.post("/questions/"+w.qslug+"/answer", url.Values{"answer": {"   "}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if doc(t, resp).Find(`[data-testid="model-answer"]`).Length() != 0 {
		t.Error("model answer revealed before an answer was written")
	}
	wantStatus(t, w.b.post("/questions/"+w.qslug+"/answer", url.Values{"answer": {"Partitions force a choice."}}), http.StatusSeeOther)
	resp = w.b.get("/questions/" + w.qslug)
	d := doc(t, resp)
	if d.Find(`[data-testid="model-answer"]`).Length() != 1 || d.Find("#answer").Text() != "Partitions force a choice." {
		t.Error("answer not kept or model answer not revealed")
	}
	wantStatus(t, w.b.post("/questions/"+w.qslug+"/rate", url.Values{"rating": {"9"}}), http.StatusUnprocessableEntity)
	wantStatus(t, w.b.post("/questions/"+w.qslug+"/rate", url.Values{"rating": {"4"}, "point": {"0", "1", "77"}}), http.StatusSeeOther)
	if got := testid(doc(t, w.b.get("/questions/"+w.qslug)), "rating-saved"); !strings.Contains(got, "Good") {
		t.Errorf("rating shows %q", got)
	}
}

// review: the deck holds the lesson's cards and the question's, and a
// review takes one off the count.
func (w *learnRun) review(t *testing.T) {
	t.Helper()
	// Review: the deck holds the lesson's cards and the question's.
	q, err := w.a.app.progress.ReviewQueue(context.Background(), mustUserID(t, w.a, "learner@example.org"))
	if err != nil {
		t.Fatal(err)
	}
	l, _ := w.cat.Lesson("cap")
	if q.DeckSize != len(l.Cards)+1 || q.Total() != q.DeckSize {
		t.Errorf("deck %d cards, %d waiting; want %d", q.DeckSize, q.Total(), len(l.Cards)+1)
	}
	resp := w.b.get("/review")
	wantStatus(t, resp, http.StatusOK)
	d := doc(t, resp)
	cardID, _ := d.Find(`[data-testid="grade-form"] input[name="card"]`).Attr("value")
	if cardID == "" {
		t.Fatal("no card to review")
	}
	if got := testid(d, "due-count"); got != strconv.Itoa(q.Total()) {
		t.Errorf("nav due count %q, want %d", got, q.Total())
	}
	wantStatus(t, w.b.post("/review", url.Values{"card": {cardID}, "grade": {"4"}}), http.StatusSeeOther)
	wantStatus(t, w.b.post("/review", url.Values{"card": {"lesson/not-mine/1"}, "grade": {"4"}}), http.StatusNotFound)
	wantStatus(t, w.b.post("/review", url.Values{"card": {cardID}, "grade": {"2"}}), http.StatusUnprocessableEntity)
	if got := testid(doc(t, w.b.get("/review")), "due-count"); got != strconv.Itoa(q.Total()-1) {
		t.Errorf("after one review the nav says %q due, want %d", got, q.Total()-1)
	}
}

// checkProgress: progress shows it all, and a checklist outcome ticks by
// hand.
func (w *learnRun) checkProgress(t *testing.T) {
	t.Helper()
	// Progress shows it all, and a checklist outcome ticks by hand.
	resp := w.b.get("/progress")
	wantStatus(t, resp, http.StatusOK)
	d := doc(t, resp)
	if got := testid(d, "stat-lessons"); !strings.HasPrefix(got, "1") {
		t.Errorf("lessons completed stat %q", got)
	}
	if got := testid(d, "stat-quizzes"); !strings.HasPrefix(got, "1") {
		t.Errorf("quizzes passed stat %q", got)
	}
	if got := testid(d, "stat-streak"); got != "1" {
		t.Errorf("streak %q", got)
	}
	oid := w.cat.Outcomes[0].ID
	wantStatus(t, w.b.post("/progress/outcomes", url.Values{"outcome": {oid}, "ticked": {"true"}}), http.StatusSeeOther)
	if d := doc(t, w.b.get("/progress")); d.Find(`[data-testid="outcome-`+oid+`"].done`).Length() != 1 {
		t.Error("outcome ticked by hand is not done")
	}
	wantStatus(t, w.b.post("/progress/outcomes", url.Values{"outcome": {"nope"}, "ticked": {"true"}}), http.StatusNotFound)
}

// checkOthersSeeNothing: another learner sees none of it.
func (w *learnRun) checkOthersSeeNothing(t *testing.T) {
	t.Helper()
	// Another learner sees none of it.
	other := MustRegister(t, w.a, "other@example.org")
	d := doc(t, other.get("/progress"))
	if got := testid(d, "stat-lessons"); !strings.HasPrefix(got, "0") {
		t.Errorf("another learner's progress leaks: %q", got)
	}
	if doc(t, other.get("/questions/"+w.qslug)).Find("#answer").Text() != "" {
		t.Error("another learner sees the first one's answer")
	}
}

func mustUserID(tb testing.TB, a *testApp, email string) int64 {
	tb.Helper()
	u, err := a.store.UserByEmail(context.Background(), email)
	if err != nil {
		tb.Fatal(err)
	}
	return u.ID
}

func TestSearch(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil)
	b := newBrowser(t, a)
	resp := b.get("/search?q=consistent+hashing")
	wantStatus(t, resp, http.StatusOK)
	d := doc(t, resp)
	var hrefs []string
	d.Find(".search-hits a").Each(func(_ int, s *goquery.Selection) { h, _ := s.Attr("href"); hrefs = append(hrefs, h) })
	if !contains(hrefs, "/questions/consistent-hashing") || !contains(hrefs, "/lessons/database-scaling") {
		t.Errorf("search hits %v", hrefs)
	}
	resp = b.get("/search?q=" + url.QueryEscape(strings.Repeat("zzz ", 300)))
	wantStatus(t, resp, http.StatusOK)
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
