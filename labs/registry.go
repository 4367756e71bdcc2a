package labs

import (
	"fmt"
	"regexp"
	"slices"
)

// Registry is the list of labs a build serves and grades, in the order
// pages show them. One registry, built in one place (labs/all), feeds the
// manager, the grader, the web pages and API, and the check of which labs
// the lessons may link; tests build smaller ones.
type Registry struct {
	labs      []Lab
	byID      map[string]Lab
	exercises map[string]registered
}

type registered struct {
	lab Lab
	ex  Exercise
}

var (
	labIDPattern      = regexp.MustCompile(`^[a-z][a-z0-9]*$`)
	exerciseIDPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
)

// NewRegistry lists ls. Lab ids must be unique lowercase words, and
// exercise ids unique across labs and marked with their own lab's id.
func NewRegistry(ls ...Lab) (*Registry, error) {
	r := &Registry{byID: map[string]Lab{}, exercises: map[string]registered{}}
	for _, l := range ls {
		id := l.Info().ID
		if !labIDPattern.MatchString(id) {
			return nil, fmt.Errorf("labs: lab id %q is not a lowercase word", id)
		}
		if _, dup := r.byID[id]; dup {
			return nil, fmt.Errorf("labs: lab %q registered twice", id)
		}
		r.labs = append(r.labs, l)
		r.byID[id] = l
		for _, ex := range ExercisesOf(l) {
			if !exerciseIDPattern.MatchString(ex.ID) || ex.Lab != id {
				return nil, fmt.Errorf("labs: exercise %q of lab %q: needs an id of [a-z0-9-] and Lab %q", ex.ID, id, id)
			}
			if _, dup := r.exercises[ex.ID]; dup {
				return nil, fmt.Errorf("labs: exercise %q defined twice", ex.ID)
			}
			r.exercises[ex.ID] = registered{lab: l, ex: ex}
		}
		if err := checkLadder(id, ExercisesOf(l)); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// checkLadder verifies that a lab's design exercises take steps 1..n once
// each and its build exercises none.
func checkLadder(labID string, exs []Exercise) error {
	seen := map[int]string{}
	for _, ex := range exs {
		if ex.Kind() == KindBuild {
			if ex.Step != 0 {
				return fmt.Errorf("labs: build exercise %q of lab %q: has step %d; build exercises are off the ladder (step 0)", ex.ID, labID, ex.Step)
			}
			continue
		}
		if other, dup := seen[ex.Step]; dup {
			return fmt.Errorf("labs: exercises %q and %q of lab %q: both step %d", other, ex.ID, labID, ex.Step)
		}
		seen[ex.Step] = ex.ID
	}
	for step := 1; step <= len(seen); step++ {
		if _, ok := seen[step]; !ok {
			return fmt.Errorf("labs: lab %q: its %d design exercises must take steps 1..%d, and step %d is missing", labID, len(seen), len(seen), step)
		}
	}
	return nil
}

// Ladder orders a lab's exercises as pages and the API list them: the
// design exercises by step, then the build exercises in their own order.
func Ladder(exs []Exercise) []Exercise {
	out := slices.Clone(exs)
	slices.SortStableFunc(out, func(a, b Exercise) int {
		ka, kb := a.Kind() == KindBuild, b.Kind() == KindBuild
		switch {
		case ka != kb && ka:
			return 1
		case ka != kb:
			return -1
		}
		return a.Step - b.Step
	})
	return out
}

// MustRegistry is NewRegistry for lists fixed in the source: an error is
// a programming error, and panics.
func MustRegistry(ls ...Lab) *Registry {
	r, err := NewRegistry(ls...)
	if err != nil {
		panic(err)
	}
	return r
}

// Labs lists the labs in order.
func (r *Registry) Labs() []Lab { return slices.Clone(r.labs) }

// IDs lists the labs' ids in order.
func (r *Registry) IDs() []string {
	out := make([]string, len(r.labs))
	for i, l := range r.labs {
		out[i] = l.Info().ID
	}
	return out
}

// Lab finds a lab by id.
func (r *Registry) Lab(id string) (Lab, bool) {
	l, ok := r.byID[id]
	return l, ok
}

// Graded lists the labs that have exercises, in order.
func (r *Registry) Graded() []Lab {
	var out []Lab
	for _, l := range r.labs {
		if len(ExercisesOf(l)) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// Exercises lists a lab's exercises (none for an unknown lab): its
// ladder's design exercises by step, then its build exercises.
func (r *Registry) Exercises(labID string) []Exercise {
	l, ok := r.byID[labID]
	if !ok {
		return nil
	}
	return Ladder(ExercisesOf(l))
}

// Exercise finds an exercise by id, with its lab.
func (r *Registry) Exercise(id string) (Lab, Exercise, bool) {
	e, ok := r.exercises[id]
	return e.lab, e.ex, ok
}
