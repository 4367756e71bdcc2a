package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"slices"
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
	return s.createSubmission(ctx, sub, nil, enqueue)
}

// createSubmission is CreateSubmission with also, if not nil, run in the
// same transaction once the submission row is in.
func (s *Store) createSubmission(ctx context.Context, sub *Submission, also func(tx *gorm.DB) error,
	enqueue func(ctx context.Context, tx *sql.Tx) (int64, error)) error {
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
			if also != nil {
				if err := also(tx); err != nil {
					return err
				}
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
	return mapErr(s.learnerChanged(ctx, err, sub.UserID), "submission")
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

// StartRun begins a grading run for worker owner: it bumps the run number,
// marks the submission running and gives owner a lease until now+lease.
// ok is false when the submission is already terminal (a retried job whose
// earlier run recorded the result) or another worker holds a live lease on
// it: one submission is never graded by two workers at once.
func (s *Store) StartRun(ctx context.Context, id, owner string, now time.Time, lease time.Duration) (sub Submission, ok bool, err error) {
	now = now.UTC()
	until := now.Add(lease)
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Submission{}).
			Where("id = ? AND (status = ? OR (status = ? AND (lease_until IS NULL OR lease_until < ?)))", id, StatusQueued, StatusRunning, now).
			Updates(map[string]any{"status": StatusRunning, "run": gorm.Expr("run + 1"), "started_at": now,
				"lease_owner": owner, "lease_until": until})
		if res.Error != nil {
			return res.Error
		}
		ok = res.RowsAffected == 1
		return tx.Where("id = ?", id).Take(&sub).Error
	})
	return sub, ok, mapErr(err, "submission")
}

// RenewLease extends owner's lease on run of submission id to until. ok is
// false when the run is no longer owner's (it was handed to another worker
// after the lease ran out, or it ended): the worker must stop grading it.
func (s *Store) RenewLease(ctx context.Context, id string, run int, owner string, until time.Time) (ok bool, err error) {
	res := s.db.WithContext(ctx).Model(&Submission{}).
		Where("id = ? AND run = ? AND status = ? AND lease_owner = ?", id, run, StatusRunning, owner).
		Update("lease_until", until.UTC())
	return res.RowsAffected == 1, mapErr(res.Error, "submission")
}

// ReleaseRun gives a run back to the queue without a result (the worker is
// stopping, or the environment failed and the job will be tried again), so
// the next try need not wait for the lease to run out.
func (s *Store) ReleaseRun(ctx context.Context, id string, run int, owner string) error {
	res := s.db.WithContext(ctx).Model(&Submission{}).
		Where("id = ? AND run = ? AND status = ? AND lease_owner = ?", id, run, StatusRunning, owner).
		Updates(map[string]any{"status": StatusQueued, "lease_owner": "", "lease_until": nil})
	return mapErr(res.Error, "submission")
}

// Recovered is a submission whose worker was lost, as RecoverRuns left it.
type Recovered struct {
	ID string
	// GivenUp is true when it had been interrupted too often and ended not
	// gradable; otherwise it was queued again.
	GivenUp bool
}

// RecoverRuns hands back the runs whose lease ran out before now (their
// worker died or hung): each goes back to the queue with a new job from
// enqueue, in one transaction, or, once it has been interrupted
// maxInterruptions times, ends not gradable with giveUpMessage.
func (s *Store) RecoverRuns(ctx context.Context, now time.Time, maxInterruptions int, giveUpMessage string,
	enqueue func(ctx context.Context, tx *sql.Tx, id string) (int64, error)) ([]Recovered, error) {
	now = now.UTC()
	var expired []Submission
	if err := s.db.WithContext(ctx).Select("id", "interruptions").
		Where("status = ? AND lease_until < ?", StatusRunning, now).Limit(100).Find(&expired).Error; err != nil {
		return nil, mapErr(err, "submissions")
	}
	var out []Recovered
	for _, sub := range expired {
		giveUp := sub.Interruptions+1 >= maxInterruptions
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			upd := map[string]any{"lease_owner": "", "lease_until": nil, "interruptions": gorm.Expr("interruptions + 1")}
			if giveUp {
				upd["status"], upd["message"], upd["finished_at"] = StatusNotGradable, giveUpMessage, now
			} else {
				upd["status"] = StatusQueued
			}
			// Only if no one took it or renewed it meanwhile.
			res := tx.Model(&Submission{}).Where("id = ? AND status = ? AND lease_until < ?", sub.ID, StatusRunning, now).Updates(upd)
			if res.Error != nil || res.RowsAffected != 1 {
				return res.Error
			}
			out = append(out, Recovered{ID: sub.ID, GivenUp: giveUp})
			if giveUp {
				return nil
			}
			sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx)
			if !ok {
				return errors.New("store: recover: no SQL transaction to enqueue in")
			}
			job, err := enqueue(ctx, sqlTx, sub.ID)
			if err != nil {
				return err
			}
			return tx.Model(&Submission{}).Where("id = ?", sub.ID).Update("job_id", job).Error
		})
		if giveUp {
			s.submissionChanged(ctx, sub.ID) // one attempt fewer counts
		}
		if err != nil {
			return out, mapErr(err, "submission")
		}
	}
	return out, nil
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
	// StaffDetail is the technical side, for staff only.
	StaffDetail string
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
				"environment": o.Environment, "message": o.Message, "staff_detail": o.StaffDetail, "finished_at": at,
				"lease_owner": "", "lease_until": nil})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return nil
		}
		ok = true
		return tx.Where("submission_id = ? AND run <> ?", id, run).Delete(&SubmissionCheck{}).Error
	})
	s.submissionChanged(ctx, id)
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
	e, gen, ok := s.cachedLearner(userID)
	if ok && e.hasBest {
		return slices.Clone(e.best), nil
	}
	var rows []BestScore
	err := s.db.WithContext(ctx).Model(&Submission{}).
		Select("lab, exercise, COALESCE(MAX(score), 0) AS score, MAX(max_score) AS max_score, COUNT(*) AS attempts, "+
			"SUM(CASE WHEN status = ? THEN 1 ELSE 0 END) AS graded", StatusGraded).
		Where("user_id = ? AND status <> ?", userID, StatusNotGradable).
		Group("lab, exercise").Scan(&rows).Error
	if err != nil {
		return nil, mapErr(err, "scores")
	}
	s.keepLearner(userID, gen, func(e *learnerEntry) { e.best, e.hasBest = slices.Clone(rows), true })
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
		Updates(map[string]any{"status": StatusNotGradable, "message": message, "finished_at": now.UTC(),
			"lease_owner": "", "lease_until": nil})
	s.submissionChanged(ctx, id)
	return res.RowsAffected == 1, mapErr(res.Error, "submission")
}

// Requeue sends a finished submission back to be graded again (its suite
// changed, or an instructor asked): its result and checks are cleared and
// enqueue adds the new job in the same transaction. ok is false when the
// submission is still on its way.
func (s *Store) Requeue(ctx context.Context, id string, enqueue func(ctx context.Context, tx *sql.Tx) (int64, error)) (ok bool, err error) {
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&Submission{}).Where("id = ? AND status IN ?", id, []string{StatusGraded, StatusNotGradable, StatusTimedOut}).
			Updates(map[string]any{"status": StatusQueued, "score": nil, "environment": "", "message": "", "staff_detail": "",
				"finished_at": nil, "interruptions": 0})
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
	s.submissionChanged(ctx, id)
	return ok, mapErr(err, "submission")
}
