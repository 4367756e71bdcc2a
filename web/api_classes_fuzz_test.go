package web

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/names"
)

// FuzzClassRequests feeds arbitrary bodies to the class API's parsers: they
// never panic, refuse with a message naming a field, and accept only a
// clean name or code.
func FuzzClassRequests(f *testing.F) {
	for _, s := range []string{`{"name": "Spring"}`, `{"join_code": "k7qm2xpa"}`, `{}`, `{"name": ""}`, `{"name": 5}`,
		`{"name": "a"} {}`, `[]`, `null`, `{"name": "\u0000"}`, `{"nme": "x"}`, `{"name": "Spring\u202ecohort"}`, `{"name": "a\u200bb"}`, `{"name": "a\u2066b"}`, `{"join_code": "` + strings.Repeat("A", 17) + `"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(what, got string, err error, ok func(string) bool) {
			if err != nil {
				e, isApp := apperr.As(err)
				if !isApp || e.Code != apperr.Invalid || len(e.Fields) == 0 {
					t.Fatalf("%s: %q refused without naming a field: %v", what, body, err)
				}
				return
			}
			if !ok(got) {
				t.Fatalf("%s: %q accepted as %q", what, body, got)
			}
		}
		name, err := ParseCreateClass(body)
		check("name", name, err, func(n string) bool {
			return n != "" && n == strings.TrimSpace(n) && utf8.ValidString(n) && utf8.RuneCountInString(n) <= maxClassName &&
				!names.HasUnsafe(n)
		})
		code, err := ParseJoinClass(body)
		check("code", code, err, func(c string) bool {
			return c != "" && len(c) <= 16 && c == strings.ToUpper(c) && c == strings.TrimSpace(c)
		})
	})
}
