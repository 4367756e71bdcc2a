// Package progress is the learner's side of the workbook: which lessons they
// opened and completed, quiz results, practised questions, the flashcard
// queue (SM-2), the review streak and the module checklist. It joins the
// content catalog with what the store remembers.
package progress

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"time"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/srs"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/lessons"
)

// NewCardsPerDay bounds how many unseen cards join a learner's queue a day,
// so opening five lessons does not bury them in reviews.
const NewCardsPerDay = 20

// LabEvidence reports which labs a learner has a graded submission for.
type LabEvidence func(ctx context.Context, userID int64) (map[string]bool, error)

// Service answers progress questions for one catalog and store.
type Service struct {
	Catalog func() *lessons.Catalog
	Store   *store.Store
	Now     func() time.Time
	// Labs is nil until the grader provides it; lab evidence is then unmet.
	Labs LabEvidence
}

// deck lists the cards a learner studies: those of the lessons they opened
// and of the questions they answered, in catalog order.
func (s *Service) deck(ctx context.Context, userID int64) ([]lessons.Card, error) {
	lp, err := s.Store.LessonProgressOf(ctx, userID)
	if err != nil {
		return nil, err
	}
	qa, err := s.Store.QuestionAnswers(ctx, userID)
	if err != nil {
		return nil, err
	}
	in := map[string]bool{}
	for _, p := range lp {
		in["lesson:"+p.LessonSlug] = true
	}
	for _, a := range qa {
		in["question:"+a.QuestionSlug] = true
	}
	var out []lessons.Card
	for _, c := range s.Catalog().Cards {
		if in[c.Kind+":"+c.Source] {
			out = append(out, c)
		}
	}
	return out, nil
}

// Queue is the state of a learner's review queue.
type Queue struct {
	Due      []lessons.Card // scheduled cards due now, most overdue first
	New      []lessons.Card // unseen cards that may join today
	DeckSize int
}

// Total is how many cards are waiting.
func (q Queue) Total() int { return len(q.Due) + len(q.New) }

// Next is the card to show, or nil when the queue is empty.
func (q Queue) Next() *lessons.Card {
	if len(q.Due) > 0 {
		return &q.Due[0]
	}
	if len(q.New) > 0 {
		return &q.New[0]
	}
	return nil
}

// ReviewQueue computes what a learner should review now.
func (s *Service) ReviewQueue(ctx context.Context, userID int64) (Queue, error) {
	deck, err := s.deck(ctx, userID)
	if err != nil {
		return Queue{}, err
	}
	states, err := s.Store.CardStates(ctx, userID)
	if err != nil {
		return Queue{}, err
	}
	now := s.Now()
	today := now.UTC().Truncate(24 * time.Hour)
	byID := map[string]store.CardState{}
	introducedToday := 0
	for _, st := range states {
		byID[st.CardID] = st
		if !st.CreatedAt.Before(today) {
			introducedToday++
		}
	}
	q := Queue{DeckSize: len(deck)}
	room := max(0, NewCardsPerDay-introducedToday)
	for _, c := range deck {
		st, seen := byID[c.ID]
		switch {
		case !seen && len(q.New) < room:
			q.New = append(q.New, c)
		case seen && !st.DueAt.After(now):
			q.Due = append(q.Due, c)
		}
	}
	sort.SliceStable(q.Due, func(i, j int) bool { return byID[q.Due[i].ID].DueAt.Before(byID[q.Due[j].ID].DueAt) })
	return q, nil
}

// Review records a grade for a card in the learner's deck and reschedules it.
func (s *Service) Review(ctx context.Context, userID int64, cardID string, grade int) (srs.State, error) {
	if !srs.ValidGrade(grade) {
		return srs.State{}, apperr.Fields(map[string]string{"grade": "Choose Again, Hard, Good or Easy."})
	}
	deck, err := s.deck(ctx, userID)
	if err != nil {
		return srs.State{}, err
	}
	if !slices.ContainsFunc(deck, func(c lessons.Card) bool { return c.ID == cardID }) {
		return srs.State{}, apperr.New(apperr.NotFound, "That card is not in your deck.")
	}
	states, err := s.Store.CardStates(ctx, userID)
	if err != nil {
		return srs.State{}, err
	}
	now := s.Now().UTC()
	cur := srs.New(now)
	created := now
	for _, st := range states {
		if st.CardID == cardID {
			cur = srs.State{Ease: st.Ease, IntervalDays: st.IntervalDays, Repetitions: st.Repetitions, Lapses: st.Lapses, Due: st.DueAt}
			created = st.CreatedAt
		}
	}
	next := srs.Review(cur, grade, now)
	err = s.Store.ReviewCard(ctx, store.CardState{
		UserID: userID, CardID: cardID, Ease: next.Ease, IntervalDays: next.IntervalDays,
		Repetitions: next.Repetitions, Lapses: next.Lapses, DueAt: next.Due, LastReviewedAt: now, CreatedAt: created,
	}, grade)
	return next, err
}

// LessonStatus is one lesson on the dashboard.
type LessonStatus struct {
	Lesson    *lessons.Lesson
	Opened    bool
	Completed bool
	BestQuiz  int // percent, -1 when never attempted
	Attempts  int
	Passed    bool
	LastSeen  time.Time
}

// EvidenceStatus is one evidence item of an outcome.
type EvidenceStatus struct {
	lessons.Evidence
	Label string
	Href  string
	Met   bool
}

// OutcomeStatus is one checklist outcome.
type OutcomeStatus struct {
	lessons.Outcome
	Items    []EvidenceStatus
	ByHand   bool
	Evidence bool // every evidence item is met
}

// Done reports whether the outcome is ticked, by evidence or by hand.
func (o OutcomeStatus) Done() bool { return o.ByHand || o.Evidence }

// Dashboard is everything the progress page shows.
type Dashboard struct {
	Lessons            []LessonStatus
	Opened, Completed  int
	QuizzesPassed      int
	QuizAverage        int // mean of best scores, percent, over attempted quizzes
	QuestionsPractised int
	QuestionsTotal     int
	Streak             int
	ReviewsDue         int
	Outcomes           []OutcomeStatus
	OutcomesDone       int
	Continue           *lessons.Lesson
}

// Dashboard gathers a learner's progress.
func (s *Service) Dashboard(ctx context.Context, userID int64) (Dashboard, error) {
	cat := s.Catalog()
	lp, err := s.Store.LessonProgressOf(ctx, userID)
	if err != nil {
		return Dashboard{}, err
	}
	attempts, err := s.Store.QuizAttempts(ctx, userID, "")
	if err != nil {
		return Dashboard{}, err
	}
	answers, err := s.Store.QuestionAnswers(ctx, userID)
	if err != nil {
		return Dashboard{}, err
	}
	ticks, err := s.Store.OutcomeTicks(ctx, userID)
	if err != nil {
		return Dashboard{}, err
	}
	now := s.Now()
	reviews, err := s.Store.ReviewTimes(ctx, userID, now.AddDate(0, 0, -400))
	if err != nil {
		return Dashboard{}, err
	}
	queue, err := s.ReviewQueue(ctx, userID)
	if err != nil {
		return Dashboard{}, err
	}
	labs := map[string]bool{}
	if s.Labs != nil {
		if labs, err = s.Labs(ctx, userID); err != nil {
			return Dashboard{}, err
		}
	}

	prog := map[string]store.LessonProgress{}
	for _, p := range lp {
		prog[p.LessonSlug] = p
	}
	best := map[string]int{}
	count := map[string]int{}
	passed := map[string]bool{}
	for _, a := range attempts {
		pct := 0
		if a.MaxScore > 0 {
			pct = a.Score * 100 / a.MaxScore
		}
		if c, ok := best[a.LessonSlug]; !ok || pct > c {
			best[a.LessonSlug] = pct
		}
		count[a.LessonSlug]++
		passed[a.LessonSlug] = passed[a.LessonSlug] || a.Passed
	}

	d := Dashboard{QuestionsTotal: len(cat.Questions), ReviewsDue: queue.Total(),
		Streak: srs.Streak(reviews, now, time.UTC)}
	sum, n := 0, 0
	var lastOpen time.Time
	for _, l := range cat.Lessons {
		p, opened := prog[l.Slug]
		ls := LessonStatus{Lesson: l, Opened: opened, Completed: opened && p.CompletedAt != nil, BestQuiz: -1,
			Attempts: count[l.Slug], Passed: passed[l.Slug]}
		if opened {
			ls.LastSeen = p.LastOpenedAt
			d.Opened++
			// Continue with the most recently opened lesson not yet completed.
			if !ls.Completed && p.LastOpenedAt.After(lastOpen) {
				lastOpen, d.Continue = p.LastOpenedAt, l
			}
		}
		if ls.Completed {
			d.Completed++
		}
		if b, ok := best[l.Slug]; ok {
			ls.BestQuiz = b
			sum += b
			n++
		}
		if ls.Passed {
			d.QuizzesPassed++
		}
		d.Lessons = append(d.Lessons, ls)
	}
	if n > 0 {
		d.QuizAverage = sum / n
	}
	if d.Continue == nil {
		for _, ls := range d.Lessons { // else the first lesson not completed
			if !ls.Completed {
				d.Continue = ls.Lesson
				break
			}
		}
	}
	for _, a := range answers {
		if a.Rating != nil || a.Answer != "" {
			d.QuestionsPractised++
		}
	}

	hand := map[string]bool{}
	for _, t := range ticks {
		hand[t.OutcomeID] = true
	}
	for _, o := range cat.Outcomes {
		os := OutcomeStatus{Outcome: o, ByHand: hand[o.ID], Evidence: len(o.Evidence) > 0}
		for _, e := range o.Evidence {
			es := EvidenceStatus{Evidence: e}
			switch e.Kind {
			case "lesson":
				l, _ := cat.Lesson(e.Ref)
				es.Label, es.Href = "Complete the lesson “"+title(l, e.Ref)+"”", "/lessons/"+e.Ref
				es.Met = prog[e.Ref].CompletedAt != nil
			case "quiz":
				l, _ := cat.Lesson(e.Ref)
				es.Label, es.Href = "Pass the quiz of “"+title(l, e.Ref)+"”", "/lessons/"+e.Ref+"/quiz"
				es.Met = passed[e.Ref]
			case "lab":
				es.Label = "Get a design graded in the " + e.Ref + " lab"
				if s.Labs != nil { // the labs are served: link them
					es.Href = "/labs/" + e.Ref
				}
				es.Met = labs[e.Ref]
			}
			os.Evidence = os.Evidence && es.Met
			os.Items = append(os.Items, es)
		}
		if os.Done() {
			d.OutcomesDone++
		}
		d.Outcomes = append(d.Outcomes, os)
	}
	return d, nil
}

func title(l *lessons.Lesson, fallback string) string {
	if l == nil {
		return fallback
	}
	return l.Title
}

// GradeQuiz grades answers to a lesson's quiz and stores the attempt.
func (s *Service) GradeQuiz(ctx context.Context, userID int64, slug string, a lessons.Answers) (lessons.Result, error) {
	quiz, ok := s.Catalog().Quizzes[slug]
	if !ok {
		return lessons.Result{}, apperr.New(apperr.NotFound, "That lesson has no quiz.")
	}
	res := quiz.Grade(a)
	// Keep only answers to this quiz's questions, bounded.
	kept := lessons.Answers{}
	for _, q := range quiz.Questions {
		if v := a[q.ID]; len(v) > 0 {
			kept[q.ID] = v[:min(len(v), 16)]
		}
	}
	raw, _ := json.Marshal(kept)
	err := s.Store.AddQuizAttempt(ctx, &store.QuizAttempt{UserID: userID, LessonSlug: slug, Score: res.Score,
		MaxScore: res.Max, Passed: res.Passed, Answers: string(raw), CreatedAt: s.Now()})
	return res, err
}

// Summary is the part of a learner's progress a gradebook shows.
type Summary struct {
	Completed   int // lessons completed
	QuizAverage int // mean of best quiz scores, percent, over attempted quizzes
	Streak      int // review streak in days
}

// Summary computes one learner's summary.
func (s *Service) Summary(ctx context.Context, userID int64) (Summary, error) {
	m, err := s.Summaries(ctx, []int64{userID})
	return m[userID], err
}

// Summaries computes the summaries of several learners with three
// queries in all, for pages that show many learners at once.
func (s *Service) Summaries(ctx context.Context, userIDs []int64) (map[int64]Summary, error) {
	cat := s.Catalog()
	lp, err := s.Store.LessonProgressOfUsers(ctx, userIDs)
	if err != nil {
		return nil, err
	}
	attempts, err := s.Store.QuizAttemptsOfUsers(ctx, userIDs)
	if err != nil {
		return nil, err
	}
	now := s.Now()
	reviews, err := s.Store.ReviewTimesOfUsers(ctx, userIDs, now.AddDate(0, 0, -400))
	if err != nil {
		return nil, err
	}
	out := make(map[int64]Summary, len(userIDs))
	for _, id := range userIDs {
		out[id] = Summary{Streak: srs.Streak(reviews[id], now, time.UTC)}
	}
	for _, p := range lp {
		if _, ok := cat.Lesson(p.LessonSlug); ok && p.CompletedAt != nil {
			sum := out[p.UserID]
			sum.Completed++
			out[p.UserID] = sum
		}
	}
	best := map[int64]map[string]int{}
	for _, a := range attempts {
		if _, ok := cat.Lesson(a.LessonSlug); !ok {
			continue
		}
		pct := 0
		if a.MaxScore > 0 {
			pct = a.Score * 100 / a.MaxScore
		}
		if best[a.UserID] == nil {
			best[a.UserID] = map[string]int{}
		}
		if b, ok := best[a.UserID][a.LessonSlug]; !ok || pct > b {
			best[a.UserID][a.LessonSlug] = pct
		}
	}
	for id, bs := range best {
		total := 0
		for _, b := range bs {
			total += b
		}
		sum := out[id]
		sum.QuizAverage = total / len(bs)
		out[id] = sum
	}
	return out, nil
}
