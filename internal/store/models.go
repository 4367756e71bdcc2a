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
	// EmailVerifiedAt is when the owner proved the address is theirs by
	// following an emailed link; nil while unconfirmed.
	EmailVerifiedAt *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// EmailVerified reports whether the account's address is confirmed.
// Single sign-on matches an existing account only by a confirmed address.
func (u User) EmailVerified() bool { return u.EmailVerifiedAt != nil }

// Session is a logged-in browser. ID is the SHA-256 of the cookie token.
type Session struct {
	ID         string `gorm:"primaryKey"`
	UserID     int64
	CreatedAt  time.Time
	LastSeenAt time.Time
	// UserAgent is the browser's User-Agent at login, shortened, so its
	// owner can tell sessions apart.
	UserAgent string
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

// Submission statuses. queued and running are on the way; the others are
// terminal, and a submission reaches exactly one of them.
const (
	StatusQueued      = "queued"
	StatusRunning     = "running"
	StatusGraded      = "graded"
	StatusNotGradable = "not_gradable"
	StatusTimedOut    = "timed_out"
)

// Submission is a design submitted for a lab exercise. Its design and
// notes never change; its grading state does, until it is terminal.
type Submission struct {
	ID          string `gorm:"primaryKey"`
	UserID      int64
	Lab         string
	Exercise    string
	Number      int // per learner and exercise, from 1
	Design      string
	Notes       string
	Status      string
	Score       *int
	MaxScore    int
	Environment string
	Message     string // why it is not gradable or timed out, for the learner
	// StaffDetail is the technical side of the result (why containers did
	// not start, which error ended a run): instructors and admins see it,
	// learners do not.
	StaffDetail string
	Run         int    // grading runs started; check rows carry the run
	JobID       *int64 // the grading job in the queue
	// LeaseOwner and LeaseUntil say which worker grades the current run and
	// until when it is presumed alive; the worker renews the lease while
	// it works.
	LeaseOwner string
	LeaseUntil *time.Time
	// Interruptions counts runs cut short by a lost worker.
	Interruptions int
	CreatedAt     time.Time
	StartedAt     *time.Time
	FinishedAt    *time.Time
}

// Terminal reports whether grading is over.
func (s Submission) Terminal() bool {
	return s.Status == StatusGraded || s.Status == StatusNotGradable || s.Status == StatusTimedOut
}

// Counts reports whether the submission counts as an attempt: one the
// infrastructure failed to grade does not.
func (s Submission) Counts() bool { return s.Status != StatusNotGradable }

// SubmissionCheck is one check's result in one grading run.
type SubmissionCheck struct {
	SubmissionID string `gorm:"primaryKey"`
	Run          int    `gorm:"primaryKey"`
	Seq          int    `gorm:"primaryKey"`
	Name         string
	Requirement  string
	Passed       bool
	Points       int
	MaxPoints    int
	Message      string
	DurationMS   float64 `gorm:"column:duration_ms"`
	Chart        string  // JSON, or "" for none
	// Skipped: the target could not take the check; it counts neither way.
	Skipped bool
}

// Models lists every model, for the schema check.
func Models() []any {
	return []any{&User{}, &Session{}, &LessonProgress{}, &QuizAttempt{}, &QuestionAnswer{},
		&CardState{}, &CardReview{}, &OutcomeTick{}, &Submission{}, &SubmissionCheck{},
		&Class{}, &ClassMember{}, &Assignment{}, &SubmissionReview{},
		&APIToken{}, &Invitation{}, &SetupToken{}, &EmailToken{}, &Identity{},
		&SubmissionArchive{}, &SubmissionLog{}, &DrillAttempt{}, &InterviewSession{}, &InterviewStage{}, &InterviewReview{}}
}
