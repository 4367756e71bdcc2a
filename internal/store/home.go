package store

import (
	"context"
	"time"
)

// LearnerAssignment is an assignment of a class a learner is in, as their
// home lists it.
type LearnerAssignment struct {
	ClassID   int64
	ClassName string
	Kind      string
	Ref       string
	DueAt     *time.Time
	// Done says the learner has submitted the exercise (an attempt that
	// counts) or attempted the quiz.
	Done bool
}

// LearnerAssignments returns up to limit assignments of the classes a
// learner is in, those with the earliest due dates first and those with
// none last, in one query.
func (s *Store) LearnerAssignments(ctx context.Context, userID int64, limit int) ([]LearnerAssignment, error) {
	var rows []struct {
		LearnerAssignment
		DoneN int
	}
	err := s.db.WithContext(ctx).Table("assignments").
		Select("classes.id AS class_id, classes.name AS class_name, assignments.kind, assignments.ref, assignments.due_at, "+
			"CASE WHEN (assignments.kind = ? AND EXISTS (SELECT 1 FROM submissions WHERE submissions.user_id = ? "+
			"AND submissions.exercise = assignments.ref AND submissions.status <> ?)) "+
			"OR (assignments.kind = ? AND EXISTS (SELECT 1 FROM quiz_attempts WHERE quiz_attempts.user_id = ? "+
			"AND quiz_attempts.lesson_slug = assignments.ref)) THEN 1 ELSE 0 END AS done_n",
			AssignExercise, userID, StatusNotGradable, AssignQuiz, userID).
		Joins("JOIN class_members ON class_members.class_id = assignments.class_id AND class_members.user_id = ?", userID).
		Joins("JOIN classes ON classes.id = assignments.class_id").
		Order("CASE WHEN assignments.due_at IS NULL THEN 1 ELSE 0 END, assignments.due_at, classes.name, assignments.id").
		Limit(limit).Scan(&rows).Error
	if err != nil {
		return nil, mapErr(err, "assignments")
	}
	out := make([]LearnerAssignment, len(rows))
	for i, r := range rows {
		out[i] = r.LearnerAssignment
		out[i].Done = r.DoneN == 1
	}
	return out, nil
}

// TaughtClass is one of an instructor's classes with its size.
type TaughtClass struct {
	ID      int64
	Name    string
	Members int
}

// TaughtClasses returns up to limit of an instructor's classes, newest
// first, with how many learners each has, in one query.
func (s *Store) TaughtClasses(ctx context.Context, instructorID int64, limit int) ([]TaughtClass, error) {
	var rows []TaughtClass
	err := s.db.WithContext(ctx).Table("classes").
		Select("classes.id, classes.name, (SELECT COUNT(*) FROM class_members WHERE class_members.class_id = classes.id) AS members").
		Where("classes.instructor_id = ?", instructorID).
		Order("classes.created_at DESC, classes.id DESC").Limit(limit).Scan(&rows).Error
	return rows, mapErr(err, "classes")
}

// UpcomingDue is an assignment of an instructor's class due from now on.
type UpcomingDue struct {
	ClassID   int64
	ClassName string
	Kind      string
	Ref       string
	DueAt     time.Time
}

// UpcomingDues returns up to limit assignments of an instructor's classes
// due at or after now, the soonest first.
func (s *Store) UpcomingDues(ctx context.Context, instructorID int64, now time.Time, limit int) ([]UpcomingDue, error) {
	var rows []UpcomingDue
	err := s.db.WithContext(ctx).Table("assignments").
		Select("classes.id AS class_id, classes.name AS class_name, assignments.kind, assignments.ref, assignments.due_at").
		Joins("JOIN classes ON classes.id = assignments.class_id").
		Where("classes.instructor_id = ? AND assignments.due_at IS NOT NULL AND assignments.due_at >= ?", instructorID, now.UTC()).
		Order("assignments.due_at, classes.name").Limit(limit).Scan(&rows).Error
	return rows, mapErr(err, "assignments")
}
