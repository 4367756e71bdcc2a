package gradebook

import (
	"context"
	"time"

	"github.com/sdworkbook/workbook/internal/store"
)

// Results is a class's results as exported to JSON: learners,
// assignments and every counted submission with its score, the class's
// override and late flag. Fields are in the order of their names, as
// the export has always listed them.
type Results struct {
	Assignments  []Column     `json:"assignments"`
	Class        ClassInfo    `json:"class"`
	ExportedAt   time.Time    `json:"exported_at"`
	Learners     []Row        `json:"learners"`
	LessonsTotal int          `json:"lessons_total"`
	Submissions  []Submission `json:"submissions"`
}

// ClassInfo names the class of an export.
type ClassInfo struct {
	CreatedAt time.Time `json:"created_at"`
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
}

// Submission is one attempt of a learner at an exercise of the class.
type Submission struct {
	CountsAsAttempt bool      `json:"counts_as_attempt"`
	CreatedAt       time.Time `json:"created_at"`
	Exercise        string    `json:"exercise"`
	Feedback        string    `json:"feedback"`
	ID              string    `json:"id"`
	Late            bool      `json:"late"`
	Learner         string    `json:"learner"`
	MaxScore        int       `json:"max_score"`
	Number          int       `json:"number"`
	OverrideReason  string    `json:"override_reason"`
	OverrideScore   *int      `json:"override_score"`
	Score           *int      `json:"score"`
	Status          string    `json:"status"`
}

// Results exports a class's gradebook, learners by email, with every
// attempt, not only the best: what an LMS or a spreadsheet cannot
// rebuild from the gradebook.
func (src Sources) Results(ctx context.Context, class store.Class, now time.Time) (Results, error) {
	book, err := src.Build(ctx, class)
	if err != nil {
		return Results{}, err
	}
	book.Sort("email", false)
	ids := make([]int64, len(book.Rows))
	email := map[int64]string{}
	for i, r := range book.Rows {
		ids[i], email[r.UserID] = r.UserID, r.Email
	}
	var exIDs []string
	due := map[string]store.Assignment{}
	for _, col := range book.Columns {
		if col.Kind == store.AssignExercise {
			exIDs = append(exIDs, col.Ref)
			due[col.Ref] = col.Assignment
		}
	}
	subs, err := src.Store.SubmissionsOf(ctx, ids, exIDs)
	if err != nil {
		return Results{}, err
	}
	subIDs := make([]string, len(subs))
	for i, sub := range subs {
		subIDs[i] = sub.ID
	}
	reviews, err := src.Store.Reviews(ctx, class.ID, subIDs)
	if err != nil {
		return Results{}, err
	}
	attempts := []Submission{}
	for _, sub := range subs {
		rv := reviews[sub.ID]
		attempts = append(attempts, Submission{ID: sub.ID, Learner: email[sub.UserID], Exercise: sub.Exercise, Number: sub.Number,
			Status: sub.Status, Score: sub.Score, MaxScore: sub.MaxScore, OverrideScore: rv.OverrideScore,
			OverrideReason: rv.Reason, Feedback: rv.Feedback, Late: due[sub.Exercise].Late(sub.CreatedAt),
			CountsAsAttempt: sub.Counts(), CreatedAt: sub.CreatedAt})
	}
	return Results{Class: ClassInfo{ID: class.ID, Name: class.Name, CreatedAt: class.CreatedAt}, ExportedAt: now.UTC(),
		Assignments: book.Columns, Learners: book.Rows, LessonsTotal: book.Lessons, Submissions: attempts}, nil
}
