package views

import (
	"strconv"
	"time"
)

// AccountPage is the model of /account: who you are, your password, your
// sessions and your access tokens.
type AccountPage struct {
	Email, Role string
	Now         time.Time
	Tokens      []TokenRow
	// NewToken is a token just created, shown this once.
	NewToken     string
	NewTokenName string
	// The token form as submitted: name, days to expiry, scope, errors.
	Name        string
	NameError   string
	Days        int
	Scope       string
	TokenErrors FormErrors
	TokenDays   []int
	MaxTokens   int

	// PasswordErrors name the password form's fields at fault;
	// PasswordMessage is shown above it (too many attempts, busy).
	PasswordErrors  FormErrors
	PasswordMessage string

	Sessions    []SessionRow
	MaxSessions int

	// Mail is whether the address is confirmed, and can be.
	Mail MailStatus
}

// SessionRow is one logged-in browser of the account.
type SessionRow struct {
	// Handle names the session in the page and its logout URL.
	Handle     string
	CreatedAt  time.Time
	LastSeenAt time.Time
	Browser    string // "Firefox on Linux"
	UserAgent  string
	Current    bool // the session of this request
}

// NoticesPage is the model of /notices.
type NoticesPage struct {
	Notices []NoticeRow
	Unread  int
	Staff   bool
	Waiting []WaitingRow
	// WaitingTotal counts every waiting submission; Waiting holds the newest.
	WaitingTotal int64
	// Titles names exercises by id.
	Titles map[string]string
}

func (m NoticesPage) title(exercise string) string {
	if t, ok := m.Titles[exercise]; ok {
		return t
	}
	return exercise
}

func reviewURL(w WaitingRow) string {
	return "/classes/" + strconv.FormatInt(w.ClassID, 10) + "/submissions/" + w.ID
}
