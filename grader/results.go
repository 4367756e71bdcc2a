package grader

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/labs"
)

// Result is a submission with its checks, as the API and pages show it.
type Result struct {
	ID          string             `json:"id"`
	Lab         string             `json:"lab"`
	Exercise    string             `json:"exercise"`
	Number      int                `json:"number"`
	Status      string             `json:"status"`
	Score       *int               `json:"score"`
	MaxScore    int                `json:"max_score"`
	Environment string             `json:"environment"`
	Message     string             `json:"message,omitempty"`
	Counts      bool               `json:"counts_as_attempt"`
	Design      labs.Design        `json:"design"`
	Notes       string             `json:"notes"`
	CreatedAt   time.Time          `json:"created_at"`
	StartedAt   *time.Time         `json:"started_at,omitempty"`
	FinishedAt  *time.Time         `json:"finished_at,omitempty"`
	Checks      []labs.CheckResult `json:"checks"`
	Pending     []PendingCheck     `json:"pending_checks,omitempty"`
	// Kind is labs.KindDesign or labs.KindBuild.
	Kind string `json:"kind"`
	// A build submission's archive and what its latest run printed: the
	// image build and each replica ("replica-1"…), each capped with its
	// last lines kept. Absent for a design submission.
	Archive  *ArchiveInfo      `json:"archive,omitempty"`
	BuildLog *string           `json:"build_log,omitempty"`
	Logs     map[string]string `json:"logs,omitzero"`
	// StaffDetail is the technical side of the result, for instructors
	// and admins; it never goes to the learner.
	StaffDetail string           `json:"-"`
	raw         store.Submission `json:"-"`
}

// PendingCheck is a check that has not reported yet.
type PendingCheck struct {
	Name        string `json:"name"`
	Requirement string `json:"requirement"`
	MaxPoints   int    `json:"max_points"`
}

// Submission returns the result of a learner's submission; another
// learner's is not found.
func (g *Grader) Submission(ctx context.Context, id string, userID int64) (Result, error) {
	sub, err := g.st.SubmissionOf(ctx, id, userID)
	if err != nil {
		return Result{}, err
	}
	return g.result(ctx, sub)
}

// Submissions lists a learner's submissions of an exercise, newest first.
func (g *Grader) Submissions(ctx context.Context, userID int64, exerciseID string) ([]store.Submission, error) {
	return g.st.Submissions(ctx, userID, exerciseID)
}

func (g *Grader) result(ctx context.Context, sub store.Submission) (Result, error) {
	r := Result{ID: sub.ID, Lab: sub.Lab, Exercise: sub.Exercise, Number: sub.Number, Status: sub.Status, Score: sub.Score,
		MaxScore: sub.MaxScore, Environment: sub.Environment, Message: sub.Message, StaffDetail: sub.StaffDetail, Counts: sub.Counts(), Notes: sub.Notes,
		CreatedAt: sub.CreatedAt, StartedAt: sub.StartedAt, FinishedAt: sub.FinishedAt, Checks: []labs.CheckResult{}, raw: sub}
	if err := json.Unmarshal([]byte(sub.Design), &r.Design); err != nil {
		return Result{}, fmt.Errorf("grader: submission %s design: %w", sub.ID, err)
	}
	if sub.Run > 0 {
		rows, err := g.st.Checks(ctx, sub.ID, sub.Run)
		if err != nil {
			return Result{}, err
		}
		for _, c := range rows {
			cr := labs.CheckResult{Name: c.Name, Requirement: c.Requirement, Passed: c.Passed, Points: c.Points,
				MaxPoints: c.MaxPoints, Message: c.Message, DurationMS: c.DurationMS, Skipped: c.Skipped}
			if c.Chart != "" {
				var ch labs.CheckChart
				if json.Unmarshal([]byte(c.Chart), &ch) == nil {
					cr.Chart = &ch
				}
			}
			r.Checks = append(r.Checks, cr)
		}
	}
	r.Kind = labs.KindDesign
	if err := g.addBuild(ctx, sub, &r); err != nil {
		return Result{}, err
	}
	if _, ex, ok := g.Exercise(sub.Exercise); ok {
		if !sub.Terminal() {
			for _, c := range ex.Checks[min(len(r.Checks), len(ex.Checks)):] {
				r.Pending = append(r.Pending, PendingCheck{Name: c.Name, Requirement: c.Requirement, MaxPoints: c.Points})
			}
		}
	}
	return r, nil
}

// Terminal reports whether grading is over.
func (r Result) Terminal() bool { return r.raw.Terminal() }

// BestScores returns a learner's best score per exercise.
func (g *Grader) BestScores(ctx context.Context, userID int64) ([]store.BestScore, error) {
	return g.st.BestScores(ctx, userID)
}

// LabEvidence reports the labs a learner has a graded submission for, for
// the progress checklist.
func (g *Grader) LabEvidence(ctx context.Context, userID int64) (map[string]bool, error) {
	rows, err := g.st.BestScores(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, r := range rows {
		if r.Graded > 0 {
			out[r.Lab] = true
		}
	}
	return out, nil
}
