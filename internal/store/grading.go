package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/sdworkbook/workbook/migrations"
)

// NewSubmissionID returns a random id: ids are in URLs, and a guessable one
// would tell a stranger how many submissions there are.
func NewSubmissionID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// CreateSubmission numbers and inserts sub, then calls enqueue with the same
// transaction and records the job id it returns, so the submission and its
// grading job commit together or not at all.
func (s *Store) CreateSubmission(ctx context.Context, sub *Submission, enqueue func(ctx context.Context, tx *sql.Tx) (int64, error)) error {
	sub.CreatedAt = sub.CreatedAt.UTC()
	var err error
	// Two submissions of one exercise at once can pick the same number;
	// the unique index refuses the second, which then tries again.
	for range 3 {
		err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			// One numbering at a time per learner: PostgreSQL locks the
			// learner's row; SQLite's IMMEDIATE transactions are serial.
			if s.dialect == migrations.Postgres {
				if err := tx.Exec("SELECT 1 FROM users WHERE id = ? FOR UPDATE", sub.UserID).Error; err != nil {
					return err
				}
			}
			var n sql.NullInt64
			if err := tx.Model(&Submission{}).Select("MAX(number)").
				Where("user_id = ? AND exercise = ?", sub.UserID, sub.Exercise).Scan(&n).Error; err != nil {
				return err
			}
			sub.Number = int(n.Int64) + 1
			if err := tx.Create(sub).Error; err != nil {
				return err
			}
			sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx)
			if !ok {
				return errors.New("store: submission: no SQL transaction to enqueue in")
			}
			job, err := enqueue(ctx, sqlTx)
			if err != nil {
				return err
			}
			sub.JobID = &job
			return tx.Model(sub).Update("job_id", job).Error
		})
		if err == nil || !(errors.Is(err, gorm.ErrDuplicatedKey) || isUniqueViolation(err)) {
			break
		}
	}
	return mapErr(err, "submission")
}

// SubmissionOf returns a user's submission; someone else's is not found.
func (s *Store) SubmissionOf(ctx context.Context, id string, userID int64) (Submission, error) {
	var sub Submission
	err := s.db.WithContext(ctx).Where("id = ? AND user_id = ?", id, userID).Take(&sub).Error
	return sub, mapErr(err, "submission")
}

// SubmissionByID returns any submission, for the grader.
func (s *Store) SubmissionByID(ctx context.Context, id string) (Submission, error) {
	var sub Submission
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&sub).Error
	return sub, mapErr(err, "submission")
}

// Submissions returns a learner's submissions of an exercise (every
// exercise when it is ""), newest first.
func (s *Store) Submissions(ctx context.Context, userID int64, exercise string) ([]Submission, error) {
	q := s.db.WithContext(ctx).Where("user_id = ?", userID)
	if exercise != "" {
		q = q.Where("exercise = ?", exercise)
	}
	var rows []Submission
	err := q.Order("created_at DESC, number DESC").Limit(500).Find(&rows).Error
	return rows, mapErr(err, "submissions")
}

// PendingSubmissions counts a learner's submissions not yet graded.
func (s *Store) PendingSubmissions(ctx context.Context, userID int64) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Submission{}).
		Where("user_id = ? AND status IN ?", userID, []string{StatusQueued, StatusRunning}).Count(&n).Error
	return n, mapErr(err, "submissions")
}

// StartRun begins a grading run: it bumps the run number and marks the
// submission running. ok is false when the submission is already terminal
// (a retried job whose earlier run recorded the result).
func (s *Store) StartRun(ctx context.Context, id string, now time.Time) (sub Submission, ok bool, err error) {
	now = now.UTC()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Submission{}).Where("id = ? AND status IN ?", id, []string{StatusQueued, StatusRunning}).
			Updates(map[string]any{"status": StatusRunning, "run": gorm.Expr("run + 1"), "started_at": now})
		if res.Error != nil {
			return res.Error
		}
		ok = res.RowsAffected == 1
		return tx.Where("id = ?", id).Take(&sub).Error
	})
	return sub, ok, mapErr(err, "submission")
}

// AddCheck records one check's result of a run as soon as it is known, so
// a page opened mid-run shows it.
func (s *Store) AddCheck(ctx context.Context, c SubmissionCheck) error {
	return mapErr(s.db.WithContext(ctx).Create(&c).Error, "check")
}

// Outcome is how a grading run ended.
type Outcome struct {
	Status      string
	Score       *int
	MaxScore    int
	Environment string
	Message     string
	At          time.Time
}

// FinishRun records a run's outcome, once: only the run that is current and
// still running may, and rows of other runs go. ok is false when another run
// got there first.
func (s *Store) FinishRun(ctx context.Context, id string, run int, o Outcome) (ok bool, err error) {
	at := o.At.UTC()
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Submission{}).Where("id = ? AND run = ? AND status = ?", id, run, StatusRunning).
			Updates(map[string]any{"status": o.Status, "score": o.Score, "max_score": o.MaxScore,
				"environment": o.Environment, "message": o.Message, "finished_at": at})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return nil
		}
		ok = true
		return tx.Where("submission_id = ? AND run <> ?", id, run).Delete(&SubmissionCheck{}).Error
	})
	return ok, mapErr(err, "submission")
}

// Checks returns a run's check results in order.
func (s *Store) Checks(ctx context.Context, id string, run int) ([]SubmissionCheck, error) {
	var rows []SubmissionCheck
	err := s.db.WithContext(ctx).Where("submission_id = ? AND run = ?", id, run).Order("seq").Find(&rows).Error
	return rows, mapErr(err, "checks")
}

// BestScore is a learner's best graded result on one exercise.
type BestScore struct {
	Lab      string
	Exercise string
	Score    int
	MaxScore int
	Attempts int // every attempt that counts, graded or on its way
	Graded   int // attempts graded
}

// BestScores returns, per exercise a learner attempted, the best score and
// the number of attempts that count (not those the grader could not grade).
func (s *Store) BestScores(ctx context.Context, userID int64) ([]BestScore, error) {
	var rows []BestScore
	err := s.db.WithContext(ctx).Model(&Submission{}).
		Select("lab, exercise, COALESCE(MAX(score), 0) AS score, MAX(max_score) AS max_score, COUNT(*) AS attempts, "+
			"SUM(CASE WHEN status = ? THEN 1 ELSE 0 END) AS graded", StatusGraded).
		Where("user_id = ? AND status <> ?", userID, StatusNotGradable).
		Group("lab, exercise").Scan(&rows).Error
	if err != nil {
		return nil, mapErr(err, "scores")
	}
	return rows, nil
}

// LostSubmissions returns submissions still queued or running whose grading
// job the queue has given up on (discarded after its last try, cancelled)
// or finished without a result: nothing will ever grade them.
func (s *Store) LostSubmissions(ctx context.Context, limit int) ([]Submission, error) {
	var rows []Submission
	err := s.db.WithContext(ctx).Model(&Submission{}).
		Joins("JOIN river_job ON river_job.id = submissions.job_id").
		Where("submissions.status IN ? AND river_job.state IN ?", []string{StatusQueued, StatusRunning},
			[]string{"discarded", "cancelled", "completed"}).
		Limit(limit).Find(&rows).Error
	return rows, mapErr(err, "submissions")
}

// GiveUp ends a lost submission as not gradable, unless it ended meanwhile.
func (s *Store) GiveUp(ctx context.Context, id, message string, now time.Time) (bool, error) {
	res := s.db.WithContext(ctx).Model(&Submission{}).Where("id = ? AND status IN ?", id, []string{StatusQueued, StatusRunning}).
		Updates(map[string]any{"status": StatusNotGradable, "message": message, "finished_at": now.UTC()})
	return res.RowsAffected == 1, mapErr(res.Error, "submission")
}

// Requeue sends a finished submission back to be graded again (its suite
// changed, or an instructor asked): its result and checks are cleared and
// enqueue adds the new job in the same transaction. ok is false when the
// submission is still on its way.
func (s *Store) Requeue(ctx context.Context, id string, enqueue func(ctx context.Context, tx *sql.Tx) (int64, error)) (ok bool, err error) {
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Submission{}).Where("id = ? AND status IN ?", id, []string{StatusGraded, StatusNotGradable, StatusTimedOut}).
			Updates(map[string]any{"status": StatusQueued, "score": nil, "environment": "", "message": "", "finished_at": nil})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		ok = true
		if err := tx.Where("submission_id = ?", id).Delete(&SubmissionCheck{}).Error; err != nil {
			return err
		}
		sqlTx, isTx := tx.Statement.ConnPool.(*sql.Tx)
		if !isTx {
			return errors.New("store: requeue: no SQL transaction to enqueue in")
		}
		job, err := enqueue(ctx, sqlTx)
		if err != nil {
			return err
		}
		return tx.Model(&Submission{}).Where("id = ?", id).Update("job_id", job).Error
	})
	return ok, mapErr(err, "submission")
}
