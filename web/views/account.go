package views

import (
	"strconv"

	"github.com/sdworkbook/workbook/internal/store"
)

// AccountPage is the model of /account: who you are and your access
// tokens.
type AccountPage struct {
	Email, Role string
	Tokens      []store.APIToken
	// NewToken is a token just created, shown this once.
	NewToken     string
	NewTokenName string
	Name         string
	NameError    string
	MaxTokens    int
	// Mail is whether the address is confirmed, and can be.
	Mail MailStatus
}

// NoticesPage is the model of /notices.
type NoticesPage struct {
	Notices []store.Notice
	Unread  int
	Staff   bool
	Waiting []store.Waiting
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

func reviewURL(w store.Waiting) string {
	return "/classes/" + strconv.FormatInt(w.ClassID, 10) + "/submissions/" + w.ID
}
