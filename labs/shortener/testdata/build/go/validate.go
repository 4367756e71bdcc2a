package main

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Limits on what a creation may ask for.
const (
	maxURLLen = 2048
	maxTTLS   = 10 * 365 * 24 * 3600 // ten years
)

// reserved are words an alias may not take (compared without case).
var reserved = map[string]bool{
	"admin": true, "api": true, "r": true, "shorten": true, "batch": true, "links": true, "stats": true,
	"healthz": true, "health": true, "login": true, "logout": true, "register": true, "static": true,
	"assets": true, "help": true, "about": true, "www": true, "new": true, "settings": true,
	"dashboard": true, "account": true,
}

// checkURL says what is wrong with a URL to shorten, or "": an absolute
// http or https URL of at most 2,048 printable ASCII characters, with a
// host and without credentials.
func checkURL(s string) string {
	switch {
	case s == "":
		return "url is empty: give the http or https address to shorten."
	case len(s) > maxURLLen:
		return fmt.Sprintf("url is %d characters long; at most %d are allowed.", len(s), maxURLLen)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c <= ' ' || c == 0x7f:
			return fmt.Sprintf("url contains a space or control character at position %d; percent-encode it.", i+1)
		case c >= 0x80:
			return "url contains non-ASCII characters; percent-encode them."
		case c == '\\':
			return "url contains a backslash, which browsers read as '/'."
		}
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "url is not a valid URL."
	case u.Scheme == "":
		return "url has no scheme: it must start with http:// or https://."
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("url has the scheme %q; only http and https links can be shortened.", u.Scheme)
	case u.Opaque != "":
		return "url must be absolute, like https://example.org/page."
	case u.User != nil:
		return "url contains credentials (a user name before the host); such links are refused."
	case u.Hostname() == "":
		return "url has no host: it must look like https://example.org/page."
	}
	return checkHost(u.Hostname())
}

// checkHost accepts a DNS name of letters, digits, hyphens and dots, or an
// IPv6 address.
func checkHost(h string) string {
	if strings.Contains(h, ":") {
		if net.ParseIP(h) == nil {
			return fmt.Sprintf("url has the host %q, which is not a valid IPv6 address.", h)
		}
		return ""
	}
	if len(h) > 253 {
		return "url has a host name longer than 253 characters."
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || strings.Trim(label, codeChars) != "" {
			return fmt.Sprintf("url has the host %q; a host name has only letters, digits, hyphens and dots.", h)
		}
	}
	return ""
}

// codeChars may appear in codes, aliases and host name labels.
const codeChars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_"

// checkAlias says what is wrong with an alias, or "": 3 to 32 characters
// of A-Z, a-z, 0-9, '-' and '_', not reserved, and not shaped like a
// generated code, so no generated code can ever equal it.
func checkAlias(a string) string {
	switch {
	case len(a) < 3 || len(a) > 32 || strings.Trim(a, codeChars) != "":
		return "alias must be 3 to 32 characters of A-Z, a-z, 0-9, '-' and '_'."
	case reserved[strings.ToLower(a)]:
		return fmt.Sprintf("alias %q is a reserved word.", a)
	case len(a) == codeLen && strings.Trim(a, alphabet) == "":
		return fmt.Sprintf("alias %q looks like a generated code (7 letters and digits); use another length, or add '-' or '_'.", a)
	}
	return ""
}

// validCode reports whether s can be a code or an alias at all.
func validCode(s string) bool {
	return len(s) >= 1 && len(s) <= 32 && strings.Trim(s, codeChars) == ""
}

// createBody is POST /shorten's body.
type createBody struct {
	URL   *string `json:"url"`
	Alias *string `json:"alias"`
	TTLS  *int64  `json:"ttl_s"`
}

// validate says which field is wrong and why, or "", "".
func (b createBody) validate() (field, msg string) {
	if b.URL == nil {
		return "url", "url is required: the http or https address to shorten."
	}
	if msg := checkURL(*b.URL); msg != "" {
		return "url", msg
	}
	if b.Alias != nil && *b.Alias != "" {
		if msg := checkAlias(*b.Alias); msg != "" {
			return "alias", msg
		}
	}
	if b.TTLS != nil && (*b.TTLS < 1 || *b.TTLS > maxTTLS) {
		return "ttl_s", fmt.Sprintf("ttl_s, when given, must be a whole number of seconds from 1 to %d (ten years).", maxTTLS)
	}
	return "", ""
}
