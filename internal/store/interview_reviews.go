package store

import (
	"context"
	"encoding/json"
	"time"

	"gorm.io/gorm/clause"
)

// AssignInterview is an assignment of a mock interview; Ref is the
// problem's slug.
const AssignInterview = "interview"

// InterviewReview is a class's instructor's review of a session: the
// checkpoints they tick per stage, the score that makes (percent), and
// feedback the learner reads.
type InterviewReview struct {
	SessionID  int64  `gorm:"primaryKey"`
	ClassID    int64  `gorm:"primaryKey"`
	Ticked     string // JSON object: stage → checkpoint indexes
	Score      int
	Feedback   string
	ReviewerID *int64
	UpdatedAt  time.Time
}

// TickedByStage returns the checkpoints ticked per stage.
func (r InterviewReview) TickedByStage() map[string][]int {
	out := map[string][]int{}
	if json.Unmarshal([]byte(r.Ticked), &out) != nil {
		return map[string][]int{}
	}
	return out
}

// ClassInterview returns a session a class's staff may review: its
// learner is in the class, and the class assigns its problem. Any other
// is not found.
func (s *Store) ClassInterview(ctx context.Context, classID, sessionID int64) (InterviewSession, error) {
	var sess InterviewSession
	db := s.db.WithContext(ctx)
	err := db.Where("id = ?", sessionID).
		Where("user_id IN (?)", db.Model(&ClassMember{}).Select("user_id").Where("class_id = ?", classID)).
		Where("problem_slug IN (?)", db.Model(&Assignment{}).Select("ref").Where("class_id = ? AND kind = ?", classID, AssignInterview)).
		Take(&sess).Error
	if err != nil {
		return sess, mapErr(err, "mock interview")
	}
	err = db.Where("session_id = ?", sessionID).Find(&sess.Stages).Error
	return sess, mapErr(err, "mock interview")
}

// SaveInterviewReview stores or replaces a class's review of a session.
func (s *Store) SaveInterviewReview(ctx context.Context, r InterviewReview) error {
	r.UpdatedAt = r.UpdatedAt.UTC()
	return mapErr(s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "session_id"}, {Name: "class_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"ticked", "score", "feedback", "reviewer_id", "updated_at"}),
	}).Create(&r).Error, "interview review")
}

// InterviewReviews returns a class's reviews of these sessions, by
// session.
func (s *Store) InterviewReviews(ctx context.Context, classID int64, sessionIDs []int64) (map[int64]InterviewReview, error) {
	out := map[int64]InterviewReview{}
	if len(sessionIDs) == 0 {
		return out, nil
	}
	var rows []InterviewReview
	err := s.db.WithContext(ctx).Where("class_id = ? AND session_id IN ?", classID, sessionIDs).Find(&rows).Error
	for _, r := range rows {
		out[r.SessionID] = r
	}
	return out, mapErr(err, "interview reviews")
}

// SessionReview is a review of a session with its class's name, as the
// learner reads it.
type SessionReview struct {
	InterviewReview
	ClassName string
}

// ReviewsOfInterview returns every class's review of a session.
func (s *Store) ReviewsOfInterview(ctx context.Context, sessionID int64) ([]SessionReview, error) {
	var rows []SessionReview
	err := s.db.WithContext(ctx).Model(&InterviewReview{}).
		Select("interview_reviews.*, classes.name AS class_name").
		Joins("JOIN classes ON classes.id = interview_reviews.class_id").
		Where("interview_reviews.session_id = ?", sessionID).Order("interview_reviews.updated_at").Scan(&rows).Error
	return rows, mapErr(err, "interview reviews")
}

// InterviewSessionsOf returns the sessions of these learners on these
// problems, with their stages, oldest first.
func (s *Store) InterviewSessionsOf(ctx context.Context, userIDs []int64, slugs []string) ([]InterviewSession, error) {
	if len(userIDs) == 0 || len(slugs) == 0 {
		return nil, nil
	}
	var rows []InterviewSession
	db := s.db.WithContext(ctx)
	if err := db.Where("user_id IN ? AND problem_slug IN ?", userIDs, slugs).Order("started_at, id").Find(&rows).Error; err != nil {
		return nil, mapErr(err, "mock interviews")
	}
	return rows, s.attachStages(ctx, rows)
}

// attachStages reads the stages of sessions into them.
func (s *Store) attachStages(ctx context.Context, rows []InterviewSession) error {
	if len(rows) == 0 {
		return nil
	}
	ids := make([]int64, len(rows))
	at := map[int64]int{}
	for i, r := range rows {
		ids[i], at[r.ID] = r.ID, i
	}
	var stages []InterviewStage
	if err := s.db.WithContext(ctx).Where("session_id IN ?", ids).Find(&stages).Error; err != nil {
		return mapErr(err, "mock interviews")
	}
	for _, st := range stages {
		i := at[st.SessionID]
		rows[i].Stages = append(rows[i].Stages, st)
	}
	return nil
}

// SelfPercent is the learner's own score of a session: the mean share of
// checkpoints ticked over its closed stages; false when none is closed.
func (s InterviewSession) SelfPercent() (int, bool) {
	sum, n := 0, 0
	for _, st := range s.Stages {
		if st.ClosedAt == nil || st.Checkpoints == 0 {
			continue
		}
		ticked := 0
		for _, i := range st.TickedIndexes() {
			if i >= 0 && i < st.Checkpoints {
				ticked++
			}
		}
		sum += ticked * 100 / st.Checkpoints
		n++
	}
	if n == 0 {
		return 0, false
	}
	return sum / n, true
}
