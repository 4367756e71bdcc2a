package views

import (
	"context"
	"net/url"
)

// SignIn is single sign-on as the login page offers it.
type SignIn struct {
	Name string // the provider, on the button: "Sign in with <Name>"
	// Unreachable says the provider did not answer the last time the
	// workbook asked; the button tries again.
	Unreachable bool
	// Only says people sign in with the provider only; a password form, if
	// any, is for administrators.
	Only bool
	// Password says a password form follows the button on the page.
	Password bool
}

type signInKey struct{}

// WithSignIn offers single sign-on on the login pages rendered with ctx.
// The login routes set it, so every rendering of the login form (first
// view, failed attempt, throttled attempt) shows the button.
func WithSignIn(ctx context.Context, si SignIn) context.Context {
	return context.WithValue(ctx, signInKey{}, si)
}

func signInFrom(ctx context.Context) (SignIn, bool) {
	si, ok := ctx.Value(signInKey{}).(SignIn)
	return si, ok
}

// adminLoginURL is the password form of an SSO-only login page.
func adminLoginURL(next string) string {
	u := "/login?password=1"
	if next != "" && next != "/" {
		u += "&next=" + url.QueryEscape(next)
	}
	return u
}
