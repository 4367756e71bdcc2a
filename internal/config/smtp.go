package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
)

// SMTP security modes: how the connection to the mail server is protected.
const (
	SMTPStartTLS = "starttls" // smtp://: plain connect, then STARTTLS, which the server must offer
	SMTPTLS      = "tls"      // smtps://: TLS from the first byte
	SMTPNone     = "none"     // smtp://…?tls=none: no encryption, for a relay on a trusted network
)

// SMTP is the mail server that WORKBOOK_SMTP_URL names. The zero value
// means no mail server: nothing is sent, and the pages say so.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string // never logged: see LogValue
	Security string // one of the SMTP* modes
}

// Enabled reports whether a mail server is configured.
func (s SMTP) Enabled() bool { return s.Host != "" }

// Addr is host:port for dialling.
func (s SMTP) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// String describes the server without its password.
func (s SMTP) String() string {
	if !s.Enabled() {
		return "(none)"
	}
	user := ""
	if s.Username != "" {
		user = s.Username + "@"
	}
	return fmt.Sprintf("%s%s (%s)", user, s.Addr(), s.Security)
}

// LogValue keeps the password out of every log line that holds an SMTP.
func (s SMTP) LogValue() slog.Value { return slog.StringValue(s.String()) }

// mail reads the mail server and the sender into c. It runs after the base
// URL is read: mail needs it.
func (r *reader) mail(c *Config) {
	smtp, err := parseSMTP(r.str("WORKBOOK_SMTP_URL"))
	if err != nil {
		r.fail("WORKBOOK_SMTP_URL", err)
		return
	}
	c.SMTP = smtp
	if from := r.str("WORKBOOK_MAIL_FROM"); from != "" {
		a, err := parseMailFrom(from)
		if err != nil {
			r.fail("WORKBOOK_MAIL_FROM", err)
			return
		}
		c.MailFrom = a.String()
	}
	switch {
	case !smtp.Enabled():
	case c.BaseURL == "":
		// Links in emails must point at this server whatever Host header
		// a request came with, or a forged Host would send reset links to
		// an attacker's site.
		r.fail("WORKBOOK_SMTP_URL", errors.New("set WORKBOOK_BASE_URL too, the public address the links in emails point to"))
	case c.MailFrom == "":
		r.fail("WORKBOOK_MAIL_FROM", errors.New("required with WORKBOOK_SMTP_URL (e.g. Workbook <workbook@example.org>)"))
	}
}

// parseSMTP reads smtp://[user:pass@]host[:port][?tls=none] (STARTTLS
// required, port 587 by default) or smtps://[user:pass@]host[:port]
// (implicit TLS, port 465 by default).
func parseSMTP(raw string) (SMTP, error) {
	if raw == "" {
		return SMTP{}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return SMTP{}, errors.New("not a URL like smtp://user:password@mail.example.org:587")
	}
	var s SMTP
	switch strings.ToLower(u.Scheme) {
	case "smtp":
		s.Security, s.Port = SMTPStartTLS, 587
	case "smtps":
		s.Security, s.Port = SMTPTLS, 465
	default:
		return SMTP{}, errors.New("must start with smtp:// (STARTTLS) or smtps:// (TLS)")
	}
	s.Host = u.Hostname()
	if s.Host == "" {
		return SMTP{}, errors.New("names no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return SMTP{}, fmt.Errorf("port %q is not a number from 1 to 65535", p)
		}
		s.Port = n
	}
	if u.Path != "" && u.Path != "/" || u.Fragment != "" || u.Opaque != "" {
		return SMTP{}, errors.New("takes no path: smtp://user:password@host:port")
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
		if s.Username == "" {
			return SMTP{}, errors.New("has a password but no user name")
		}
	}
	q := u.Query()
	for k := range q {
		if k != "tls" {
			return SMTP{}, fmt.Errorf("unknown parameter %q (only tls=none)", k)
		}
	}
	if q.Has("tls") {
		if q.Get("tls") != "none" || s.Security != SMTPStartTLS {
			return SMTP{}, errors.New("tls= takes only none, and only with smtp://")
		}
		s.Security = SMTPNone
		if s.Username != "" && !loopback(s.Host) {
			return SMTP{}, errors.New("tls=none would send the password unencrypted: use STARTTLS or smtps://, or a relay on this host")
		}
	}
	return s, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// parseMailFrom reads the sender, "Name <address>" or a bare address.
func parseMailFrom(raw string) (*mail.Address, error) {
	a, err := mail.ParseAddress(raw)
	if err != nil || strings.ContainsAny(raw, "\r\n") {
		return nil, fmt.Errorf("%q is not an address like Workbook <workbook@example.org>", raw)
	}
	return a, nil
}
