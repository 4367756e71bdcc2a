package config

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSMTP(t *testing.T) {
	base := map[string]string{"WORKBOOK_BASE_URL": "https://w.example.org", "WORKBOOK_MAIL_FROM": "Workbook <wb@example.org>"}
	load := func(url string) (Config, error) {
		env := map[string]string{"WORKBOOK_SMTP_URL": url}
		for k, v := range base {
			env[k] = v
		}
		return Load(MapEnv(env))
	}
	for url, want := range map[string]SMTP{
		"smtp://mail.example.org":                           {Host: "mail.example.org", Port: 587, Security: SMTPStartTLS},
		"smtp://ada:p%40ss:word@mail.example.org:2525":      {Host: "mail.example.org", Port: 2525, Username: "ada", Password: "p@ss:word", Security: SMTPStartTLS},
		"smtps://ada%40example.org:s3cret@mail.example.org": {Host: "mail.example.org", Port: 465, Username: "ada@example.org", Password: "s3cret", Security: SMTPTLS},
		"SMTP://relay:25?tls=none":                          {Host: "relay", Port: 25, Security: SMTPNone},
		"smtp://u:p@127.0.0.1:1025?tls=none":                {Host: "127.0.0.1", Port: 1025, Username: "u", Password: "p", Security: SMTPNone},
		"smtp://[::1]:25/":                                  {Host: "::1", Port: 25, Security: SMTPStartTLS},
	} {
		c, err := load(url)
		if err != nil {
			t.Errorf("%s: %v", url, err)
			continue
		}
		if c.SMTP != want {
			t.Errorf("%s: %+v, want %+v", url, c.SMTP, want)
		}
		if !c.SMTP.Enabled() || c.MailFrom != `"Workbook" <wb@example.org>` {
			t.Errorf("%s: enabled %v, from %q", url, c.SMTP.Enabled(), c.MailFrom)
		}
	}

	for url, why := range map[string]string{
		"http://mail.example.org":                     "smtp://",
		"smtp://":                                     "no host",
		"smtp://mail.example.org:0":                   "port",
		"smtp://mail.example.org:99999":               "port",
		"smtp://mail.example.org/inbox":               "path",
		"smtp://mail.example.org?tls=maybe":           "tls=",
		"smtps://mail.example.org?tls=none":           "tls=",
		"smtp://mail.example.org?verify=no":           "parameter",
		"smtp://:secret@mail.example.org":             "user name",
		"smtp://ada:secret@mail.example.org?tls=none": "unencrypted",
		"smtp://ada:secret@mail example":              "URL",
	} {
		_, err := load(url)
		if err == nil || !strings.Contains(err.Error(), "WORKBOOK_SMTP_URL") || !strings.Contains(err.Error(), why) {
			t.Errorf("%s: error %v, want one naming WORKBOOK_SMTP_URL and %q", url, err, why)
			continue
		}
		if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: the error shows the password or spans lines: %v", url, err)
		}
	}

}

// Mail needs a sender and a public address for its links; without a
// server nothing is enabled, and that is the default.
func TestMailNeedsBaseURLAndSender(t *testing.T) {
	base := map[string]string{"WORKBOOK_BASE_URL": "https://w.example.org", "WORKBOOK_MAIL_FROM": "Workbook <wb@example.org>"}
	for env, wantName := range map[string]string{
		"WORKBOOK_BASE_URL":  "WORKBOOK_BASE_URL",
		"WORKBOOK_MAIL_FROM": "WORKBOOK_MAIL_FROM",
	} {
		m := map[string]string{"WORKBOOK_SMTP_URL": "smtp://mail.example.org"}
		for k, v := range base {
			if k != env {
				m[k] = v
			}
		}
		if _, err := Load(MapEnv(m)); err == nil || !strings.Contains(err.Error(), wantName) {
			t.Errorf("without %s: %v", env, err)
		}
	}
	for _, from := range []string{"not an address", "a@b.org\r\nBcc: x@y.org", "<>"} {
		m := map[string]string{"WORKBOOK_MAIL_FROM": from}
		if _, err := Load(MapEnv(m)); err == nil || !strings.Contains(err.Error(), "WORKBOOK_MAIL_FROM") {
			t.Errorf("from %q: %v", from, err)
		}
	}
	c, err := Load(MapEnv(nil))
	if err != nil || c.SMTP.Enabled() || c.MailFrom != "" {
		t.Errorf("default: %+v %q %v", c.SMTP, c.MailFrom, err)
	}
}

// The password never reaches a log line or a printed configuration.
func TestSMTPPasswordNotShown(t *testing.T) {
	c, err := Load(MapEnv(map[string]string{
		"WORKBOOK_SMTP_URL": "smtps://ada:hunter2-secret@mail.example.org", "WORKBOOK_BASE_URL": "https://w.example.org",
		"WORKBOOK_MAIL_FROM": "wb@example.org",
	}))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("mail", "smtp", c.SMTP, "config", c)
	slog.New(slog.NewJSONHandler(&b, nil)).Info("mail", "smtp", c.SMTP)
	fmt.Fprintf(&b, "%v %s", c.SMTP, c.SMTP)
	if strings.Contains(b.String(), "hunter2") || !strings.Contains(b.String(), "ada@mail.example.org:465") {
		t.Errorf("logged: %s", b.String())
	}
	for _, v := range Vars {
		if v.Name == "WORKBOOK_SMTP_URL" && !v.Secret {
			t.Error("WORKBOOK_SMTP_URL is not marked secret")
		}
	}
}
