package progress

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/srs"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/lessons"
)

func mustService(tb testing.TB) (*Service, int64, *time.Time) {
	tb.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{SQLitePath: filepath.Join(tb.TempDir(), "p.db")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	cat, err := lessons.Load(lessons.Embedded())
	if err != nil {
		tb.Fatal(err)
	}
	u, err := st.CreateUser(ctx, "p@example.org", "x", store.RoleLearner)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	return &Service{Catalog: func() *lessons.Catalog { return cat }, Store: st, Now: func() time.Time { return now }}, u.ID, &now
}

// checkDueCount: the navigation's count, from its one-query record, is
// the review queue's total.
func checkDueCount(t *testing.T, s *Service, uid int64, q Queue) {
	t.Helper()
	r, err := s.NavRecord(context.Background(), uid, false, 100)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.DueCount(r); n != q.Total() {
		t.Errorf("the nav counts %d cards due, the queue has %d", n, q.Total())
	}
}

func TestQueueLimitsNewCardsAndSchedules(t *testing.T) {
	ctx := context.Background()
	s, uid, now := mustService(t)
	q, err := s.ReviewQueue(ctx, uid)
	if err != nil || q.DeckSize != 0 || q.Next() != nil {
		t.Fatalf("empty deck: %+v %v", q, err)
	}
	// Opening every lesson puts all their cards in the deck, but only
	// NewCardsPerDay of them join today's queue.
	total := 0
	for _, l := range s.Catalog().Lessons {
		total += len(l.Cards)
		if err := s.Store.OpenLesson(ctx, uid, l.Slug, *now); err != nil {
			t.Fatal(err)
		}
	}
	q, _ = s.ReviewQueue(ctx, uid)
	checkDueCount(t, s, uid, q)
	if q.DeckSize != total || len(q.New) != NewCardsPerDay || len(q.Due) != 0 {
		t.Fatalf("deck %d (want %d), new %d, due %d", q.DeckSize, total, len(q.New), len(q.Due))
	}
	first := q.Next().ID
	st, err := s.Review(ctx, uid, first, srs.Good)
	if err != nil || st.IntervalDays != 1 {
		t.Fatalf("review: %+v %v", st, err)
	}
	// Reviewed today: one fewer new card may join, and it is not due.
	q, _ = s.ReviewQueue(ctx, uid)
	checkDueCount(t, s, uid, q)
	if len(q.New) != NewCardsPerDay-1 || q.Total() != NewCardsPerDay-1 {
		t.Errorf("after one review: new %d due %d", len(q.New), len(q.Due))
	}
	// Tomorrow it is due again, and fresh new cards are allowed.
	*now = now.Add(25 * time.Hour)
	q, _ = s.ReviewQueue(ctx, uid)
	checkDueCount(t, s, uid, q)
	if len(q.Due) != 1 || q.Due[0].ID != first || len(q.New) != NewCardsPerDay {
		t.Errorf("next day: due %v new %d", q.Due, len(q.New))
	}
	if _, err := s.Review(ctx, uid, "lesson/nope/1", srs.Good); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("foreign card: %v", err)
	}
	if _, err := s.Review(ctx, uid, first, 0); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("bad grade: %v", err)
	}
}

func TestDashboardEvidenceAndContinue(t *testing.T) {
	ctx := context.Background()
	s, uid, now := mustService(t)
	cat := s.Catalog()
	d, err := s.Dashboard(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	if d.Continue == nil || d.Continue.Slug != cat.Lessons[0].Slug {
		t.Errorf("a new learner continues with %v", d.Continue)
	}
	target := outcomeWithoutLabs(t, cat)
	meetEvidence(t, s, uid, *now, target)
	// Open another lesson later: continue points at it.
	open := cat.Lessons[len(cat.Lessons)-1].Slug
	if err := s.Store.OpenLesson(ctx, uid, open, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	d, _ = s.Dashboard(ctx, uid)
	for _, o := range d.Outcomes {
		if o.ID == target.ID && (!o.Evidence || !o.Done()) {
			t.Errorf("outcome %s not ticked by its evidence: %+v", o.ID, o.Items)
		}
		if o.ID != target.ID && o.Done() && !o.Evidence {
			t.Errorf("outcome %s done without evidence", o.ID)
		}
	}
	if d.Continue == nil || d.Continue.Slug != open {
		t.Errorf("continue with %v, want %s", d.Continue, open)
	}
	// The gradebook's summary agrees with the dashboard.
	if sum, err := s.Summary(ctx, uid); err != nil || sum.Completed != d.Completed || sum.QuizAverage != d.QuizAverage || sum.Streak != d.Streak {
		t.Errorf("summary %+v (%v), dashboard completed %d quiz %d streak %d", sum, err, d.Completed, d.QuizAverage, d.Streak)
	}
	if d.QuizzesPassed == 0 || d.QuizAverage != 100 {
		t.Errorf("quizzes passed %d average %d", d.QuizzesPassed, d.QuizAverage)
	}
}

// outcomeWithoutLabs is an outcome whose evidence is lessons and quizzes
// only.
func outcomeWithoutLabs(t *testing.T, cat *lessons.Catalog) lessons.Outcome {
	t.Helper()
	var target lessons.Outcome
	for _, o := range cat.Outcomes {
		ok := len(o.Evidence) > 0
		for _, e := range o.Evidence {
			ok = ok && e.Kind != "lab"
		}
		if ok {
			target = o
			break
		}
	}
	if target.ID == "" {
		t.Fatal("no outcome without lab evidence")
	}
	return target
}

// meetEvidence completes the outcome's lessons and passes its quizzes
// with every answer right.
func meetEvidence(t *testing.T, s *Service, uid int64, now time.Time, target lessons.Outcome) {
	t.Helper()
	ctx, cat := context.Background(), s.Catalog()
	for i, e := range target.Evidence {
		switch e.Kind {
		case "lesson":
			if err := s.Store.SetLessonComplete(ctx, uid, e.Ref, true, now.Add(time.Duration(i)*time.Minute)); err != nil {
				t.Fatal(err)
			}
		case "quiz":
			q := cat.Quizzes[e.Ref]
			a := lessons.Answers{}
			for _, qq := range q.Questions {
				for _, c := range qq.Correct {
					a[qq.ID] = append(a[qq.ID], itoa(c))
				}
				if qq.Kind == lessons.KindNumeric {
					a[qq.ID] = []string{ftoa(qq.Answer)}
				}
			}
			res, err := s.GradeQuiz(ctx, uid, e.Ref, a)
			if err != nil || !res.Passed {
				t.Fatalf("quiz %s: %+v %v", e.Ref, res.Score, err)
			}
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// Summaries of several learners at once match each learner's own, and
// nobody's work counts for anyone else.
func TestSummariesKeepLearnersApart(t *testing.T) {
	ctx := context.Background()
	s, ada, now := mustService(t)
	u, err := s.Store.CreateUser(ctx, "bob@example.org", "x", store.RoleLearner)
	if err != nil {
		t.Fatal(err)
	}
	bob := u.ID
	cat := s.Catalog()
	for i, l := range cat.Lessons[:3] {
		if err := s.Store.SetLessonComplete(ctx, ada, l.Slug, true, now.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Store.SetLessonComplete(ctx, bob, cat.Lessons[0].Slug, true, *now))
	must(s.Store.AddQuizAttempt(ctx, &store.QuizAttempt{UserID: ada, LessonSlug: "cap", Score: 4, MaxScore: 10, Answers: "{}", CreatedAt: *now}))
	must(s.Store.AddQuizAttempt(ctx, &store.QuizAttempt{UserID: ada, LessonSlug: "cap", Score: 8, MaxScore: 10, Answers: "{}", CreatedAt: *now}))
	must(s.Store.AddQuizAttempt(ctx, &store.QuizAttempt{UserID: bob, LessonSlug: "cap", Score: 10, MaxScore: 10, Answers: "{}", CreatedAt: *now}))
	for d := range 3 { // bob reviewed on three days in a row, up to today
		at := now.AddDate(0, 0, -d)
		must(s.Store.ReviewCard(ctx, store.CardState{UserID: bob, CardID: "cap-1", Ease: 2.5, DueAt: at, LastReviewedAt: at}, 4))
	}
	sums, err := s.Summaries(ctx, []int64{ada, bob, 999})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]Summary{ada: {Completed: 3, QuizAverage: 80}, bob: {Completed: 1, QuizAverage: 100, Streak: 3}, 999: {}}
	for id, w := range want {
		if sums[id] != w {
			t.Errorf("learner %d: %+v, want %+v", id, sums[id], w)
		}
		if one, err := s.Summary(ctx, id); err != nil || one != w {
			t.Errorf("learner %d alone: %+v (%v), want %+v", id, one, err, w)
		}
	}
}
