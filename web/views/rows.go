package views

import (
	"strings"
	"time"

	"github.com/sdworkbook/workbook/gradebook"
)

// The rows pages list, shaped like the screen: what a page shows of the
// database's records, and no more.

// ClassRef names a class on a page.
type ClassRef struct {
	ID             int64
	Name, JoinCode string
	// LaddersUnlocked: every ladder step is open to the class's learners.
	LaddersUnlocked bool
}

// TokenRow is one access token on the account page.
type TokenRow struct {
	ID                   int64
	Name, Prefix, Scope  string
	CreatedAt, ExpiresAt time.Time
	LastUsedAt           *time.Time
	Expired              bool
}

// NoticeRow is one notice for the signed-in person.
type NoticeRow struct {
	Message, Link string
	CreatedAt     time.Time
	ReadAt        *time.Time
}

// WaitingRow is a finished submission waiting for an instructor's look,
// with the class it came through.
type WaitingRow struct {
	ID                 string // the submission's
	ClassID            int64
	ClassName, Learner string
	Exercise           string
	Number             int
	Score              *int
	MaxScore           int
	CreatedAt          time.Time
}

// UserRow is an account on the admin's page.
type UserRow struct {
	ID          int64
	Email, Role string
	CreatedAt   time.Time
}

// InvitationRow is an invitation waiting to be used.
type InvitationRow struct {
	ID          int64
	Email, Role string
	ExpiresAt   time.Time
}

// Attempt is one submission of the learner's to an exercise.
type Attempt struct {
	ID        string
	Number    int
	Status    string
	Score     *int
	MaxScore  int
	CreatedAt time.Time
	// Counted is false for a submission the grader could not grade.
	Counted bool
}

// Counts reports whether the attempt counts.
func (a Attempt) Counts() bool { return a.Counted }

// ClassReview is a class's override and feedback on a submission, as its
// learner reads it.
type ClassReview struct {
	ClassID          int64
	ClassName        string
	OverrideScore    *int
	Reason, Feedback string
}

// ClassDue is when a class wanted an exercise done.
type ClassDue struct {
	ClassName string
	DueAt     time.Time
}

// ReviewMark is the class's override of a submission as its reviewer
// sees it saved.
type ReviewMark struct {
	OverrideScore *int
	UpdatedAt     time.Time
}

// ladderHead explains the gradebook's steps column: the labs in order.
func ladderHead(ls []gradebook.Ladder) string {
	names := make([]string, len(ls))
	for i, l := range ls {
		names[i] = l.Title
	}
	return "Highest ladder step passed, per lab: " + strings.Join(names, ", ")
}
