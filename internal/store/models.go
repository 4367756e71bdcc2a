package store

import "time"

// Role is what an account may do.
type Role string

// The roles.
const (
	RoleLearner    Role = "learner"
	RoleInstructor Role = "instructor"
	RoleAdmin      Role = "admin"
)

// ParseRole validates a role name.
func ParseRole(s string) (Role, bool) {
	switch r := Role(s); r {
	case RoleLearner, RoleInstructor, RoleAdmin:
		return r, true
	}
	return "", false
}

// User is an account.
type User struct {
	ID           int64 `gorm:"primaryKey"`
	Email        string
	PasswordHash string
	Role         Role
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Session is a logged-in browser. ID is the SHA-256 of the cookie token.
type Session struct {
	ID         string `gorm:"primaryKey"`
	UserID     int64
	CreatedAt  time.Time
	LastSeenAt time.Time
}

// LessonProgress records a learner opening and completing a lesson.
type LessonProgress struct {
	UserID        int64  `gorm:"primaryKey"`
	LessonSlug    string `gorm:"primaryKey"`
	FirstOpenedAt time.Time
	LastOpenedAt  time.Time
	CompletedAt   *time.Time
}

// TableName keeps the table name singular-free and explicit.
func (LessonProgress) TableName() string { return "lesson_progress" }

// QuizAttempt is one graded quiz submission.
type QuizAttempt struct {
	ID         int64 `gorm:"primaryKey"`
	UserID     int64
	LessonSlug string
	Score      int
	MaxScore   int
	Passed     bool
	Answers    string // JSON of the answers as given
	CreatedAt  time.Time
}

// QuestionAnswer is a learner's answer to an interview question.
type QuestionAnswer struct {
	UserID       int64  `gorm:"primaryKey"`
	QuestionSlug string `gorm:"primaryKey"`
	Answer       string
	RevealedAt   *time.Time
	Rating       *int
	KeyPointsHit string // JSON array of key point indexes
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// CardState is the spaced-repetition schedule of one card for one learner.
type CardState struct {
	UserID         int64  `gorm:"primaryKey"`
	CardID         string `gorm:"primaryKey"`
	Ease           float64
	IntervalDays   int
	Repetitions    int
	Lapses         int
	DueAt          time.Time
	LastReviewedAt time.Time
	CreatedAt      time.Time
}

// CardReview is one review of a card, for streaks and history.
type CardReview struct {
	ID         int64 `gorm:"primaryKey"`
	UserID     int64
	CardID     string
	Grade      int
	ReviewedAt time.Time
}

// OutcomeTick is a checklist outcome ticked by hand.
type OutcomeTick struct {
	UserID    int64  `gorm:"primaryKey"`
	OutcomeID string `gorm:"primaryKey"`
	TickedAt  time.Time
}

// Models lists every model, for the schema check.
func Models() []any {
	return []any{&User{}, &Session{}, &LessonProgress{}, &QuizAttempt{}, &QuestionAnswer{},
		&CardState{}, &CardReview{}, &OutcomeTick{}}
}
