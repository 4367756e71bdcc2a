package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/mail/smtptest"
)

func mustSender(t *testing.T, srv *smtptest.Server, edit func(*Options)) *Sender {
	t.Helper()
	o := Options{Host: srv.Host, Port: srv.Port, Security: None, From: "Workbook <workbook@example.org>", Hello: "workbook.test"}
	if edit != nil {
		edit(&o)
	}
	s, err := NewSender(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A long link, a line that starts with a dot and a non-ASCII subject reach
// the reader intact.
var sample = Message{
	To:      "ada@example.org",
	Subject: "Réinitialiser: reset your password",
	Text: "Hello,\n\nOpen this link:\n\nhttps://workbook.example.org/reset/" + strings.Repeat("Ab9_-", 12) + "\n\n" +
		".a line that starts with a dot\nÜmlaut and = sign.\n",
}

func checkSample(t *testing.T, r smtptest.Received) {
	t.Helper()
	p := r.Parse(t)
	if r.From != "workbook@example.org" || len(r.To) != 1 || r.To[0] != "ada@example.org" {
		t.Errorf("envelope: from %q to %v", r.From, r.To)
	}
	if p.Subject != sample.Subject || p.Header.Get("To") != "<ada@example.org>" ||
		p.Header.Get("From") != `"Workbook" <workbook@example.org>` || p.Header.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("headers: %v, subject %q", p.Header, p.Subject)
	}
	if _, err := p.Header.Date(); err != nil {
		t.Errorf("date: %v", err)
	}
	if id := p.Header.Get("Message-Id"); !strings.HasSuffix(id, "@example.org>") {
		t.Errorf("message id %q", id)
	}
	if p.Body != sample.Text {
		t.Errorf("body:\n%q\nwant\n%q", p.Body, sample.Text)
	}
	if l := p.Links(); len(l) != 1 || !strings.HasSuffix(l[0], strings.Repeat("Ab9_-", 12)) {
		t.Errorf("links %v", l)
	}
}

func TestSendWithPasswordOnLoopback(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Username: "wb", Password: "s3cret pass"})
	s := mustSender(t, srv, func(o *Options) { o.Username, o.Password = "wb", "s3cret pass" })
	if err := s.Send(context.Background(), sample); err != nil {
		t.Fatal(err)
	}
	r := srv.Next(t)
	if r.Auth != "wb" || r.TLS {
		t.Errorf("auth %q, tls %v", r.Auth, r.TLS)
	}
	checkSample(t, r)

	// A wrong password is refused for good: retrying will not help.
	bad := mustSender(t, srv, func(o *Options) { o.Username, o.Password = "wb", "wrong" })
	err := bad.Send(context.Background(), sample)
	if err == nil || !Permanent(err) {
		t.Errorf("wrong password: %v (permanent %v)", err, Permanent(err))
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("%d messages", n)
	}
}

func TestSendSTARTTLSAndTLS(t *testing.T) {
	serverTLS, clientTLS := smtptest.TLSPair(t)
	for _, implicit := range []bool{false, true} {
		srv := smtptest.Start(t, smtptest.Options{Username: "wb", Password: "pw", TLS: serverTLS, Implicit: implicit})
		s := mustSender(t, srv, func(o *Options) {
			o.Username, o.Password, o.TLSConfig = "wb", "pw", clientTLS
			o.Security = StartTLS
			if implicit {
				o.Security = TLS
			}
		})
		if err := s.Send(context.Background(), sample); err != nil {
			t.Fatalf("implicit %v: %v", implicit, err)
		}
		r := srv.Next(t)
		if !r.TLS || r.Auth != "wb" {
			t.Errorf("implicit %v: tls %v auth %q", implicit, r.TLS, r.Auth)
		}
		checkSample(t, r)
	}
}

// Security as configured or nothing: no STARTTLS offered, or a certificate
// we do not trust, stops before the password or the message is sent.
func TestSendRefusesWeakerSecurity(t *testing.T) {
	plain := smtptest.Start(t, smtptest.Options{})
	s := mustSender(t, plain, func(o *Options) { o.Security = StartTLS })
	err := s.Send(context.Background(), sample)
	if err == nil || !Permanent(err) || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("no STARTTLS offered: %v", err)
	}
	serverTLS, _ := smtptest.TLSPair(t)
	for _, implicit := range []bool{false, true} {
		srv := smtptest.Start(t, smtptest.Options{Username: "wb", Password: "pw", TLS: serverTLS, Implicit: implicit})
		s := mustSender(t, srv, func(o *Options) {
			o.Username, o.Password, o.Security = "wb", "pw", StartTLS
			if implicit {
				o.Security = TLS
			}
		})
		err := s.Send(context.Background(), sample)
		var cerr *tls.CertificateVerificationError
		if err == nil || !Permanent(err) || !errors.As(err, &cerr) {
			t.Errorf("untrusted certificate (implicit %v): %v", implicit, err)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("%d messages went out", n)
		}
	}
	if n := len(plain.Messages()); n != 0 {
		t.Errorf("%d messages went out in the clear", n)
	}
}

// A server that accepts the connection and then says nothing does not hold
// a sender beyond its timeout.
func TestSendTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, silent
		}
	}()
	s, err := NewSender(Options{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Security: None, From: "wb@example.org", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Send(context.Background(), sample)
	var ne net.Error
	if err == nil || Permanent(err) || !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("silent server: %v", err)
	}
}

func TestComposeRefusesHeaderInjection(t *testing.T) {
	s, err := NewSender(Options{Host: "h", Port: 25, Security: None, From: "wb@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []Message{
		{To: "ada@example.org\r\nBcc: eve@example.org", Subject: "x"},
		{To: "Ada <ada@example.org>", Subject: "x"},
		{To: "ada@example.org", Subject: "x\r\nBcc: eve@example.org"},
		{To: "not an address", Subject: "x"},
	} {
		if err := s.Send(context.Background(), m); err == nil || !Permanent(err) {
			t.Errorf("%q / %q: %v", m.To, m.Subject, err)
		}
	}
	for _, o := range []Options{
		{Host: "h", Port: 25, Security: None, From: "nobody"},
		{Host: "h", Port: 25, Security: "ssl", From: "wb@example.org"},
		{Port: 25, Security: None, From: "wb@example.org"},
	} {
		if _, err := NewSender(o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}
