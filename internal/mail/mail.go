// Package mail sends the workbook's few emails (password reset links,
// address confirmations) through an SMTP server, from a small background
// queue, so a slow or unreachable mail server never holds up a request.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// Security modes of the connection to the server (config.SMTP's values).
const (
	StartTLS = "starttls"
	TLS      = "tls"
	None     = "none"
)

// Options say how to reach the mail server.
type Options struct {
	Host     string
	Port     int
	Username string // empty: no authentication
	Password string
	Security string // StartTLS, TLS or None
	// From is the sender, "Name <address>" or a bare address.
	From string
	// Hello is the name we greet the server with (our public host name).
	Hello string
	// Timeout bounds one whole delivery: connect, TLS, authentication and
	// data. Zero means 30 seconds.
	Timeout time.Duration
	// TLSConfig, when set, replaces the default (the system's roots, the
	// server's host name); tests use it to trust their own certificate.
	TLSConfig *tls.Config
}

// Message is one plain-text email to one recipient.
type Message struct {
	To      string
	Subject string
	Text    string
}

// Sender delivers messages to one SMTP server.
type Sender struct {
	o    Options
	from *mail.Address
}

// NewSender checks the options and returns a sender.
func NewSender(o Options) (*Sender, error) {
	from, err := mail.ParseAddress(o.From)
	if err != nil {
		return nil, fmt.Errorf("mail: sender %q: %w", o.From, err)
	}
	switch o.Security {
	case StartTLS, TLS, None:
	default:
		return nil, fmt.Errorf("mail: unknown security %q", o.Security)
	}
	if o.Host == "" || o.Port <= 0 {
		return nil, errors.New("mail: no server")
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Hello == "" {
		o.Hello = "localhost"
	}
	return &Sender{o: o, from: from}, nil
}

// PermanentError is a failure that sending again will not fix: the server
// refused the message or the recipient (a 5xx reply), or the connection
// cannot be secured as configured.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent reports whether err is not worth retrying.
func Permanent(err error) bool {
	var p *PermanentError
	if errors.As(err, &p) {
		return true
	}
	var te *textproto.Error
	return errors.As(err, &te) && te.Code >= 500
}

// Send delivers m, within the sender's timeout or ctx, whichever ends
// first.
func (s *Sender) Send(ctx context.Context, m Message) error {
	body, err := s.compose(m, time.Now())
	if err != nil {
		return &PermanentError{err}
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	addr := net.JoinHostPort(s.o.Host, strconv.Itoa(s.o.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("mail: connect to %s: %w", addr, err)
	}
	defer conn.Close()
	// Every read and write below ends by the deadline; cancelling ctx
	// ends them at once.
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if s.o.Security == TLS {
		tc := tls.Client(conn, s.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			return &PermanentError{fmt.Errorf("mail: TLS with %s: %w", addr, err)}
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.o.Host)
	if err != nil {
		return fmt.Errorf("mail: greeting from %s: %w", addr, err)
	}
	defer c.Close()
	if err := c.Hello(s.o.Hello); err != nil {
		return fmt.Errorf("mail: EHLO: %w", err)
	}
	if s.o.Security == StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return &PermanentError{fmt.Errorf("mail: %s does not offer STARTTLS; use smtps:// or, for a relay on a trusted network, tls=none", addr)}
		}
		if err := c.StartTLS(s.tlsConfig()); err != nil {
			var te *textproto.Error
			if errors.As(err, &te) {
				return fmt.Errorf("mail: STARTTLS: %w", err)
			}
			return &PermanentError{fmt.Errorf("mail: STARTTLS with %s: %w", addr, err)}
		}
	}
	if s.o.Username != "" {
		// PlainAuth refuses to send the password over a connection that is
		// neither encrypted nor to this host.
		if err := c.Auth(smtp.PlainAuth("", s.o.Username, s.o.Password, s.o.Host)); err != nil {
			return fmt.Errorf("mail: authentication as %s: %w", s.o.Username, err)
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return fmt.Errorf("mail: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("mail: RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("mail: DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail: message refused: %w", err)
	}
	// The message is accepted; a failed goodbye changes nothing.
	_ = c.Quit()
	return nil
}

func (s *Sender) tlsConfig() *tls.Config {
	if s.o.TLSConfig != nil {
		return s.o.TLSConfig
	}
	return &tls.Config{ServerName: s.o.Host, MinVersion: tls.VersionTLS12}
}

// compose renders the message: headers, then the text as quoted-printable
// UTF-8 with CRLF line ends.
func (s *Sender) compose(m Message, now time.Time) ([]byte, error) {
	to, err := mail.ParseAddress(m.To)
	if err != nil || to.Address != m.To || strings.ContainsAny(m.To, "\r\n") {
		return nil, fmt.Errorf("mail: recipient %q is not a plain address", m.To)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, errors.New("mail: the subject spans lines")
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	domain := s.from.Address[strings.LastIndexByte(s.from.Address, '@')+1:]
	var b bytes.Buffer
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", s.from.String())
	h("To", to.String())
	h("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	h("Date", now.Format(time.RFC1123Z))
	h("Message-ID", "<"+hex.EncodeToString(id[:])+"@"+domain+">")
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	// Vacation responders and the like should not answer.
	h("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	text := strings.ReplaceAll(strings.ReplaceAll(m.Text, "\r\n", "\n"), "\n", "\r\n")
	if _, err := qp.Write([]byte(text)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
