package shortener

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

// Limits on what a creation may ask for.
const (
	maxURLLen   = 2048
	minAliasLen = 3
	maxAliasLen = 32
	maxTTLS     = 10 * 365 * 24 * 3600 // ten years
	maxBody     = 8 << 10
)

// reserved are words an alias may not take: names of routes under the
// instance and of pages a short domain usually serves, compared without
// regard to case.
var reserved = map[string]bool{
	"admin": true, "api": true, "r": true, "shards": true, "stats": true, "shorten": true, "reshard": true,
	"links": true, "login": true, "logout": true, "register": true, "static": true, "assets": true,
	"health": true, "healthz": true, "readyz": true, "events": true, "load": true, "help": true,
	"about": true, "www": true, "new": true, "settings": true, "dashboard": true, "account": true,
}

// createRequest is a validated POST shorten.
type createRequest struct {
	URL   string
	Alias string // "" for a generated code
	TTLS  int64  // 0: never expires
}

// createBody is POST shorten's body as sent.
type createBody struct {
	URL   *string `json:"url"`
	Alias *string `json:"alias"`
	TTLS  *int64  `json:"ttl_s"`
}

// createExample is the body a refusal of an unreadable one shows.
const createExample = `{"url": "https://example.org/page", "alias": "optional", "ttl_s": 3600}`

// readCreate reads a POST shorten body (at most maxBody bytes) and
// validates every field; codeLen is the design's, which aliases must not
// be able to clash with. Its errors are *labhttp.Error, 400 (413 for a
// body too large) naming the field.
func readCreate(r *http.Request, codeLen int) (createRequest, error) {
	var b createBody
	if err := labhttp.DecodeJSON(r, &b, maxBody); err != nil {
		return createRequest{}, withExample(err, createExample)
	}
	req, e := b.validate(codeLen)
	if e != nil {
		return req, e
	}
	return req, nil
}

// parseCreate is readCreate for a body already read.
func parseCreate(body []byte, codeLen int) (createRequest, *labhttp.Error) {
	var b createBody
	if err := labhttp.Unmarshal(body, &b); err != nil {
		var e *labhttp.Error
		if !errors.As(withExample(err, createExample), &e) {
			e = labhttp.BadRequest("body", "%s", err.Error())
		}
		return createRequest{}, e
	}
	return b.validate(codeLen)
}

// validate checks every field of a body that was read.
func (b createBody) validate(codeLen int) (createRequest, *labhttp.Error) {
	var req createRequest
	if b.URL == nil {
		return req, labhttp.BadRequest("url", "url is required: the http or https address to shorten.")
	}
	if msg := checkURL(*b.URL); msg != "" {
		return req, labhttp.BadRequest("url", "%s", msg)
	}
	req.URL = *b.URL
	if b.Alias != nil && *b.Alias != "" {
		if msg := checkAlias(*b.Alias, codeLen); msg != "" {
			return req, labhttp.BadRequest("alias", "%s", msg)
		}
		req.Alias = *b.Alias
	}
	if b.TTLS != nil {
		if *b.TTLS < 1 || *b.TTLS > maxTTLS {
			return req, labhttp.BadRequest("ttl_s", "ttl_s, when given, must be a whole number of seconds from 1 to %d (ten years); leave it out for a link that never expires.", maxTTLS)
		}
		req.TTLS = *b.TTLS
	}
	return req, nil
}

// checkURL says what is wrong with a URL to shorten, or "": an absolute
// http or https URL of at most 2048 printable ASCII characters, with a host
// and without credentials.
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
			return fmt.Sprintf("url contains a space or control character at position %d; percent-encode it (a space is %%20).", i+1)
		case c >= 0x80:
			return "url contains non-ASCII characters; percent-encode them, and write an international domain name in its xn-- form."
		case c == '\\':
			return "url contains a backslash, which browsers read as '/': a common way to disguise where a link goes."
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return "url is not a valid URL: " + strings.TrimPrefix(err.Error(), "parse "+strconv.Quote(s)+": ") + "."
	}
	switch {
	case u.Scheme == "":
		return "url has no scheme: it must start with http:// or https://."
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("url has the scheme %q; only http and https links can be shortened (javascript:, data:, file: and others are refused).", u.Scheme)
	case u.Opaque != "":
		return "url must be absolute, like https://example.org/page (with // after the scheme)."
	case u.User != nil:
		return "url contains credentials (user:password@ before the host); links with credentials are refused, as they leak secrets and disguise the real host."
	case u.Host == "" || u.Hostname() == "":
		return "url has no host: it must look like https://example.org/page."
	}
	if msg := checkHost(u.Hostname()); msg != "" {
		return msg
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("url has the port %q; a port is a number from 1 to 65535.", p)
		}
	}
	return ""
}

// checkHost accepts a DNS name of letters, digits, hyphens and dots, or an
// IP address.
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
		if label == "" {
			return fmt.Sprintf("url has the host %q, which has an empty label (two dots in a row).", h)
		}
		if len(label) > 63 {
			return "url has a host name label longer than 63 characters."
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Sprintf("url has the host %q; a host name has only letters, digits, hyphens and dots.", h)
			}
		}
	}
	return ""
}

// checkAlias says what is wrong with a custom alias, or "": 3 to 32
// characters of A-Z, a-z, 0-9, '-' and '_', not a reserved word, and not
// shaped like a generated code (exactly codeLen base62 characters), so a
// generator can never hand out a code someone chose.
func checkAlias(a string, codeLen int) string {
	if len(a) < minAliasLen || len(a) > maxAliasLen {
		return fmt.Sprintf("alias must be %d to %d characters long.", minAliasLen, maxAliasLen)
	}
	for i := 0; i < len(a); i++ {
		if c := a[i]; digitOf(c) < 0 && c != '-' && c != '_' {
			return "alias may contain only A-Z, a-z, 0-9, '-' and '_'."
		}
	}
	if reserved[strings.ToLower(a)] {
		return fmt.Sprintf("alias %q is a reserved word (a route or page name such as api, admin, r, shards or stats).", a)
	}
	if len(a) == codeLen && isBase62(a) {
		return fmt.Sprintf("alias %q looks like a generated code (%d base62 characters), and the generator could hand the same code out; "+
			"use another length, or add '-' or '_'.", a, codeLen)
	}
	return ""
}

// checkCode reports whether s can be a code or alias at all; anything else
// is answered 404 without a lookup.
func checkCode(s string) bool {
	if len(s) == 0 || len(s) > maxAliasLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; digitOf(c) < 0 && c != '-' && c != '_' {
			return false
		}
	}
	return true
}
