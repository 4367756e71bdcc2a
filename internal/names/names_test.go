package names

import (
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestHasUnsafe(t *testing.T) {
	for _, s := range []string{
		"Spring\u202Ecohort", "a\u202Ab", "a\u202Bb", "a\u202Cb", "a\u202Db", "a\u2066b", "a\u2067b", "a\u2068b", "a\u2069b",
		"a\u200Eb", "a\u200Fb", "a\u061Cb", "a\u200Bb", "a\u2060b", "a\uFEFFb", "a\u00ADb",
		"a\x00b", "a\tb", "a\nb", "a\rb", "a\x1bb", "a\x7fb", "a\u0085b", "a\u2028b", "a\u2029b", "\xff", "a\xc0\xafb",
	} {
		if !HasUnsafe(s) {
			t.Errorf("%q passed", s)
		}
	}
	for _, s := range []string{"Spring cohort 2025", "Cours d'été – groupe B", "مقدمة في الأنظمة", "שלום", "系统设计", "नमस्ते",
		"می‌خواهم", "👩‍💻 Systems", "🏴󠁧󠁢󠁳󠁣󠁴󠁿 Scotland", "ada@example.org", ""} {
		if HasUnsafe(s) {
			t.Errorf("%q refused", s)
		}
	}
}

// FuzzHasUnsafe: a name that passes is valid UTF-8 without controls,
// separators, bidi controls or zero-width spaces.
func FuzzHasUnsafe(f *testing.F) {
	for _, s := range []string{"Spring", "a\u202Eb", "👩‍💻", "\xff", "a\u2066b\u2069"} {
		f.Add(s)
	}
	bidi := func(r rune) bool {
		return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 || r == 0x200E || r == 0x200F || r == 0x061C ||
			r == 0x200B || r == 0xFEFF || r == 0x2060
	}
	f.Fuzz(func(t *testing.T, s string) {
		if HasUnsafe(s) {
			return
		}
		if !utf8.ValidString(s) {
			t.Fatalf("%q is not UTF-8", s)
		}
		for _, r := range s {
			if unicode.IsControl(r) || bidi(r) || r == '\u2028' || r == '\u2029' {
				t.Fatalf("%q holds %U", s, r)
			}
		}
	})
}
