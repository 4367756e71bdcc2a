package all

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
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

// Every lab can stop an instance that another replica took over without
// removing its state: Release leaves every key and row where it was, and
// the same instance's Close afterwards still removes them.
func TestEveryLabLetsGoWithoutRemoving(t *testing.T) {
	ctx := context.Background()
	be := testenv.Backend{Name: "embedded", DataDir: t.TempDir()}
	withState := 0
	t.Cleanup(func() {
		if withState < 3 {
			t.Errorf("only %d labs kept state to let go of: the test proves little", withState)
		}
	})
	for _, l := range Registry().Labs() {
		id := l.Info().ID
		t.Run(id, func(t *testing.T) {
			env := labtest.Env(t, be, "letgo"+strings.ReplaceAll(id, "-", ""))
			d, ferrs := labs.ParseDesign(l, nil)
			if len(ferrs) > 0 {
				t.Fatalf("default design: %v", ferrs)
			}
			inst, err := l.New(ctx, env, d)
			if err != nil {
				t.Fatal(err)
			}
			// Some state to keep: one unit of the lab's work.
			if _, err := inst.Hit(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			before := stateOf(t, env)
			rl, ok := inst.(labs.Releaser)
			if !ok {
				t.Fatalf("%s instances cannot stop without removing their state", id)
			}
			if err := rl.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if before != "0 keys" {
				withState++
			}
			if after := stateOf(t, env); after != before {
				t.Fatalf("state before Release %q, after %q", before, after)
			}
			if err := inst.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if after := stateOf(t, env); after != "0 keys" {
				t.Fatalf("Close after Release left %s", after)
			}
		})
	}
}

// stateOf counts the instance's Redis keys.
func stateOf(t *testing.T, env labs.Env) string {
	t.Helper()
	keys, err := env.Redis.Keys(context.Background(), env.Prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d keys", len(keys))
}
