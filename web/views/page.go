// Package views holds the templ components and the view models they render.
// View models are shaped like the screen; handlers fill them from the store.
package views

import "strconv"

// User is the signed-in account as the nav shows it.
type User struct {
	ID    int64
	Email string
	Role  string
}

// IsStaff reports whether the user teaches or administers.
func (u *User) IsStaff() bool { return u != nil && (u.Role == "instructor" || u.Role == "admin") }

// Flash is a one-time message shown at the top of the next page.
type Flash struct {
	Kind    string // "info", "success" or "error"
	Message string
}

// Page is what every full page passes to the layout.
type Page struct {
	Title   string
	Section string // highlights the nav entry: home, lessons, questions, review, labs, progress
	User    *User
	Flash   *Flash
	// Asset maps a static file name to its versioned URL.
	Asset func(name string) string
	// DueCards is the count of flashcards due, shown in the nav; render
	// counts it unless DueKnown says the handler already has.
	DueCards int
	DueKnown bool
	// Notices counts what is new for the user: unread notices, and for an
	// instructor, submissions waiting for a look.
	Notices int
	// Description is the page's meta description.
	Description string
	// LabsOpen says whether the live labs are served, so pages link them.
	LabsOpen bool
}

// FormErrors maps a field name to its message.
type FormErrors map[string]string

// AuthForm is the model of the login and registration forms.
type AuthForm struct {
	Email  string
	Errors FormErrors
	// Message is shown above the form (for example "Too many attempts").
	Message string
	Next    string

	// Registration only.
	// Policy is the sentence saying who may register here.
	Policy string
	// CanRegister shows the form: the policy lets this visitor register.
	CanRegister bool
	// AskJoinCode offers a field for a class join code instead.
	AskJoinCode bool
	// Join is a class join code the account joins; Invite an admin's
	// invitation token, which fixes the email (EmailFixed).
	Join       string
	Invite     string
	EmailFixed bool
}

// loginURL is the login link of the registration page: back to the join
// link after logging in, when there is one.
func loginURL(f AuthForm) string {
	if f.Join != "" {
		return "/login?next=/join/" + f.Join
	}
	return "/login"
}

// ErrorPage is the model of the error page.
type ErrorPage struct {
	Status    int
	Title     string
	Message   string
	RequestID string
}

// badgeText is a count for a nav badge: "99+" past 99.
func badgeText(n int) string {
	if n > 99 {
		return "99+"
	}
	return strconv.Itoa(n)
}

// SetupPage is the model of /setup/{token}, which claims the first admin.
type SetupPage struct {
	Token string
	// SignedInAs is the email of the signed-in account, which the link
	// would make the admin; empty offers a form for a new account.
	SignedInAs string
	Form       AuthForm
}
