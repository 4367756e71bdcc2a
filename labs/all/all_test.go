package all

import (
	"net/http"
	"strings"
	"testing"
)

// The registry builds (ids and exercise ids unique), every lab has the
// parts its page needs, and its pokes name routes of the lab.
func TestEveryLabIsComplete(t *testing.T) {
	r := Registry()
	if len(r.Labs()) != 5 {
		t.Fatalf("%d labs", len(r.Labs()))
	}
	for _, l := range r.Labs() {
		info := l.Info()
		if info.Title == "" || info.Summary == "" || info.Lesson == "" || info.Explain == "" || len(info.Try) == 0 || len(info.Charts) == 0 {
			t.Errorf("%s: incomplete info", info.ID)
		}
		if len(info.Pokes) == 0 {
			t.Errorf("%s: no pokes", info.ID)
		}
		for _, p := range info.Pokes {
			switch {
			case p.Label == "" || p.Path == "" || strings.HasPrefix(p.Path, "/"):
				t.Errorf("%s: poke %+v: needs a label and a path relative to the instance", info.ID, p)
			case p.Method != http.MethodGet && p.Method != http.MethodPost && p.Method != http.MethodPut && p.Method != http.MethodDelete:
				t.Errorf("%s: poke %q: method %q", info.ID, p.Label, p.Method)
			}
			for _, prm := range p.Params {
				if !strings.Contains(p.Path, "{"+prm.Name+"}") {
					t.Errorf("%s: poke %q: parameter %q is not in %q", info.ID, p.Label, prm.Name, p.Path)
				}
			}
		}
		if len(r.Exercises(info.ID)) == 0 {
			t.Errorf("%s: no exercise", info.ID)
		}
	}
}

// Each lab's design exercises form a ladder: steps 1..n, each once (the
// registry refuses anything else; this shows the real labs pass), and the
// registry lists them in step order.
func TestEveryLabHasALadder(t *testing.T) {
	r := Registry()
	for _, l := range r.Labs() {
		id := l.Info().ID
		step := 0
		for _, ex := range r.Exercises(id) {
			if ex.Kind() == "build" {
				if ex.Step != 0 {
					t.Errorf("%s: build exercise %s has step %d", id, ex.ID, ex.Step)
				}
				continue
			}
			step++
			if ex.Step != step {
				t.Errorf("%s: exercise %s is step %d, listed as rung %d", id, ex.ID, ex.Step, step)
			}
		}
		if step == 0 {
			t.Errorf("%s: no design exercise", id)
		}
	}
}
