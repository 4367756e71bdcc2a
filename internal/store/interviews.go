package store

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/sdworkbook/workbook/internal/apperr"
)

// InterviewSession is a learner's mock interview on one problem. Its
// timer runs while RunningSince is set: the time elapsed is BankedMs plus
// the time since RunningSince.
type InterviewSession struct {
	ID           int64 `gorm:"primaryKey"`
	UserID       int64
	ProblemSlug  string
	LimitSeconds int
	BankedMs     int64
	RunningSince *time.Time
	StartedAt    time.Time
	FinishedAt   *time.Time
	// Stages are the session's stages, in the order they were created.
	Stages []InterviewStage `gorm:"-"`
}

// InterviewStage is one stage of a session: the answer, the diagram of
// a design stage (JSON), and once closed, the checkpoints ticked.
type InterviewStage struct {
	SessionID   int64  `gorm:"primaryKey"`
	Stage       string `gorm:"primaryKey"`
	Answer      string
	Diagram     string
	Ticked      string // JSON array of checkpoint indexes
	Checkpoints int    // how many checkpoints there were when it closed
	ClosedAt    *time.Time
	UpdatedAt   time.Time
}

// Elapsed is how long the session's timer has run at now.
func (s InterviewSession) Elapsed(now time.Time) time.Duration {
	d := time.Duration(s.BankedMs) * time.Millisecond
	if s.RunningSince != nil {
		d += max(0, now.Sub(*s.RunningSince))
	}
	return d
}

// Running says whether the timer runs.
func (s InterviewSession) Running() bool { return s.RunningSince != nil && s.FinishedAt == nil }

// TickedIndexes returns the indexes of the checkpoints ticked.
func (st InterviewStage) TickedIndexes() []int {
	var out []int
	if json.Unmarshal([]byte(st.Ticked), &out) != nil {
		return nil
	}
	return out
}

// Stage returns the session's stage by id.
func (s InterviewSession) Stage(id string) (InterviewStage, bool) {
	for _, st := range s.Stages {
		if st.Stage == id {
			return st, true
		}
	}
	return InterviewStage{}, false
}

// StartInterview creates a session and its stages, its timer running,
// unless the learner already has max sessions.
func (s *Store) StartInterview(ctx context.Context, sess InterviewSession, stages []string, max int) (InterviewSession, error) {
	now := sess.StartedAt.UTC()
	sess.StartedAt, sess.RunningSince, sess.BankedMs = now, &now, 0
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&InterviewSession{}).Where("user_id = ?", sess.UserID).Count(&n).Error; err != nil {
			return err
		}
		if n >= int64(max) {
			return apperr.New(apperr.TooMany, "You already have %d mock interviews; that is the most one account keeps.", max)
		}
		if err := tx.Create(&sess).Error; err != nil {
			return err
		}
		sess.Stages = make([]InterviewStage, len(stages))
		for i, id := range stages {
			sess.Stages[i] = InterviewStage{SessionID: sess.ID, Stage: id, Ticked: "[]", UpdatedAt: now}
		}
		return tx.Create(&sess.Stages).Error
	})
	if _, ok := apperr.As(err); ok {
		return InterviewSession{}, err
	}
	return sess, s.learnerChanged(ctx, mapErr(err, "mock interview"), sess.UserID)
}

// InterviewOf returns one of a learner's sessions with its stages; another
// learner's is not found.
func (s *Store) InterviewOf(ctx context.Context, userID, id int64) (InterviewSession, error) {
	var sess InterviewSession
	db := s.db.WithContext(ctx)
	if err := db.Take(&sess, "id = ? AND user_id = ?", id, userID).Error; err != nil {
		return sess, mapErr(err, "mock interview")
	}
	err := db.Where("session_id = ?", id).Find(&sess.Stages).Error
	return sess, mapErr(err, "mock interview")
}

// InterviewsOf returns a learner's sessions with their stages, newest
// first; kept with the learner's record when the cache is on.
func (s *Store) InterviewsOf(ctx context.Context, userID int64) ([]InterviewSession, error) {
	e, gen, ok := s.cachedLearner(userID)
	if ok && e.hasInterviews {
		return cloneSessions(e.interviews), nil
	}
	rows, err := s.readInterviews(ctx, userID)
	if err != nil {
		return nil, err
	}
	s.keepLearner(userID, gen, func(e *learnerEntry) { e.interviews, e.hasInterviews = cloneSessions(rows), true })
	return rows, nil
}

func cloneSessions(rows []InterviewSession) []InterviewSession {
	out := slices.Clone(rows)
	for i := range out {
		out[i].Stages = slices.Clone(out[i].Stages)
	}
	return out
}

func (s *Store) readInterviews(ctx context.Context, userID int64) ([]InterviewSession, error) {
	var rows []InterviewSession
	db := s.db.WithContext(ctx)
	if err := db.Where("user_id = ?", userID).Order("started_at DESC, id DESC").Find(&rows).Error; err != nil {
		return nil, mapErr(err, "mock interviews")
	}
	return rows, s.attachStages(ctx, rows)
}

// SetInterviewRunning pauses (run false) or resumes a learner's session's
// timer at now; a finished session's timer stays stopped.
func (s *Store) SetInterviewRunning(ctx context.Context, userID, id int64, run bool, now time.Time) error {
	now = now.UTC()
	return s.updateInterview(ctx, userID, id, func(sess *InterviewSession) map[string]any {
		switch {
		case sess.FinishedAt != nil || run == sess.Running():
			return nil
		case run:
			return map[string]any{"running_since": now}
		default:
			return map[string]any{"running_since": nil, "banked_ms": sess.Elapsed(now).Milliseconds()}
		}
	})
}

// FinishInterview stops a session's timer for good.
func (s *Store) FinishInterview(ctx context.Context, userID, id int64, now time.Time) error {
	now = now.UTC()
	return s.updateInterview(ctx, userID, id, func(sess *InterviewSession) map[string]any {
		if sess.FinishedAt != nil {
			return nil
		}
		return map[string]any{"running_since": nil, "banked_ms": sess.Elapsed(now).Milliseconds(), "finished_at": now}
	})
}

// updateInterview reads a learner's session in a transaction and applies
// the changes change returns (none: nothing to do).
func (s *Store) updateInterview(ctx context.Context, userID, id int64, change func(*InterviewSession) map[string]any) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var sess InterviewSession
		if err := tx.Take(&sess, "id = ? AND user_id = ?", id, userID).Error; err != nil {
			return err
		}
		upd := change(&sess)
		if len(upd) == 0 {
			return nil
		}
		return tx.Model(&InterviewSession{}).Where("id = ?", id).Updates(upd).Error
	})
	return s.learnerChanged(ctx, mapErr(err, "mock interview"), userID)
}

// StageUpdate is a change to a stage: nil fields are left as they are.
type StageUpdate struct {
	Answer  *string
	Diagram *string
	// Close, with Checkpoints, closes the stage.
	Close       bool
	Checkpoints int
	// Ticked replaces the checkpoints ticked (a closed stage only).
	Ticked []int
}

// UpdateInterviewStage changes a stage of a learner's session. An open
// stage takes answers and diagrams and may be closed; a closed stage
// takes only ticks.
func (s *Store) UpdateInterviewStage(ctx context.Context, userID, id int64, stage string, u StageUpdate, now time.Time) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var st InterviewStage
		err := tx.Where("session_id = ? AND stage = ?", id, stage).
			Where("session_id IN (?)", tx.Model(&InterviewSession{}).Select("id").Where("id = ? AND user_id = ?", id, userID)).
			Take(&st).Error
		if err != nil {
			return err
		}
		upd, err := stageChanges(st, u, now.UTC())
		if err != nil || len(upd) == 0 {
			return err
		}
		return tx.Model(&InterviewStage{}).Where("session_id = ? AND stage = ?", id, stage).Updates(upd).Error
	})
	if _, ok := apperr.As(err); ok && !apperr.Is(err, apperr.NotFound) {
		return err
	}
	return s.learnerChanged(ctx, mapErr(err, "mock interview stage"), userID)
}

func stageChanges(st InterviewStage, u StageUpdate, now time.Time) (map[string]any, error) {
	upd := map[string]any{"updated_at": now}
	closed := st.ClosedAt != nil
	if closed && (u.Answer != nil || u.Diagram != nil || u.Close) {
		return nil, apperr.New(apperr.Conflict, "This stage is closed: its answer can no longer change.")
	}
	if !closed && u.Ticked != nil {
		return nil, apperr.New(apperr.Conflict, "Close the stage before ticking what you covered.")
	}
	if u.Answer != nil {
		upd["answer"] = *u.Answer
	}
	if u.Diagram != nil {
		upd["diagram"] = *u.Diagram
	}
	if u.Close {
		upd["closed_at"], upd["checkpoints"] = now, u.Checkpoints
	}
	if u.Ticked != nil {
		b, _ := json.Marshal(u.Ticked)
		upd["ticked"] = string(b)
	}
	return upd, nil
}

// ClosedStage is a closed stage of one of a learner's sessions: which
// checkpoints were ticked out of how many.
type ClosedStage struct {
	Problem     string
	Stage       string
	Checkpoints int
	Ticked      string // JSON array of indexes
}

// TickedIndexes returns the indexes of the checkpoints ticked.
func (c ClosedStage) TickedIndexes() []int {
	return InterviewStage{Ticked: c.Ticked}.TickedIndexes()
}

// closedStagesSQL selects a learner's closed stages as (problem/stage/
// ticked, checkpoints); slugs and stage ids hold no slash.
const closedStagesSQL = "SELECT 'interview' AS kind, s.problem_slug || '/' || st.stage || '/' || st.ticked AS ref, " +
	"st.checkpoints AS a, 0 AS b FROM interview_stages st JOIN interview_sessions s ON s.id = st.session_id " +
	"WHERE s.user_id = ? AND st.closed_at IS NOT NULL"

// ClosedInterviewStages returns every closed stage of a learner's
// sessions, whose missed checkpoints the review queue asks about.
func (s *Store) ClosedInterviewStages(ctx context.Context, userID int64) ([]ClosedStage, error) {
	e, gen, ok := s.cachedLearner(userID)
	if ok && e.hasClosed {
		return slices.Clone(e.closed), nil
	}
	var rows []struct {
		Kind, Ref string
		A, B      int64
	}
	if err := s.db.WithContext(ctx).Raw(closedStagesSQL, userID).Scan(&rows).Error; err != nil {
		return nil, mapErr(err, "mock interviews")
	}
	out := make([]ClosedStage, 0, len(rows))
	for _, r := range rows {
		if c, ok := closedStageOf(r.Ref, r.A); ok {
			out = append(out, c)
		}
	}
	s.keepLearner(userID, gen, func(e *learnerEntry) { e.closed, e.hasClosed = slices.Clone(out), true })
	return out, nil
}

// closedStageOf reads a row of closedStagesSQL.
func closedStageOf(ref string, checkpoints int64) (ClosedStage, bool) {
	parts := strings.SplitN(ref, "/", 3)
	if len(parts) != 3 {
		return ClosedStage{}, false
	}
	return ClosedStage{Problem: parts[0], Stage: parts[1], Ticked: parts[2], Checkpoints: int(checkpoints)}, true
}

// DeleteInterview deletes one of a learner's sessions with its stages and
// reviews; another learner's is not found.
func (s *Store) DeleteInterview(ctx context.Context, userID, id int64) error {
	res := s.db.WithContext(ctx).Where("id = ? AND user_id = ?", id, userID).Delete(&InterviewSession{})
	if res.Error == nil && res.RowsAffected == 0 {
		return mapErr(gorm.ErrRecordNotFound, "mock interview")
	}
	return s.learnerChanged(ctx, mapErr(res.Error, "mock interview"), userID)
}
