package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Notice kinds.
const (
	NoticeFeedback = "feedback" // an instructor reviewed a submission
)

// Notice is an in-app message for one user, read or not.
type Notice struct {
	ID           int64 `gorm:"primaryKey"`
	UserID       int64
	Kind         string
	Message      string
	Link         string
	SubmissionID *string
	// ClassID is the class whose review the notice tells of; nil for
	// other notices and for those older than per-class reviews.
	ClassID   *int64
	CreatedAt time.Time
	ReadAt    *time.Time
}

// SubmissionLook records that an instructor has looked at a submission.
type SubmissionLook struct {
	SubmissionID string `gorm:"primaryKey"`
	UserID       int64  `gorm:"primaryKey"`
	LookedAt     time.Time
}

// SaveReview records a class's override and feedback and, when n is not
// nil, tells the learner in the same transaction. A submission keeps at
// most one unread notice per class: a newer one replaces it.
func (s *Store) SaveReview(ctx context.Context, r SubmissionReview, n *Notice) error {
	r.UpdatedAt = r.UpdatedAt.UTC()
	return mapErr(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "class_id"}, {Name: "submission_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"override_score", "reason", "feedback", "reviewer_id", "updated_at"}),
		}).Create(&r).Error; err != nil {
			return err
		}
		if n == nil {
			return nil
		}
		if err := tx.Where("user_id = ? AND submission_id = ? AND (class_id = ? OR class_id IS NULL) AND read_at IS NULL",
			n.UserID, r.SubmissionID, r.ClassID).Delete(&Notice{}).Error; err != nil {
			return err
		}
		n.SubmissionID, n.ClassID = &r.SubmissionID, &r.ClassID
		n.CreatedAt = n.CreatedAt.UTC()
		return tx.Create(n).Error
	}), "review")
}

// Notices returns a user's newest notices, unread first.
func (s *Store) Notices(ctx context.Context, userID int64, limit int) ([]Notice, error) {
	var rows []Notice
	err := s.db.WithContext(ctx).Where("user_id = ?", userID).
		Order("read_at IS NOT NULL, created_at DESC, id DESC").Limit(limit).Find(&rows).Error
	return rows, mapErr(err, "notices")
}

// UnreadNotices counts a user's unread notices.
func (s *Store) UnreadNotices(ctx context.Context, userID int64) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Notice{}).Where("user_id = ? AND read_at IS NULL", userID).Count(&n).Error
	return n, mapErr(err, "notices")
}

// MarkNoticesRead marks a user's unread notices read: those about one
// submission, or all of them when submissionID is "".
func (s *Store) MarkNoticesRead(ctx context.Context, userID int64, submissionID string, now time.Time) error {
	unread := func() *gorm.DB {
		q := s.db.WithContext(ctx).Model(&Notice{}).Where("user_id = ? AND read_at IS NULL", userID)
		if submissionID != "" {
			q = q.Where("submission_id = ?", submissionID)
		}
		return q
	}
	// Pages call this as they are read: most often there is nothing to
	// mark, and a read costs far less than a write (on SQLite it would
	// wait for the one writer).
	var ids []int64
	if err := unread().Limit(1).Pluck("id", &ids).Error; err != nil || len(ids) == 0 {
		return mapErr(err, "notices")
	}
	return mapErr(unread().Update("read_at", now.UTC()).Error, "notices")
}

// MarkLooked records that userID has looked at a submission.
func (s *Store) MarkLooked(ctx context.Context, userID int64, submissionID string, now time.Time) error {
	// Looked at once is looked at: a page opened again only reads.
	var n int64
	err := s.db.WithContext(ctx).Model(&SubmissionLook{}).Where("submission_id = ? AND user_id = ?", submissionID, userID).
		Limit(1).Count(&n).Error
	if err != nil || n > 0 {
		return mapErr(err, "look")
	}
	l := SubmissionLook{SubmissionID: submissionID, UserID: userID, LookedAt: now.UTC()}
	return mapErr(s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&l).Error, "look")
}

// Waiting is a finished submission to an exercise one of an instructor's
// classes is set, that the instructor has neither opened nor reviewed in
// that class.
type Waiting struct {
	Submission
	ClassID   int64
	ClassName string
	Learner   string
}

// waitingQuery selects what waits for instructorID's look.
func (s *Store) waitingQuery(ctx context.Context, instructorID int64) *gorm.DB {
	return s.db.WithContext(ctx).Table("submissions").
		Joins("JOIN class_members ON class_members.user_id = submissions.user_id").
		Joins("JOIN classes ON classes.id = class_members.class_id").
		Joins("JOIN assignments ON assignments.class_id = classes.id AND assignments.kind = ? AND assignments.ref = submissions.exercise", AssignExercise).
		Joins("LEFT JOIN submission_reviews ON submission_reviews.submission_id = submissions.id AND submission_reviews.class_id = classes.id").
		Joins("LEFT JOIN submission_looks ON submission_looks.submission_id = submissions.id AND submission_looks.user_id = ?", instructorID).
		Where("classes.instructor_id = ? AND submissions.status IN ? AND submission_reviews.submission_id IS NULL AND submission_looks.submission_id IS NULL",
			instructorID, []string{StatusGraded, StatusTimedOut})
}

// WaitingCount counts the submissions waiting for instructorID's look, up
// to limit (the nav's badge needs no more than "99+").
func (s *Store) WaitingCount(ctx context.Context, instructorID int64, limit int) (int64, error) {
	var n int64
	ids := s.waitingQuery(ctx, instructorID).Distinct("submissions.id").Limit(limit)
	err := s.db.WithContext(ctx).Table("(?) AS waiting", ids).Count(&n).Error
	return n, mapErr(err, "submissions")
}

// WaitingForLook returns the newest submissions waiting for
// instructorID's look, each once (a learner may be in two of the classes).
func (s *Store) WaitingForLook(ctx context.Context, instructorID int64, limit int) ([]Waiting, error) {
	var rows []Waiting
	err := s.waitingQuery(ctx, instructorID).
		Select("submissions.*, classes.id AS class_id, classes.name AS class_name, " +
			"(SELECT email FROM users WHERE users.id = submissions.user_id) AS learner").
		Order("submissions.created_at DESC, submissions.id").Limit(2 * limit).Scan(&rows).Error
	if err != nil {
		return nil, mapErr(err, "submissions")
	}
	seen := map[string]bool{}
	out := rows[:0]
	for _, r := range rows {
		if !seen[r.ID] && len(out) < limit {
			seen[r.ID] = true
			out = append(out, r)
		}
	}
	return out, nil
}
