package mail

import (
	"bytes"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/auth"
)

// Any address a person can type that the account rules accept becomes
// exactly one recipient header and nothing else: no header injection, and
// the body stays the body.
func FuzzComposeRecipient(f *testing.F) {
	for _, s := range []string{"ada@example.org", "a\r\nBcc: eve@example.org", "\"a b\"@example.org", "ü@exämple.org",
		"a@b.c\nSubject: x", "=?utf-8?q?x?=@example.org", "a+b@example.org"} {
		f.Add(s)
	}
	s, err := NewSender(Options{Host: "h", Port: 25, Security: None, From: "Workbook <wb@example.org>"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		to, msg := auth.NormaliseEmail(raw)
		if msg != "" {
			return
		}
		b, err := s.compose(Message{To: to, Subject: "Subject", Text: "line one\nhttps://workbook.example.org/reset/x\n"}, time.Unix(0, 0))
		if err != nil {
			return // refused is fine; what is accepted must be sound
		}
		m, err := mail.ReadMessage(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%q: unreadable message: %v", to, err)
		}
		if len(m.Header) != 9 || len(m.Header["To"]) != 1 || m.Header.Get("Subject") != "Subject" {
			t.Fatalf("%q: headers %v", to, m.Header)
		}
		list, err := m.Header.AddressList("To")
		if err != nil || len(list) != 1 || !strings.EqualFold(list[0].Address, to) {
			t.Fatalf("%q: recipients %v, %v", to, list, err)
		}
	})
}
