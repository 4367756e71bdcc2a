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
	"github.com/sdworkbook/workbook/interviews"
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
	// Interviews are the mock interview problems, whose missed
	// checkpoints join the deck; nil adds none.
	Interviews *interviews.Set
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
	opened := make([]string, len(lp))
	for i, p := range lp {
		opened[i] = p.LessonSlug
	}
	answered := make([]string, len(qa))
	for i, a := range qa {
		answered[i] = a.QuestionSlug
	}
	var closed []store.ClosedStage
	if s.Interviews != nil {
		if closed, err = s.Store.ClosedInterviewStages(ctx, userID); err != nil {
			return nil, err
		}
	}
	return s.deckOf(opened, answered, closed), nil
}

// deckOf is the deck of a learner who opened these lessons, answered
// these questions and closed these stages of mock interviews.
func (s *Service) deckOf(opened, answered []string, closed []store.ClosedStage) []lessons.Card {
	in := map[string]bool{}
	for _, slug := range opened {
		in["lesson:"+slug] = true
	}
	for _, slug := range answered {
		in["question:"+slug] = true
	}
	var out []lessons.Card
	for _, c := range s.Catalog().Cards {
		if in[c.Kind+":"+c.Source] {
			out = append(out, c)
		}
	}
	return append(out, s.interviewCards(closed)...)
}

// startOfDay is the start of now's day in UTC, when a new day's cards
// begin to count.
func startOfDay(now time.Time) time.Time { return now.UTC().Truncate(24 * time.Hour) }

// DueCount is how many cards wait in the review queue (ReviewQueue's
// Total) of the learner whose navigation record this is.
func (s *Service) DueCount(r store.NavRecord) int {
	deck := s.deckOf(r.Lessons, r.Questions, r.Interviews)
	due := map[string]bool{}
	introducedToday := 0
	for _, c := range r.Cards {
		due[c.ID] = c.Due
		if c.Today {
			introducedToday++
		}
	}
	room := max(0, NewCardsPerDay-introducedToday)
	n, fresh := 0, 0
	for _, c := range deck {
		isDue, seen := due[c.ID]
		switch {
		case !seen && fresh < room:
			fresh++
		case seen && isDue:
			n++
		}
	}
	return n + fresh
}

// NavRecord reads what the navigation counts from, in one query: with
// staff, the submissions waiting for the user's look up to limit too.
func (s *Service) NavRecord(ctx context.Context, userID int64, staff bool, limit int) (store.NavRecord, error) {
	now := s.Now()
	waitingFor := int64(0)
	if staff {
		waitingFor = userID
	}
	return s.Store.NavRecord(ctx, userID, now, startOfDay(now), waitingFor, limit)
}

// Queue is the state of a learner's review queue.
type Queue struct {
	Due      []lessons.Card // scheduled cards due now, most overdue first
	New      []lessons.Card // unseen cards that may join today
	DeckSize int
	// States are the schedules of the deck's cards seen before, by id.
	States map[string]store.CardState
	// Now is when the queue was computed.
	Now time.Time
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
	today := startOfDay(now)
	byID := map[string]store.CardState{}
	introducedToday := 0
	for _, st := range states {
		byID[st.CardID] = st
		if !st.CreatedAt.Before(today) {
			introducedToday++
		}
	}
	q := Queue{DeckSize: len(deck), States: byID, Now: now}
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
			cur, created = scheduleOf(st), st.CreatedAt
		}
	}
	next := srs.Review(cur, grade, now)
	err = s.Store.ReviewCard(ctx, store.CardState{
		UserID: userID, CardID: cardID, Ease: next.Ease, IntervalDays: next.IntervalDays,
		Repetitions: next.Repetitions, Lapses: next.Lapses, DueAt: next.Due, LastReviewedAt: now, CreatedAt: created,
	}, grade)
	return next, err
}

// scheduleOf is a stored schedule as the scheduler reads it.
func scheduleOf(st store.CardState) srs.State {
	return srs.State{Ease: st.Ease, IntervalDays: st.IntervalDays, Repetitions: st.Repetitions, Lapses: st.Lapses, Due: st.DueAt}
}

// Grades are the grades a review offers, in the order of its buttons
// (and of the keys 1 to 4).
var Grades = [4]int{srs.Again, srs.Hard, srs.Good, srs.Easy}

// NextIntervals says, for each of Grades, how long until the card comes
// back if the learner answers with it now: what Review would schedule.
func (q Queue) NextIntervals(cardID string) [4]time.Duration {
	cur := srs.New(q.Now.UTC())
	if st, ok := q.States[cardID]; ok {
		cur = scheduleOf(st)
	}
	var out [4]time.Duration
	for i, g := range Grades {
		out[i] = srs.Review(cur, g, q.Now.UTC()).Due.Sub(q.Now.UTC())
	}
	return out
}

// NextDue is when the soonest card of the deck seen before comes due
// after the queue's time; zero when none does.
func (q Queue) NextDue() time.Time {
	var next time.Time
	for _, st := range q.States {
		if st.DueAt.After(q.Now) && (next.IsZero() || st.DueAt.Before(next)) {
			next = st.DueAt
		}
	}
	return next
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

// Streak is a learner's review streak in days, in one query.
func (s *Service) Streak(ctx context.Context, userID int64) (int, error) {
	now := s.Now()
	reviews, err := s.Store.ReviewTimes(ctx, userID, now.AddDate(0, 0, -400))
	if err != nil {
		return 0, err
	}
	return srs.Streak(reviews, now, time.UTC), nil
}
