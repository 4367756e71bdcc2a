package views

import "time"

// ForgotPage is the model of /forgot: the form asking for an address, the
// answer once asked, or, without a mail server, who resets passwords.
type ForgotPage struct {
	MailEnabled bool
	Email       string
	Errors      FormErrors
	Message     string
	// Sent shows the answer: the same whether or not the address has an
	// account.
	Sent bool
	// ValidFor says how long a link works, in words.
	ValidFor string
}

// ResetPage is the model of the page an emailed reset link opens.
type ResetPage struct {
	Token   string
	Email   string
	Errors  FormErrors
	Message string
}

// VerifyPage is the model of the page an emailed confirmation link opens.
type VerifyPage struct {
	Token string
	Email string
}

// BadLinkPage explains an emailed link that does not work (any more).
type BadLinkPage struct {
	Reset bool // a reset link; else a confirmation link
}

// MailStatus is the account page's view of the address: confirmed or not,
// and whether this server can send a link to confirm it.
type MailStatus struct {
	MailEnabled bool
	VerifiedAt  *time.Time
	Message     string // an answer to "send again" that could not be done
}
