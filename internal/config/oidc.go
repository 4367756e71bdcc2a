package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// OIDC is single sign-on with an OpenID Connect provider. Issuer empty
// means it is off.
type OIDC struct {
	Issuer       string // WORKBOOK_OIDC_ISSUER, exactly as the provider's discovery document names it
	ClientID     string // WORKBOOK_OIDC_CLIENT_ID
	ClientSecret string // WORKBOOK_OIDC_CLIENT_SECRET; empty for a public client (PKCE only)
	Name         string // WORKBOOK_OIDC_NAME, on the button: "Sign in with <Name>"
	// Only (WORKBOOK_OIDC_ONLY) turns registration with a password off and
	// keeps password login for admin accounts alone, the way back in when
	// the provider is down or misconfigured.
	Only bool
}

// Enabled reports whether single sign-on is configured.
func (o OIDC) Enabled() bool { return o.Issuer != "" }

// OIDCCallbackPath is where the provider sends the browser back.
const OIDCCallbackPath = "/auth/oidc/callback"

// OIDCRedirectURL is the redirect URI to register at the provider.
func (c Config) OIDCRedirectURL() string { return c.BaseURL + OIDCCallbackPath }

// maxOIDCName bounds the button label, in characters.
const maxOIDCName = 40

// readOIDC reads and checks the single sign-on variables; an error is the
// reader's, naming the variable at fault.
func readOIDC(r *reader) OIDC {
	o := OIDC{
		Issuer:       r.str("WORKBOOK_OIDC_ISSUER"),
		ClientID:     r.str("WORKBOOK_OIDC_CLIENT_ID"),
		ClientSecret: r.str("WORKBOOK_OIDC_CLIENT_SECRET"),
		Name:         r.str("WORKBOOK_OIDC_NAME"),
		Only:         r.boolean("WORKBOOK_OIDC_ONLY"),
	}
	if err := checkOIDC(o, r.str("WORKBOOK_BASE_URL")); err != nil && r.err == nil {
		r.err = err // it names its variable already
	}
	return o
}

func checkOIDC(o OIDC, baseURL string) error {
	if o.Issuer == "" {
		switch {
		case o.ClientID != "" || o.ClientSecret != "":
			return errors.New("WORKBOOK_OIDC_ISSUER: set it too, or unset WORKBOOK_OIDC_CLIENT_ID and WORKBOOK_OIDC_CLIENT_SECRET")
		case o.Only:
			return errors.New("WORKBOOK_OIDC_ONLY: single sign-on only needs WORKBOOK_OIDC_ISSUER and WORKBOOK_OIDC_CLIENT_ID")
		}
		return nil
	}
	u, err := url.Parse(o.Issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("WORKBOOK_OIDC_ISSUER: %q is not an issuer URL like https://login.example.edu", o.Issuer)
	}
	// Tokens and keys come from the issuer: plain http would let anyone on
	// the path hand out accounts. Loopback is the exception, for a provider
	// on the same machine.
	if u.Scheme != "https" && !(u.Scheme == "http" && loopbackHost(u.Hostname())) {
		return fmt.Errorf("WORKBOOK_OIDC_ISSUER: %q must be https:// (http only on localhost)", o.Issuer)
	}
	if o.ClientID == "" {
		return errors.New("WORKBOOK_OIDC_CLIENT_ID: required with WORKBOOK_OIDC_ISSUER")
	}
	if baseURL == "" {
		return errors.New("WORKBOOK_BASE_URL: required with WORKBOOK_OIDC_ISSUER, so the provider can send browsers back to WORKBOOK_BASE_URL" + OIDCCallbackPath)
	}
	if n := utf8.RuneCountInString(o.Name); n == 0 || n > maxOIDCName || !printable(o.Name) {
		return fmt.Errorf("WORKBOOK_OIDC_NAME: %q must be 1 to %d printable characters", o.Name, maxOIDCName)
	}
	return nil
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// printable refuses control and bidirectional formatting characters, which
// could make the login button say something else than it seems to.
func printable(s string) bool {
	if !utf8.ValidString(s) || strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u200b' {
			return false
		}
	}
	return true
}
