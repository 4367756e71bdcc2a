package shortener

import (
	"testing"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// On a check suite's clock an instance draws the same codes every time, so
// a grading does not depend on which codes chance gave it; on the
// machine's clock the codes come from the cryptographic source.
func TestSuiteCodesAreTheSameEveryGrading(t *testing.T) {
	draw := func(env labs.Env) []string {
		src := newCodeSource(env)
		out := make([]string, 50)
		for i := range out {
			out[i] = src.code(7)
		}
		return out
	}
	suite := labs.Env{Clock: labs.NewManualClock(time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC))}
	a, b := draw(suite), draw(suite)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("code %d: %s then %s on a suite's clock", i, a[i], b[i])
		}
		if len(a[i]) != 7 || !isBase62(a[i]) {
			t.Fatalf("code %q", a[i])
		}
	}
	live := labs.Env{}
	c, d := draw(live), draw(live)
	same := 0
	for i := range c {
		if c[i] == d[i] {
			same++
		}
	}
	if same > 0 {
		t.Fatalf("%d of 50 codes repeated on the machine's clock", same)
	}
}
