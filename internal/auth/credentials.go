package auth

import (
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/sdworkbook/workbook/internal/names"
)

// Password length bounds, in characters.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 128
	maxEmailLen    = 254
)

// Credentials are a normalised email and a password that meets the rules.
type Credentials struct {
	Email    string
	Password string
}

// NormaliseEmail trims and lower-cases an address and checks that it is a
// plain address (no display name, no angle brackets). It returns "" and a
// message when it is not acceptable.
func NormaliseEmail(raw string) (string, string) {
	s := strings.ToLower(strings.TrimSpace(raw))
	switch {
	case s == "":
		return "", "Enter your email address."
	case len(s) > maxEmailLen:
		return "", "That email address is too long."
	case !utf8.ValidString(s):
		return "", "That email address is not valid."
	case names.HasUnsafe(s):
		return "", "That email address holds control or invisible formatting characters; type it again."
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || addr.Name != "" {
		return "", "Enter an email address like name@example.org."
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || !strings.Contains(s[at+1:], ".") || strings.HasSuffix(s, ".") {
		return "", "Enter an email address like name@example.org."
	}
	return s, ""
}

// ParseRegistration checks registration input. The map holds a message per
// field at fault and is empty when the input is acceptable.
func ParseRegistration(email, password string) (Credentials, map[string]string) {
	errs := map[string]string{}
	e, msg := NormaliseEmail(email)
	if msg != "" {
		errs["email"] = msg
	}
	switch n := utf8.RuneCountInString(password); {
	case !utf8.ValidString(password):
		errs["password"] = "The password contains invalid characters."
	case n < MinPasswordLen:
		errs["password"] = "Use at least 12 characters."
	case n > MaxPasswordLen:
		errs["password"] = "Use at most 128 characters."
	case strings.TrimSpace(password) == "":
		errs["password"] = "The password cannot be only spaces."
	}
	return Credentials{Email: e, Password: password}, errs
}

// ParseLogin checks login input. It is lenient about the password's length
// rules (they may have changed since the account was made) but still bounds
// it, so nobody can make the server hash a megabyte.
func ParseLogin(email, password string) (Credentials, map[string]string) {
	errs := map[string]string{}
	e, msg := NormaliseEmail(email)
	if msg != "" {
		errs["email"] = msg
	}
	switch {
	case password == "":
		errs["password"] = "Enter your password."
	case len(password) > 4*MaxPasswordLen:
		errs["password"] = "That password is too long."
	}
	return Credentials{Email: e, Password: password}, errs
}
