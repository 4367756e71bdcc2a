package web

import (
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
)

// New takes no dependency for granted: each missing one is an error that
// names it, and nothing is built.
func TestNewRequiresEveryDependency(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil)
	full := Deps{Config: a.app.cfg, Store: a.store, Redis: a.redis.Client, Logger: a.app.log, Library: a.app.library,
		Labs: a.app.labs, Grader: a.app.grader, Now: a.clock, Hasher: a.app.hasher}
	if _, err := New(full); err != nil {
		t.Fatalf("with every dependency: %v", err)
	}
	for name, drop := range map[string]func(*Deps){
		"Store":   func(d *Deps) { d.Store = nil },
		"Redis":   func(d *Deps) { d.Redis = nil },
		"Logger":  func(d *Deps) { d.Logger = nil },
		"Library": func(d *Deps) { d.Library = nil },
		"Labs":    func(d *Deps) { d.Labs = nil },
		"Grader":  func(d *Deps) { d.Grader = nil },
		"Now":     func(d *Deps) { d.Now = nil },
		"Hasher":  func(d *Deps) { d.Hasher = nil },
	} {
		d := full
		drop(&d)
		s, err := New(d)
		if err == nil || s != nil || !strings.Contains(err.Error(), "Deps."+name+" is required") {
			t.Errorf("without %s: %v, %v", name, s, err)
		}
	}
}
