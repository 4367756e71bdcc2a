package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// FuzzUserAgent: whatever a browser sends as its User-Agent, the session
// list keeps at most maxUserAgent printable characters and names it.
func FuzzUserAgent(f *testing.F) {
	for _, s := range []string{firefoxUA, iphoneUA, "", "curl/8.5.0", "\x00\x1b[31mred", "\u202eevil", strings.Repeat("é", 500), "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		got := cleanUserAgent(ua)
		if !utf8.ValidString(got) || utf8.RuneCountInString(got) > maxUserAgent || got != strings.TrimSpace(got) {
			t.Fatalf("%q kept as %q", ua, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
				t.Fatalf("%q kept %U", ua, r)
			}
		}
		if name := browserName(got); name == "" || !utf8.ValidString(name) || len(name) > 40 {
			t.Fatalf("%q named %q", got, name)
		}
	})
}

// FuzzTokenOptions: a token's expiry and scope are one of the offered
// choices, or an error naming the field.
func FuzzTokenOptions(f *testing.F) {
	for _, s := range [][2]string{{"", ""}, {"7", "read-only"}, {"365", "read-write"}, {"90 ", "READ-ONLY"}, {"-7", "admin"}, {"1e3", ""}, {"0x5a", "read-write\x00"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, days, scope string) {
		d, sc, errs := parseTokenOptions(days, scope)
		if errs["expires_days"] == "" {
			ok := false
			for _, c := range tokenDayChoices {
				ok = ok || d == c
			}
			if !ok {
				t.Fatalf("days %q accepted as %d", days, d)
			}
		} else if d != 0 {
			t.Fatalf("days %q refused but kept as %d", days, d)
		}
		if errs["scope"] == "" && sc != store.ScopeReadOnly && sc != store.ScopeReadWrite {
			t.Fatalf("scope %q accepted as %q", scope, sc)
		}
	})
}

// FuzzRegisterOnInvite posts arbitrary registration forms to an invite-only
// server that has no class and no invitation: nothing is ever created and
// every answer is a refusal with a page, never a server error.
func FuzzRegisterOnInvite(f *testing.F) {
	a := MustStart(f, testenv.Backend{Name: "embedded", DataDir: f.TempDir()}, withRegistration(config.RegistrationInvite))
	for _, s := range [][4]string{
		{"ada@example.org", goodPassword, "", ""},
		{"ada@example.org", goodPassword, "K7QM2XPA", ""},
		{"ada@example.org", goodPassword, "", "bm90IGEgcmVhbCB0b2tlbg"},
		{"", "", strings.Repeat("x", 300), strings.Repeat("y", 300)},
		{"\x00@\x00", "\xff", "k7qm\u202e2xpa", "%00"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	f.Fuzz(func(t *testing.T, email, password, join, invite string) {
		form := url.Values{"email": {email}, "password": {password}, "join": {join}, "invite": {invite}}
		req, _ := http.NewRequest(http.MethodPost, a.URL+"/register", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("%q: %d, want 403 or 422", form.Encode(), resp.StatusCode)
		}
	})
}
