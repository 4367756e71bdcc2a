package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// OpenLesson records that a learner opened a lesson.
func (s *Store) OpenLesson(ctx context.Context, userID int64, slug string, now time.Time) error {
	now = now.UTC()
	lp := LessonProgress{UserID: userID, LessonSlug: slug, FirstOpenedAt: now, LastOpenedAt: now}
	return mapErr(s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "user_id"}, {Name: "lesson_slug"}},
		DoUpdates: clause.Assignments(map[string]any{"last_opened_at": now}),
	}).Create(&lp).Error, "lesson progress")
}

// SetLessonComplete marks a lesson completed (or not) for a learner.
func (s *Store) SetLessonComplete(ctx context.Context, userID int64, slug string, done bool, now time.Time) error {
	now = now.UTC()
	var at *time.Time
	if done {
		at = &now
	}
	lp := LessonProgress{UserID: userID, LessonSlug: slug, FirstOpenedAt: now, LastOpenedAt: now, CompletedAt: at}
	return mapErr(s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "user_id"}, {Name: "lesson_slug"}},
		DoUpdates: clause.Assignments(map[string]any{"completed_at": at, "last_opened_at": now}),
	}).Create(&lp).Error, "lesson progress")
}

// LessonProgressOf returns a learner's progress rows.
func (s *Store) LessonProgressOf(ctx context.Context, userID int64) ([]LessonProgress, error) {
	var rows []LessonProgress
	err := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("last_opened_at DESC").Find(&rows).Error
	return rows, mapErr(err, "lesson progress")
}

// AddQuizAttempt stores a graded attempt.
func (s *Store) AddQuizAttempt(ctx context.Context, a *QuizAttempt) error {
	a.CreatedAt = a.CreatedAt.UTC()
	return mapErr(s.db.WithContext(ctx).Create(a).Error, "quiz attempt")
}

// QuizAttempts returns a learner's attempts, newest first; an empty slug
// means every quiz.
func (s *Store) QuizAttempts(ctx context.Context, userID int64, slug string) ([]QuizAttempt, error) {
	q := s.db.WithContext(ctx).Where("user_id = ?", userID)
	if slug != "" {
		q = q.Where("lesson_slug = ?", slug)
	}
	var rows []QuizAttempt
	err := q.Order("created_at DESC, id DESC").Limit(500).Find(&rows).Error
	return rows, mapErr(err, "quiz attempts")
}

// SaveQuestionAnswer stores or replaces a learner's written answer.
func (s *Store) SaveQuestionAnswer(ctx context.Context, userID int64, slug, answer string, now time.Time) error {
	now = now.UTC()
	qa := QuestionAnswer{UserID: userID, QuestionSlug: slug, Answer: answer, KeyPointsHit: "[]", CreatedAt: now, UpdatedAt: now}
	return mapErr(s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "user_id"}, {Name: "question_slug"}},
		DoUpdates: clause.Assignments(map[string]any{"answer": answer, "updated_at": now}),
	}).Create(&qa).Error, "answer")
}

// RevealQuestion records that the learner revealed the model answer.
func (s *Store) RevealQuestion(ctx context.Context, userID int64, slug string, now time.Time) error {
	res := s.db.WithContext(ctx).Model(&QuestionAnswer{}).
		Where("user_id = ? AND question_slug = ? AND revealed_at IS NULL", userID, slug).
		Update("revealed_at", now.UTC())
	return mapErr(res.Error, "answer")
}

// RateQuestion stores the learner's self-rating against the key points.
func (s *Store) RateQuestion(ctx context.Context, userID int64, slug string, rating int, keyPointsJSON string, now time.Time) error {
	res := s.db.WithContext(ctx).Model(&QuestionAnswer{}).
		Where("user_id = ? AND question_slug = ?", userID, slug).
		Updates(map[string]any{"rating": rating, "key_points_hit": keyPointsJSON, "updated_at": now.UTC()})
	if res.Error == nil && res.RowsAffected == 0 {
		return mapErr(gorm.ErrRecordNotFound, "answer")
	}
	return mapErr(res.Error, "answer")
}

// QuestionAnswerOf returns a learner's answer to one question.
func (s *Store) QuestionAnswerOf(ctx context.Context, userID int64, slug string) (QuestionAnswer, error) {
	var qa QuestionAnswer
	err := s.db.WithContext(ctx).Take(&qa, "user_id = ? AND question_slug = ?", userID, slug).Error
	return qa, mapErr(err, "answer")
}

// QuestionAnswers returns all of a learner's answers.
func (s *Store) QuestionAnswers(ctx context.Context, userID int64) ([]QuestionAnswer, error) {
	var rows []QuestionAnswer
	err := s.db.WithContext(ctx).Where("user_id = ?", userID).Find(&rows).Error
	return rows, mapErr(err, "answers")
}

// CardStates returns a learner's card schedules.
func (s *Store) CardStates(ctx context.Context, userID int64) ([]CardState, error) {
	var rows []CardState
	err := s.db.WithContext(ctx).Where("user_id = ?", userID).Find(&rows).Error
	return rows, mapErr(err, "cards")
}

// ReviewCard saves a card's new schedule and logs the review, together.
func (s *Store) ReviewCard(ctx context.Context, st CardState, grade int) error {
	return mapErr(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.OnConflict{
			Columns: []clause.Column{{Name: "user_id"}, {Name: "card_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"ease", "interval_days", "repetitions", "lapses",
				"due_at", "last_reviewed_at"}),
		}).Create(&st).Error; err != nil {
			return err
		}
		return tx.Create(&CardReview{UserID: st.UserID, CardID: st.CardID, Grade: grade, ReviewedAt: st.LastReviewedAt}).Error
	}), "card review")
}

// ReviewTimes returns when a learner reviewed cards since a time, oldest first.
func (s *Store) ReviewTimes(ctx context.Context, userID int64, since time.Time) ([]time.Time, error) {
	var rows []CardReview
	err := s.db.WithContext(ctx).Select("reviewed_at").Where("user_id = ? AND reviewed_at >= ?", userID, since.UTC()).
		Order("reviewed_at").Find(&rows).Error
	out := make([]time.Time, len(rows))
	for i, r := range rows {
		out[i] = r.ReviewedAt
	}
	return out, mapErr(err, "reviews")
}

// SetOutcomeTick ticks or unticks a checklist outcome by hand.
func (s *Store) SetOutcomeTick(ctx context.Context, userID int64, outcomeID string, on bool, now time.Time) error {
	db := s.db.WithContext(ctx)
	if !on {
		return mapErr(db.Delete(&OutcomeTick{}, "user_id = ? AND outcome_id = ?", userID, outcomeID).Error, "checklist")
	}
	return mapErr(db.Clauses(clause.OnConflict{DoNothing: true}).
		Create(&OutcomeTick{UserID: userID, OutcomeID: outcomeID, TickedAt: now.UTC()}).Error, "checklist")
}

// OutcomeTicks returns the outcomes a learner ticked by hand.
func (s *Store) OutcomeTicks(ctx context.Context, userID int64) ([]OutcomeTick, error) {
	var rows []OutcomeTick
	err := s.db.WithContext(ctx).Where("user_id = ?", userID).Find(&rows).Error
	return rows, mapErr(err, "checklist")
}

// LessonProgressOfUsers returns the lesson progress of several learners.
func (s *Store) LessonProgressOfUsers(ctx context.Context, userIDs []int64) ([]LessonProgress, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	var rows []LessonProgress
	err := s.db.WithContext(ctx).Where("user_id IN ?", userIDs).Find(&rows).Error
	return rows, mapErr(err, "lesson progress")
}

// QuizAttemptsOfUsers returns every quiz attempt of several learners.
func (s *Store) QuizAttemptsOfUsers(ctx context.Context, userIDs []int64) ([]QuizAttempt, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	var rows []QuizAttempt
	err := s.db.WithContext(ctx).Where("user_id IN ?", userIDs).Find(&rows).Error
	return rows, mapErr(err, "quiz attempts")
}

// ReviewTimesOfUsers returns when several learners reviewed cards since a
// time, by learner, oldest first.
func (s *Store) ReviewTimesOfUsers(ctx context.Context, userIDs []int64, since time.Time) (map[int64][]time.Time, error) {
	out := map[int64][]time.Time{}
	if len(userIDs) == 0 {
		return out, nil
	}
	var rows []CardReview
	err := s.db.WithContext(ctx).Select("user_id, reviewed_at").Where("user_id IN ? AND reviewed_at >= ?", userIDs, since.UTC()).
		Order("reviewed_at").Find(&rows).Error
	for _, r := range rows {
		out[r.UserID] = append(out[r.UserID], r.ReviewedAt)
	}
	return out, mapErr(err, "reviews")
}

// maxSessionReviews bounds the reviews a session's summary reads.
const maxSessionReviews = 5000

// ReviewsSince returns a learner's reviews since a time, oldest first, up
// to a bound: what a review session has done so far.
func (s *Store) ReviewsSince(ctx context.Context, userID int64, since time.Time) ([]CardReview, error) {
	var rows []CardReview
	err := s.db.WithContext(ctx).Select("card_id, grade, reviewed_at").Where("user_id = ? AND reviewed_at >= ?", userID, since.UTC()).
		Order("reviewed_at").Limit(maxSessionReviews).Find(&rows).Error
	return rows, mapErr(err, "reviews")
}
