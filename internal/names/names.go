// Package names checks the names people choose for things other people
// read: class names, access token names, email addresses. Such a name may
// not hold characters that do not show as themselves: control characters,
// line and paragraph separators, and invisible formatting characters such
// as text-direction overrides (U+202E turns "exe.txt" into "txt.exe" on
// screen) and zero-width spaces (two names that look alike but differ).
package names

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Message is what a person reads when a name holds such a character.
const Message = "Use letters, digits, spaces and punctuation only: no control characters or invisible formatting (such as text-direction marks or zero-width spaces)."

// Unsafe reports whether r may not appear in a name: a control character
// (C0, DEL, C1), a line or paragraph separator, or a format character,
// except the zero-width joiner and non-joiner that some scripts and emoji
// sequences need, and the tag characters of flag emoji.
func Unsafe(r rune) bool {
	switch {
	case r == utf8.RuneError:
		return true
	case unicode.IsControl(r), unicode.In(r, unicode.Zl, unicode.Zp):
		return true
	case r == 0x200C || r == 0x200D, r >= 0xE0020 && r <= 0xE007F:
		return false
	}
	return unicode.Is(unicode.Cf, r)
}

// HasUnsafe reports whether s is not valid UTF-8 or holds an Unsafe rune.
func HasUnsafe(s string) bool {
	return !utf8.ValidString(s) || strings.ContainsFunc(s, Unsafe)
}
