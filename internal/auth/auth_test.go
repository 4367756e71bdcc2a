package auth

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sdworkbook/workbook/internal/names"
)

func TestPasswordHashing(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q does not carry the expected parameters", h)
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batterY": false, "": false} {
		ok, err := VerifyPassword(h, pw)
		if err != nil || ok != want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=99999999,t=1,p=1$AA$AA", "$argon2id$v=19$m=8,t=1,p=1$!!$AA"} {
		if ok, err := VerifyPassword(bad, "x"); ok || err == nil {
			t.Errorf("VerifyPassword accepted malformed hash %q", bad)
		}
	}
}

func TestParseRegistration(t *testing.T) {
	tests := []struct {
		email, password string
		wantEmail       string
		wantErr         []string
	}{
		{"  Ada@Example.ORG ", "twelve chars", "ada@example.org", nil},
		{"", "twelve chars", "", []string{"email"}},
		{"not-an-email", "twelve chars", "", []string{"email"}},
		{"Ada <ada@example.org>", "twelve chars", "", []string{"email"}},
		{"ada@localhost", "twelve chars", "", []string{"email"}},
		{"ada@example.org", "eleven char", "ada@example.org", []string{"password"}},
		{"ada@example.org", strings.Repeat("é", 12), "ada@example.org", nil},
		{"ada@example.org", strings.Repeat("x", 129), "ada@example.org", []string{"password"}},
		{"ada@example.org", "            ", "ada@example.org", []string{"password"}},
		{strings.Repeat("a", 250) + "@example.org", "twelve chars", "", []string{"email"}},
		{"x", "y", "", []string{"email", "password"}},
		{"ada‮@example.org", "twelve chars", "", []string{"email"}},
		{"ada@exa​mple.org", "twelve chars", "", []string{"email"}},
		{"ada⁦@example.org", "twelve chars", "", []string{"email"}},
	}
	for _, tt := range tests {
		c, errs := ParseRegistration(tt.email, tt.password)
		if c.Email != tt.wantEmail {
			t.Errorf("ParseRegistration(%q).Email = %q, want %q", tt.email, c.Email, tt.wantEmail)
		}
		if len(errs) != len(tt.wantErr) {
			t.Errorf("ParseRegistration(%q, %q) errors %v, want fields %v", tt.email, tt.password, errs, tt.wantErr)
		}
		for _, f := range tt.wantErr {
			if errs[f] == "" {
				t.Errorf("ParseRegistration(%q, %q): no message for %s", tt.email, tt.password, f)
			}
		}
	}
}

func TestTokens(t *testing.T) {
	a, b := NewToken(), NewToken()
	if a == b || len(a) < 43 {
		t.Errorf("tokens %q %q", a, b)
	}
	if TokenID(a) == a || len(TokenID(a)) != 64 || TokenID(a) != TokenID(a) {
		t.Error("TokenID is not a stable SHA-256")
	}
}

// FuzzParseRegistration: any input either yields a normalised, bounded
// email and an acceptable password, or messages; it never panics.
func FuzzParseRegistration(f *testing.F) {
	for _, s := range []string{"ada@example.org", " A@B.C ", "<a@b.c>", "\"q\"@x.y", "a@b", "\x00@x.y", "ä@ö.ü", "a\u202e@b.c"} {
		f.Add(s, "correct horse battery")
	}
	f.Fuzz(func(t *testing.T, email, password string) {
		c, errs := ParseRegistration(email, password)
		if errs["email"] == "" {
			if c.Email != strings.ToLower(c.Email) || c.Email != strings.TrimSpace(c.Email) || len(c.Email) > 254 || !strings.Contains(c.Email, "@") {
				t.Fatalf("accepted email %q is not normalised", c.Email)
			}
			if names.HasUnsafe(c.Email) {
				t.Fatalf("accepted email %q holds control or formatting characters", c.Email)
			}
			again, msg := NormaliseEmail(c.Email)
			if msg != "" || again != c.Email {
				t.Fatalf("normalising %q is not idempotent: %q %q", c.Email, again, msg)
			}
		}
		if errs["password"] == "" {
			n := utf8.RuneCountInString(password)
			if n < MinPasswordLen || n > MaxPasswordLen || !utf8.ValidString(password) {
				t.Fatalf("accepted password of %d runes", n)
			}
		}
	})
}

// FuzzParseLogin: login input never panics and never accepts an empty or
// huge password.
func FuzzParseLogin(f *testing.F) {
	f.Add("ada@example.org", "pw")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, email, password string) {
		_, errs := ParseLogin(email, password)
		if errs["password"] == "" && (password == "" || len(password) > 4*MaxPasswordLen) {
			t.Fatalf("accepted password of %d bytes", len(password))
		}
	})
}

func TestHasherWithOtherParams(t *testing.T) {
	h := NewHasherWith(1, 0, Params{MemoryKiB: 64, Time: 1, Threads: 1})
	hash, err := h.Hash("correct horse battery")
	if err != nil || !strings.HasPrefix(hash, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q, %v", hash, err)
	}
	// Hashes verify by the parameters stored in them, whichever hasher made them.
	def, err := NewHasher(1, 0).Hash("correct horse battery")
	if err != nil || !strings.HasPrefix(def, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("default hash %q, %v", def, err)
	}
	for _, x := range []string{hash, def} {
		if ok, err := h.Verify(x, "correct horse battery"); !ok || err != nil {
			t.Errorf("verify %q: %v, %v", x[:30], ok, err)
		}
		if ok, _ := h.Verify(x, "wrong horse battery"); ok {
			t.Errorf("%q verified a wrong password", x[:30])
		}
	}
	if !strings.Contains(h.dummy, "m=64,t=1,p=1") || h.VerifyNothing("x") != nil {
		t.Errorf("VerifyNothing's hash %q should cost what the hasher's own hashes cost", h.dummy)
	}
}
