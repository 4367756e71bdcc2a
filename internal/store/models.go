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

// Models lists every model, for the schema check.
func Models() []any {
	return []any{&User{}, &Session{}}
}
