package store

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Class is a cohort an instructor runs through the module.
type Class struct {
	ID           int64 `gorm:"primaryKey"`
	InstructorID int64
	Name         string
	JoinCode     string
	CreatedAt    time.Time
	// LaddersUnlocked lets the class's learners submit any step of an
	// exercise ladder without passing the step before.
	LaddersUnlocked bool
}

// ClassMember is a learner in a class.
type ClassMember struct {
	ClassID  int64 `gorm:"primaryKey"`
	UserID   int64 `gorm:"primaryKey"`
	JoinedAt time.Time
}

// Assignment kinds.
const (
	AssignExercise = "exercise" // Ref is a lab exercise id
	AssignQuiz     = "quiz"     // Ref is a lesson slug
)

// Assignment is a lab exercise or a quiz set for a class.
type Assignment struct {
	ID        int64 `gorm:"primaryKey"`
	ClassID   int64
	Kind      string
	Ref       string
	DueAt     *time.Time
	CreatedAt time.Time
}

// Late reports whether something done at t missed the due date.
func (a Assignment) Late(t time.Time) bool { return a.DueAt != nil && t.After(*a.DueAt) }

// SubmissionReview is an instructor's override and feedback on a
// submission, in one class: each class a learner is in reviews on its own,
// and the grader's score stays on the submission beside them.
type SubmissionReview struct {
	ClassID       int64  `gorm:"primaryKey"`
	SubmissionID  string `gorm:"primaryKey"`
	OverrideScore *int
	Reason        string
	Feedback      string
	ReviewerID    *int64
	UpdatedAt     time.Time
}

// joinAlphabet avoids letters and digits that read alike (0/O, 1/I/L).
const joinAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

func newJoinCode() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = joinAlphabet[int(b[i])%len(joinAlphabet)]
	}
	return string(b)
}

// CreateClass creates a class with a fresh join code.
func (s *Store) CreateClass(ctx context.Context, instructorID int64, name string, now time.Time) (Class, error) {
	var err error
	for range 5 { // a code collision is unlikely; try another
		c := Class{InstructorID: instructorID, Name: name, JoinCode: newJoinCode(), CreatedAt: now.UTC()}
		if err = s.db.WithContext(ctx).Create(&c).Error; err == nil {
			return c, nil
		}
		if !(errors.Is(err, gorm.ErrDuplicatedKey) || isUniqueViolation(err)) {
			break
		}
	}
	return Class{}, mapErr(err, "class")
}

// ClassByID returns a class.
func (s *Store) ClassByID(ctx context.Context, id int64) (Class, error) {
	var c Class
	return c, mapErr(s.db.WithContext(ctx).Where("id = ?", id).Take(&c).Error, "class")
}

// ClassByCode returns the class a join code opens.
func (s *Store) ClassByCode(ctx context.Context, code string) (Class, error) {
	var c Class
	return c, mapErr(s.db.WithContext(ctx).Where("join_code = ?", code).Take(&c).Error, "class")
}

// ClassesTaught returns an instructor's classes; instructorID 0 returns
// every class (for an admin).
func (s *Store) ClassesTaught(ctx context.Context, instructorID int64) ([]Class, error) {
	q := s.db.WithContext(ctx)
	if instructorID != 0 {
		q = q.Where("instructor_id = ?", instructorID)
	}
	var rows []Class
	return rows, mapErr(q.Order("created_at DESC, id DESC").Limit(1000).Find(&rows).Error, "classes")
}

// ClassesJoined returns the classes a learner is in.
func (s *Store) ClassesJoined(ctx context.Context, userID int64) ([]Class, error) {
	var rows []Class
	err := s.db.WithContext(ctx).Joins("JOIN class_members ON class_members.class_id = classes.id").
		Where("class_members.user_id = ?", userID).Order("classes.name").Find(&rows).Error
	return rows, mapErr(err, "classes")
}

// SetLaddersUnlocked unlocks (or locks again) every ladder step for a
// class's learners.
func (s *Store) SetLaddersUnlocked(ctx context.Context, classID int64, unlocked bool) error {
	res := s.db.WithContext(ctx).Model(&Class{}).Where("id = ?", classID).Update("ladders_unlocked", unlocked)
	if res.Error == nil && res.RowsAffected == 0 {
		return mapErr(gorm.ErrRecordNotFound, "class")
	}
	return mapErr(res.Error, "class")
}

// LaddersUnlockedFor reports whether a class the learner is in has its
// ladders unlocked.
func (s *Store) LaddersUnlockedFor(ctx context.Context, userID int64) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Class{}).Joins("JOIN class_members ON class_members.class_id = classes.id").
		Where("class_members.user_id = ? AND classes.ladders_unlocked = ?", userID, true).Count(&n).Error
	return n > 0, mapErr(err, "classes")
}

// JoinClass adds a learner to a class; joining twice changes nothing.
func (s *Store) JoinClass(ctx context.Context, classID, userID int64, now time.Time) error {
	m := ClassMember{ClassID: classID, UserID: userID, JoinedAt: now.UTC()}
	return mapErr(s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&m).Error, "class member")
}

// LeaveClass removes a learner from a class.
func (s *Store) LeaveClass(ctx context.Context, classID, userID int64) error {
	return mapErr(s.db.WithContext(ctx).Where("class_id = ? AND user_id = ?", classID, userID).Delete(&ClassMember{}).Error, "class member")
}

// Member is a learner of a class with when they joined.
type Member struct {
	User
	JoinedAt time.Time
}

// Members returns a class's learners by email; its instructor is never
// one (joining one's own class is refused, and a membership from before
// that rule is left out).
func (s *Store) Members(ctx context.Context, classID int64) ([]Member, error) {
	var rows []Member
	err := s.db.WithContext(ctx).Model(&User{}).Select("users.*, class_members.joined_at").
		Joins("JOIN class_members ON class_members.user_id = users.id").
		Joins("JOIN classes ON classes.id = class_members.class_id").
		Where("class_members.class_id = ? AND users.id <> classes.instructor_id", classID).Order("users.email").Scan(&rows).Error
	return rows, mapErr(err, "members")
}

// ClassSubmission returns a submission as the staff of a class may see
// it: its learner is in the class and the class assigns its exercise.
// Any other submission is not found, as if it did not exist.
func (s *Store) ClassSubmission(ctx context.Context, classID int64, id string) (Submission, error) {
	var sub Submission
	err := s.db.WithContext(ctx).Model(&Submission{}).Select("submissions.*").
		Joins("JOIN class_members ON class_members.user_id = submissions.user_id AND class_members.class_id = ?", classID).
		Joins("JOIN assignments ON assignments.class_id = ? AND assignments.kind = ? AND assignments.ref = submissions.exercise",
			classID, AssignExercise).
		Where("submissions.id = ?", id).Take(&sub).Error
	return sub, mapErr(err, "submission")
}

// AddAssignment sets an exercise or quiz for a class; setting it again
// changes its due date.
func (s *Store) AddAssignment(ctx context.Context, a *Assignment) error {
	a.CreatedAt = a.CreatedAt.UTC()
	if a.DueAt != nil {
		d := a.DueAt.UTC()
		a.DueAt = &d
	}
	return mapErr(s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "class_id"}, {Name: "kind"}, {Name: "ref"}},
		DoUpdates: clause.AssignmentColumns([]string{"due_at"}),
	}).Create(a).Error, "assignment")
}

// DeleteAssignment removes an assignment of a class.
func (s *Store) DeleteAssignment(ctx context.Context, classID, id int64) error {
	res := s.db.WithContext(ctx).Where("class_id = ? AND id = ?", classID, id).Delete(&Assignment{})
	if res.Error == nil && res.RowsAffected == 0 {
		return mapErr(gorm.ErrRecordNotFound, "assignment")
	}
	return mapErr(res.Error, "assignment")
}

// Assignments returns a class's assignments, earliest due first.
func (s *Store) Assignments(ctx context.Context, classID int64) ([]Assignment, error) {
	var rows []Assignment
	err := s.db.WithContext(ctx).Where("class_id = ?", classID).Order("due_at IS NULL, due_at, id").Find(&rows).Error
	return rows, mapErr(err, "assignments")
}

// SubmissionsOf returns the submissions of some learners to some
// exercises, oldest first.
func (s *Store) SubmissionsOf(ctx context.Context, userIDs []int64, exercises []string) ([]Submission, error) {
	if len(userIDs) == 0 || len(exercises) == 0 {
		return nil, nil
	}
	var rows []Submission
	err := s.db.WithContext(ctx).Where("user_id IN ? AND exercise IN ?", userIDs, exercises).
		Order("created_at, number").Find(&rows).Error
	return rows, mapErr(err, "submissions")
}

// QuizAttemptsOf returns the attempts of some learners at some quizzes,
// oldest first.
func (s *Store) QuizAttemptsOf(ctx context.Context, userIDs []int64, slugs []string) ([]QuizAttempt, error) {
	if len(userIDs) == 0 || len(slugs) == 0 {
		return nil, nil
	}
	var rows []QuizAttempt
	err := s.db.WithContext(ctx).Where("user_id IN ? AND lesson_slug IN ?", userIDs, slugs).
		Order("created_at, id").Find(&rows).Error
	return rows, mapErr(err, "quiz attempts")
}

// Reviews returns a class's reviews of some submissions by submission id;
// other classes' reviews of them are not read.
func (s *Store) Reviews(ctx context.Context, classID int64, ids []string) (map[string]SubmissionReview, error) {
	out := map[string]SubmissionReview{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []SubmissionReview
	if err := s.db.WithContext(ctx).Where("class_id = ? AND submission_id IN ?", classID, ids).Find(&rows).Error; err != nil {
		return nil, mapErr(err, "reviews")
	}
	for _, r := range rows {
		out[r.SubmissionID] = r
	}
	return out, nil
}

// ClassReview is one class's review with the class's name, as the learner
// reads it.
type ClassReview struct {
	SubmissionReview
	ClassName string
}

// ReviewsOf returns every class's review of one submission, for its
// learner, by class name.
func (s *Store) ReviewsOf(ctx context.Context, id string) ([]ClassReview, error) {
	var rows []ClassReview
	err := s.db.WithContext(ctx).Model(&SubmissionReview{}).
		Select("submission_reviews.*, classes.name AS class_name").
		Joins("JOIN classes ON classes.id = submission_reviews.class_id").
		Where("submission_reviews.submission_id = ?", id).
		Order("classes.name, classes.id").Scan(&rows).Error
	return rows, mapErr(err, "reviews")
}

// Users returns every account by email, for the admin.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	var rows []User
	return rows, mapErr(s.db.WithContext(ctx).Order("email").Limit(5000).Find(&rows).Error, "accounts")
}

// DeleteClass removes a class with its members, assignments and reviews;
// the learners' submissions stay theirs.
func (s *Store) DeleteClass(ctx context.Context, id int64) error {
	res := s.db.WithContext(ctx).Where("id = ?", id).Delete(&Class{})
	if res.Error == nil && res.RowsAffected == 0 {
		return mapErr(gorm.ErrRecordNotFound, "class")
	}
	return mapErr(res.Error, "class")
}

// ClassDue is when a class wants an exercise done.
type ClassDue struct {
	ClassID   int64
	ClassName string
	DueAt     time.Time
}

// DueDates returns the due dates the classes a learner is in set for an
// exercise (classID 0: every such class; otherwise that one).
func (s *Store) DueDates(ctx context.Context, userID int64, exercise string, classID int64) ([]ClassDue, error) {
	q := s.db.WithContext(ctx).Table("assignments").
		Select("classes.id AS class_id, classes.name AS class_name, assignments.due_at").
		Joins("JOIN classes ON classes.id = assignments.class_id").
		Joins("JOIN class_members ON class_members.class_id = classes.id AND class_members.user_id = ?", userID).
		Where("assignments.kind = ? AND assignments.ref = ? AND assignments.due_at IS NOT NULL", AssignExercise, exercise)
	if classID != 0 {
		q = q.Where("classes.id = ?", classID)
	}
	var rows []ClassDue
	return rows, mapErr(q.Order("classes.name").Scan(&rows).Error, "assignments")
}
