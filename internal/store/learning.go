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
	return s.learnerChanged(ctx, mapErr(s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "user_id"}, {Name: "lesson_slug"}},
		DoUpdates: clause.Assignments(map[string]any{"last_opened_at": now}),
	}).Create(&lp).Error, "lesson progress"), userID)
}

// SetLessonComplete marks a lesson completed (or not) for a learner.
func (s *Store) SetLessonComplete(ctx context.Context, userID int64, slug string, done bool, now time.Time) error {
	now = now.UTC()
	var at *time.Time
	if done {
		at = &now
	}
	lp := LessonProgress{UserID: userID, LessonSlug: slug, FirstOpenedAt: now, LastOpenedAt: now, CompletedAt: at}
	return s.learnerChanged(ctx, mapErr(s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "user_id"}, {Name: "lesson_slug"}},
		DoUpdates: clause.Assignments(map[string]any{"completed_at": at, "last_opened_at": now}),
	}).Create(&lp).Error, "lesson progress"), userID)
}

// AddQuizAttempt stores a graded attempt.
func (s *Store) AddQuizAttempt(ctx context.Context, a *QuizAttempt) error {
	a.CreatedAt = a.CreatedAt.UTC()
	return s.learnerChanged(ctx, mapErr(s.db.WithContext(ctx).Create(a).Error, "quiz attempt"), a.UserID)
}

// SaveQuestionAnswer stores or replaces a learner's written answer.
func (s *Store) SaveQuestionAnswer(ctx context.Context, userID int64, slug, answer string, now time.Time) error {
	now = now.UTC()
	qa := QuestionAnswer{UserID: userID, QuestionSlug: slug, Answer: answer, KeyPointsHit: "[]", CreatedAt: now, UpdatedAt: now}
	return s.learnerChanged(ctx, mapErr(s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "user_id"}, {Name: "question_slug"}},
		DoUpdates: clause.Assignments(map[string]any{"answer": answer, "updated_at": now}),
	}).Create(&qa).Error, "answer"), userID)
}

// RevealQuestion records that the learner revealed the model answer.
func (s *Store) RevealQuestion(ctx context.Context, userID int64, slug string, now time.Time) error {
	res := s.db.WithContext(ctx).Model(&QuestionAnswer{}).
		Where("user_id = ? AND question_slug = ? AND revealed_at IS NULL", userID, slug).
		Update("revealed_at", now.UTC())
	return s.learnerChanged(ctx, mapErr(res.Error, "answer"), userID)
}

// RateQuestion stores the learner's self-rating against the key points.
func (s *Store) RateQuestion(ctx context.Context, userID int64, slug string, rating int, keyPointsJSON string, now time.Time) error {
	res := s.db.WithContext(ctx).Model(&QuestionAnswer{}).
		Where("user_id = ? AND question_slug = ?", userID, slug).
		Updates(map[string]any{"rating": rating, "key_points_hit": keyPointsJSON, "updated_at": now.UTC()})
	if res.Error == nil && res.RowsAffected == 0 {
		return s.learnerChanged(ctx, mapErr(gorm.ErrRecordNotFound, "answer"), userID)
	}
	return s.learnerChanged(ctx, mapErr(res.Error, "answer"), userID)
}

// QuestionAnswerOf returns a learner's answer to one question.
func (s *Store) QuestionAnswerOf(ctx context.Context, userID int64, slug string) (QuestionAnswer, error) {
	var qa QuestionAnswer
	err := s.db.WithContext(ctx).Take(&qa, "user_id = ? AND question_slug = ?", userID, slug).Error
	return qa, mapErr(err, "answer")
}

// ReviewCard saves a card's new schedule and logs the review, together.
func (s *Store) ReviewCard(ctx context.Context, st CardState, grade int) error {
	return s.learnerChanged(ctx, mapErr(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.OnConflict{
			Columns: []clause.Column{{Name: "user_id"}, {Name: "card_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"ease", "interval_days", "repetitions", "lapses",
				"due_at", "last_reviewed_at"}),
		}).Create(&st).Error; err != nil {
			return err
		}
		return tx.Create(&CardReview{UserID: st.UserID, CardID: st.CardID, Grade: grade, ReviewedAt: st.LastReviewedAt}).Error
	}), "card review"), st.UserID)
}

// SetOutcomeTick ticks or unticks a checklist outcome by hand.
func (s *Store) SetOutcomeTick(ctx context.Context, userID int64, outcomeID string, on bool, now time.Time) error {
	db := s.db.WithContext(ctx)
	if !on {
		return s.learnerChanged(ctx, mapErr(db.Delete(&OutcomeTick{}, "user_id = ? AND outcome_id = ?", userID, outcomeID).Error, "checklist"), userID)
	}
	return s.learnerChanged(ctx, mapErr(db.Clauses(clause.OnConflict{DoNothing: true}).
		Create(&OutcomeTick{UserID: userID, OutcomeID: outcomeID, TickedAt: now.UTC()}).Error, "checklist"), userID)
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
