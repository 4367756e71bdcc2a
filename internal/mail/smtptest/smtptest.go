// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp) on
// loopback for tests, keeps what it receives, and reads the messages as a
// mail client would: headers, decoded body, links.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options shape the server.
type Options struct {
	// Username and Password, when set, are required (AUTH PLAIN) before
	// any mail is taken.
	Username, Password string
	// TLS, when set, makes the server offer STARTTLS with this
	// configuration; with Implicit it speaks TLS from the first byte.
	TLS      *tls.Config
	Implicit bool
	// Refuse, when set, is asked at each DATA (n counts them from 1) and
	// may answer with an SMTP error instead of taking the message.
	Refuse func(n int) *smtp.SMTPError
}

// Received is one message as the server took it.
type Received struct {
	From string
	To   []string
	Data []byte
	TLS  bool // the connection was encrypted
	Auth string
}

// Server is a running SMTP server.
type Server struct {
	Host string
	Port int

	opts    Options
	mu      sync.Mutex
	msgs    []Received
	datas   int
	arrived chan Received
}

// Start runs a server until the test ends.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	s := &Server{opts: o, arrived: make(chan Received, 1000)}
	srv := smtp.NewServer(smtp.BackendFunc(s.newSession))
	srv.Domain = "mail.test"
	srv.AllowInsecureAuth = o.TLS == nil
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.TLSConfig = o.TLS
	var ln net.Listener
	var err error
	if o.TLS != nil && o.Implicit {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", o.TLS)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	s.Host, s.Port = "127.0.0.1", addr.Port
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Close() })
	return s
}

// Messages returns what has arrived so far.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.msgs...)
}

// Next waits for the next message to arrive. The wait is a backstop for
// a broken sender, not a measure of speed.
func (s *Server) Next(tb testing.TB) Received {
	tb.Helper()
	select {
	case m := <-s.arrived:
		return m
	case <-time.After(60 * time.Second):
		tb.Fatal("no email arrived")
		return Received{}
	}
}

type session struct {
	s    *Server
	conn *smtp.Conn
	auth string
	from string
	to   []string
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{s: s, conn: c}, nil
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if ss.s.opts.Username == "" || user != ss.s.opts.Username || pass != ss.s.opts.Password {
			return smtp.ErrAuthFailed
		}
		ss.auth = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.Username != "" && ss.auth == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	ss.s.datas++
	n := ss.s.datas
	ss.s.mu.Unlock()
	if f := ss.s.opts.Refuse; f != nil {
		if e := f(n); e != nil {
			return e
		}
	}
	_, isTLS := ss.conn.TLSConnectionState()
	m := Received{From: ss.from, To: ss.to, Data: b, TLS: isTLS, Auth: ss.auth}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, m)
	ss.s.mu.Unlock()
	ss.s.arrived <- m
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// Parsed is a message read as a mail client reads it.
type Parsed struct {
	Header  mail.Header
	Subject string // decoded
	Body    string // decoded, with \n line ends
}

// Parse reads a received message: headers, and the body decoded from its
// transfer encoding.
func (r Received) Parse(tb testing.TB) Parsed {
	tb.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(r.Data))
	if err != nil {
		tb.Fatalf("not a mail message: %v\n%s", err, r.Data)
	}
	var body io.Reader = m.Body
	switch enc := strings.ToLower(m.Header.Get("Content-Transfer-Encoding")); enc {
	case "quoted-printable":
		body = quotedprintable.NewReader(m.Body)
	case "", "7bit", "8bit":
	default:
		tb.Fatalf("unexpected transfer encoding %q", enc)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		tb.Fatalf("body: %v", err)
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		tb.Fatalf("subject: %v", err)
	}
	return Parsed{Header: m.Header, Subject: subj, Body: strings.ReplaceAll(string(b), "\r\n", "\n")}
}

var linkRE = regexp.MustCompile(`https?://[^\s<>"]+`)

// Links lists the URLs in the body.
func (p Parsed) Links() []string { return linkRE.FindAllString(p.Body, -1) }

// TLSPair returns a server configuration with a fresh self-signed
// certificate for 127.0.0.1, and a client configuration that trusts it.
func TLSPair(tb testing.TB) (server, client *tls.Config) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mail.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"mail.test"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	return server, client
}
