package labtest

import (
	"testing"

	"github.com/sdworkbook/workbook/labs"
)

// CheckReferences checks an exercise's reference table: names present and
// unique, valid designs, failures that name scored checks of the exercise,
// at least one good design, and every scored check failed by some
// reference or by one of caughtElsewhere (faults no design can choose,
// tested on their own). It returns the reference names.
func CheckReferences(tb testing.TB, l labs.Lab, ex labs.Exercise, caughtElsewhere ...string) map[string]bool {
	tb.Helper()
	scored := map[string]bool{}
	for _, c := range ex.Checks {
		if c.Points > 0 {
			scored[c.Name] = true
		}
	}
	caught := map[string]bool{}
	for _, c := range caughtElsewhere {
		caught[c] = true
	}
	names := map[string]bool{}
	good := 0
	for _, r := range ex.References {
		if r.Name == "" || names[r.Name] {
			tb.Errorf("%s: reference name %q is empty or repeated", ex.ID, r.Name)
		}
		names[r.Name] = true
		if _, errs := labs.Validate(l, r.Design); len(errs) > 0 {
			tb.Errorf("%s: reference %q: design %v: %v", ex.ID, r.Name, r.Design, errs)
		}
		if len(r.Fails) == 0 {
			good++
		}
		for _, f := range r.Fails {
			if !scored[f] {
				tb.Errorf("%s: reference %q fails %q, which is no scored check", ex.ID, r.Name, f)
			}
			caught[f] = true
		}
	}
	if good == 0 {
		tb.Errorf("%s: no reference is a good design", ex.ID)
	}
	for c := range scored {
		if !caught[c] {
			tb.Errorf("%s: no reference fails %q", ex.ID, c)
		}
	}
	return names
}
