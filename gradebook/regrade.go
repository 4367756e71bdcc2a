package gradebook

import (
	"context"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/store"
)

// Regrader queues a submission to be graded again; false when it was not
// finished and so was not queued.
type Regrader func(ctx context.Context, submissionID string) (bool, error)

// RegradeAssignment queues again every finished submission of the
// class's learners to the exercise of one of its assignments, after the
// exercise's suite changed, and says how many were queued. An assignment
// the class does not have, or one that is not an exercise, is NotFound.
func (src Sources) RegradeAssignment(ctx context.Context, class store.Class, assignmentID int64, regrade Regrader) (int, error) {
	as, err := src.Store.Assignments(ctx, class.ID)
	if err != nil {
		return 0, err
	}
	var a *store.Assignment
	for i := range as {
		if as[i].ID == assignmentID && as[i].Kind == store.AssignExercise {
			a = &as[i]
		}
	}
	if a == nil {
		return 0, apperr.New(apperr.NotFound, "This class has no such exercise.")
	}
	members, err := src.Store.Members(ctx, class.ID)
	if err != nil {
		return 0, err
	}
	ids := make([]int64, len(members))
	for i, m := range members {
		ids[i] = m.ID
	}
	subs, err := src.Store.SubmissionsOf(ctx, ids, []string{a.Ref})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, sub := range subs {
		ok, err := regrade(ctx, sub.ID)
		if err != nil {
			return n, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}
