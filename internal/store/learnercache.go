package store

import (
	"context"
	"slices"
	"sync"
	"time"
)

// A learner's record (lesson progress, quiz attempts, written answers,
// card schedules, review times, ticked outcomes) is read on almost every
// page a learner opens and written a few times a minute at most. When a
// process turns the cache on (CacheLearners), the store keeps each
// learner's record as it last read it: every write through this store
// drops that learner's copy once it is committed and tells OnLearnerChange,
// so that other processes can drop theirs (ForgetLearner); the TTL bounds
// what a lost message can leave behind.

// learnerCache is the store's copy of learners' records.
type learnerCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	serving func() bool // nil: the cache is off
	gen     uint64      // bumped by every forget: a read begun before one is not kept
	entries map[int64]*learnerEntry
	changed func(context.Context, int64)
}

// maxCachedLearners bounds the cache's memory; beyond it, it starts over.
const maxCachedLearners = 20_000

// maxCachedAttempts is the most quiz attempts QuizAttempts returns; a
// learner with that many is read from the database every time.
const maxCachedAttempts = 500

type learnerEntry struct {
	until         time.Time
	progress      []LessonProgress
	hasProgress   bool
	attempts      []QuizAttempt // every attempt, newest first, when fewer than maxCachedAttempts
	hasAttempts   bool
	answers       []QuestionAnswer
	hasAnswers    bool
	cards         []CardState
	hasCards      bool
	ticks         []OutcomeTick
	hasTicks      bool
	reviews       []CardReview // since reviewsFrom, oldest first (card, grade and time)
	reviewsFrom   time.Time
	hasReviews    bool
	best          []BestScore // best score per exercise (graders write these)
	hasBest       bool
	drills        DrillStats // estimation drill figures
	hasDrills     bool
	interviews    []InterviewSession // mock interviews with their stages, newest first
	hasInterviews bool
	closed        []ClosedStage // closed stages of mock interviews
	hasClosed     bool
}

// CacheLearners turns the learner cache on: copies are served for at most
// ttl, and only while serving answers true (a process that may miss
// another's changes must say false). Set it before the store is used.
func (s *Store) CacheLearners(ttl time.Duration, serving func() bool) {
	s.learners.mu.Lock()
	defer s.learners.mu.Unlock()
	s.learners.ttl, s.learners.serving = ttl, serving
	s.learners.entries = map[int64]*learnerEntry{}
}

// OnLearnerChange registers f to hear of every change to a learner's
// record made through this store, after it is committed.
func (s *Store) OnLearnerChange(f func(ctx context.Context, userID int64)) { s.learners.changed = f }

// ForgetLearner drops this process's copy of a learner's record; 0 drops
// every learner's.
func (s *Store) ForgetLearner(userID int64) {
	c := &s.learners
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if userID == 0 {
		clear(c.entries)
		return
	}
	delete(c.entries, userID)
}

// learnerChanged is called by every write to a learner's record.
// A failed write is forgotten too: it may have been applied.
func (s *Store) learnerChanged(ctx context.Context, err error, userID int64) error {
	s.ForgetLearner(userID)
	if f := s.learners.changed; f != nil && err == nil {
		f(ctx, userID)
	}
	return err
}

// submissionChanged is called by every write that may change a learner's
// best scores (a submission added, graded, given up or sent back), which
// names the submission, not its learner: the learner is read back. A
// learner that cannot be read is every learner.
func (s *Store) submissionChanged(ctx context.Context, id string) {
	if s.learners.serving == nil && s.learners.changed == nil {
		return // no copies here, and no one to tell
	}
	var userID int64
	err := s.db.WithContext(context.WithoutCancel(ctx)).Model(&Submission{}).Select("user_id").
		Where("id = ?", id).Scan(&userID).Error
	if err != nil {
		userID = 0
	}
	_ = s.learnerChanged(ctx, nil, userID)
}

// cachedLearner returns the learner's entry when it may be served, and the
// generation to hand to keepLearner after a read.
func (s *Store) cachedLearner(userID int64) (learnerEntry, uint64, bool) {
	c := &s.learners
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.serving == nil || !c.serving() {
		return learnerEntry{}, c.gen, false
	}
	e, ok := c.entries[userID]
	if !ok || !time.Now().Before(e.until) {
		return learnerEntry{}, c.gen, false
	}
	return *e, c.gen, true
}

// keepLearner stores one part of a learner's record read at gen, unless
// something was forgotten since.
func (s *Store) keepLearner(userID int64, gen uint64, set func(*learnerEntry)) {
	c := &s.learners
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.serving == nil || c.gen != gen || !c.serving() {
		return
	}
	e, ok := c.entries[userID]
	if !ok || !time.Now().Before(e.until) {
		if len(c.entries) >= maxCachedLearners {
			clear(c.entries)
		}
		e = &learnerEntry{until: time.Now().Add(c.ttl)}
		c.entries[userID] = e
	}
	set(e)
}

// LessonProgressOf returns a learner's progress rows, most recently opened
// first.
func (s *Store) LessonProgressOf(ctx context.Context, userID int64) ([]LessonProgress, error) {
	e, gen, ok := s.cachedLearner(userID)
	if ok && e.hasProgress {
		return slices.Clone(e.progress), nil
	}
	var rows []LessonProgress
	err := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("last_opened_at DESC").Find(&rows).Error
	if err != nil {
		return nil, mapErr(err, "lesson progress")
	}
	s.keepLearner(userID, gen, func(e *learnerEntry) { e.progress, e.hasProgress = slices.Clone(rows), true })
	return rows, nil
}

// QuizAttempts returns a learner's attempts, newest first, at most 500;
// an empty slug means every quiz.
func (s *Store) QuizAttempts(ctx context.Context, userID int64, slug string) ([]QuizAttempt, error) {
	e, gen, ok := s.cachedLearner(userID)
	if ok && e.hasAttempts {
		return attemptsOf(e.attempts, slug), nil
	}
	var all []QuizAttempt
	err := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("created_at DESC, id DESC").
		Limit(maxCachedAttempts).Find(&all).Error
	if err != nil {
		return nil, mapErr(err, "quiz attempts")
	}
	if len(all) < maxCachedAttempts {
		s.keepLearner(userID, gen, func(e *learnerEntry) { e.attempts, e.hasAttempts = slices.Clone(all), true })
		return attemptsOf(all, slug), nil
	}
	if slug == "" {
		return all, nil
	}
	var rows []QuizAttempt
	err = s.db.WithContext(ctx).Where("user_id = ? AND lesson_slug = ?", userID, slug).
		Order("created_at DESC, id DESC").Limit(maxCachedAttempts).Find(&rows).Error
	return rows, mapErr(err, "quiz attempts")
}

// attemptsOf returns a copy of the attempts at slug's quiz ("": all).
func attemptsOf(all []QuizAttempt, slug string) []QuizAttempt {
	out := make([]QuizAttempt, 0, len(all))
	for _, a := range all {
		if slug == "" || a.LessonSlug == slug {
			out = append(out, a)
		}
	}
	return out
}

// QuestionAnswers returns a learner's written answers.
func (s *Store) QuestionAnswers(ctx context.Context, userID int64) ([]QuestionAnswer, error) {
	e, gen, ok := s.cachedLearner(userID)
	if ok && e.hasAnswers {
		return slices.Clone(e.answers), nil
	}
	var rows []QuestionAnswer
	if err := s.db.WithContext(ctx).Where("user_id = ?", userID).Find(&rows).Error; err != nil {
		return nil, mapErr(err, "answers")
	}
	s.keepLearner(userID, gen, func(e *learnerEntry) { e.answers, e.hasAnswers = slices.Clone(rows), true })
	return rows, nil
}

// CardStates returns a learner's card schedules.
func (s *Store) CardStates(ctx context.Context, userID int64) ([]CardState, error) {
	e, gen, ok := s.cachedLearner(userID)
	if ok && e.hasCards {
		return slices.Clone(e.cards), nil
	}
	var rows []CardState
	if err := s.db.WithContext(ctx).Where("user_id = ?", userID).Find(&rows).Error; err != nil {
		return nil, mapErr(err, "cards")
	}
	s.keepLearner(userID, gen, func(e *learnerEntry) { e.cards, e.hasCards = slices.Clone(rows), true })
	return rows, nil
}

// OutcomeTicks returns the outcomes a learner ticked by hand.
func (s *Store) OutcomeTicks(ctx context.Context, userID int64) ([]OutcomeTick, error) {
	e, gen, ok := s.cachedLearner(userID)
	if ok && e.hasTicks {
		return slices.Clone(e.ticks), nil
	}
	var rows []OutcomeTick
	if err := s.db.WithContext(ctx).Where("user_id = ?", userID).Find(&rows).Error; err != nil {
		return nil, mapErr(err, "checklist")
	}
	s.keepLearner(userID, gen, func(e *learnerEntry) { e.ticks, e.hasTicks = slices.Clone(rows), true })
	return rows, nil
}

// ReviewTimes returns when a learner reviewed cards since a time, oldest
// first.
func (s *Store) ReviewTimes(ctx context.Context, userID int64, since time.Time) ([]time.Time, error) {
	rows, err := s.reviewsFrom(ctx, userID, since.UTC(), true)
	if err != nil {
		return nil, err
	}
	out := make([]time.Time, len(rows))
	for i, r := range rows {
		out[i] = r.ReviewedAt
	}
	return out, nil
}

// ReviewsSince returns a learner's reviews since a time, oldest first, at
// most maxSessionReviews: what a review session has done so far.
func (s *Store) ReviewsSince(ctx context.Context, userID int64, since time.Time) ([]CardReview, error) {
	rows, err := s.reviewsFrom(ctx, userID, since.UTC(), false)
	if len(rows) > maxSessionReviews {
		rows = rows[:maxSessionReviews]
	}
	return rows, err
}

// reviewsFrom returns a learner's reviews since a time, oldest first, from
// the cache when it holds them; keep says to keep what it reads (every
// review since then; otherwise at most maxSessionReviews are read).
func (s *Store) reviewsFrom(ctx context.Context, userID int64, since time.Time, keep bool) ([]CardReview, error) {
	e, gen, ok := s.cachedLearner(userID)
	if ok && e.hasReviews && !since.Before(e.reviewsFrom) {
		i, _ := slices.BinarySearchFunc(e.reviews, since, func(r CardReview, t time.Time) int { return r.ReviewedAt.Compare(t) })
		return slices.Clone(e.reviews[i:]), nil
	}
	q := s.db.WithContext(ctx).Select("card_id, grade, reviewed_at").Where("user_id = ? AND reviewed_at >= ?", userID, since).
		Order("reviewed_at")
	if !keep {
		q = q.Limit(maxSessionReviews)
	}
	var rows []CardReview
	if err := q.Find(&rows).Error; err != nil {
		return nil, mapErr(err, "reviews")
	}
	if keep {
		s.keepLearner(userID, gen, func(e *learnerEntry) {
			e.reviews, e.reviewsFrom, e.hasReviews = slices.Clone(rows), since, true
		})
	}
	return rows, nil
}

// LearnerCached says whether this process holds a copy of a learner's
// record that it may serve (for tests and diagnostics).
func (s *Store) LearnerCached(userID int64) bool {
	_, _, ok := s.cachedLearner(userID)
	return ok
}
