package labs

import (
	"strings"
	"testing"
)

// laddered is a lab with the exercises it is given.
type laddered struct {
	echoLab
	exs []Exercise
}

func (laddered) Info() Info                  { return Info{ID: "lad", Title: "lad"} }
func (l laddered) Exercises() []Exercise     { return l.exs }
func rung(id string, step int) Exercise      { return Exercise{ID: "lad-" + id, Lab: "lad", Step: step} }
func buildRung(id string, step int) Exercise { e := rung(id, step); e.Build = &Build{}; return e }

// A lab's design exercises take steps 1..n without gaps or repeats, its
// build exercises none; the registry lists the ladder by step, then the
// build exercises.
func TestRegistryChecksLadders(t *testing.T) {
	r, err := NewRegistry(laddered{exs: []Exercise{buildRung("b", 0), rung("c", 3), rung("a", 1), rung("b2", 2)}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ex := range r.Exercises("lad") {
		got = append(got, ex.ID)
	}
	if strings.Join(got, ",") != "lad-a,lad-b2,lad-c,lad-b" {
		t.Errorf("order %v", got)
	}
	for name, tc := range map[string]struct {
		exs  []Exercise
		says string
	}{
		"gap":           {[]Exercise{rung("a", 1), rung("c", 3)}, "step 2 is missing"},
		"no step":       {[]Exercise{rung("a", 0)}, "step 1 is missing"},
		"repeat":        {[]Exercise{rung("a", 1), rung("b", 1)}, "both step 1"},
		"build on step": {[]Exercise{rung("a", 1), buildRung("b", 2)}, "off the ladder"},
	} {
		_, err := NewRegistry(laddered{exs: tc.exs})
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want an error saying %q", name, err, tc.says)
		}
	}
}
