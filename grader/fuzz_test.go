package grader_test

import (
	"testing"
	"unicode/utf8"

	"github.com/sdworkbook/workbook/grader"
	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// FuzzSubmissionRequest feeds arbitrary bodies to what POST
// /api/labs/{lab}/submissions does before storing anything: it never
// panics, a refusal names a field, and what it accepts is a valid design
// with bounded notes.
func FuzzSubmissionRequest(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"design": {"algorithm": "gcra", "burst": 3}}`, `{"exercise": "limiter-api-quota", "design": {}, "notes": "why"}`,
		`{"design": {"limit": 1e400}}`, `{"design": null}`, `{"notes": "\ud800"}`, `{"design": {"limit": "20"}}`, `[]`, `{} {}`,
		`{"exercise": "", "design": {"window_ms": -1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := grader.ParseRequest(body)
		if err == nil {
			var ex labs.Exercise
			var d labs.Design
			var notes string
			ex, d, notes, err = grader.Validate(limiter.Lab, req)
			if err == nil {
				if ex.Lab != "limiter" || !utf8.ValidString(notes) || utf8.RuneCountInString(notes) > grader.MaxNotes {
					t.Fatalf("accepted exercise %q, notes of %d runes", ex.ID, utf8.RuneCountInString(notes))
				}
				if _, ferrs := labs.Validate(limiter.Lab, map[string]any(d)); len(ferrs) > 0 {
					t.Fatalf("accepted a design that does not validate again: %v %v", d, ferrs)
				}
				return
			}
		}
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.Invalid || len(e.Fields) == 0 {
			t.Fatalf("refusal without a field: %v", err)
		}
	})
}
