package shop

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// serviceLauncher runs the shop as a service would run: each target is an
// instance behind a real HTTP server on loopback, on real time, reached
// only by its base URL. It is how a learner's own shop is graded, with the
// same checks. hide, when set, answers 404 for the routes it names, as a
// service without them would.
type serviceLauncher struct {
	base   labs.Env
	design labs.Design
	hide   func(r *http.Request) bool

	mu        sync.Mutex
	n         int
	servers   []*httptest.Server
	instances []labs.Instance
}

func (s *serviceLauncher) Launch(ctx context.Context, changes map[string]any) (labs.Target, error) {
	d := maps.Clone(s.design)
	maps.Copy(d, changes)
	s.mu.Lock()
	s.n++
	env := withID(s.base, "svc"+strconv.Itoa(s.n))
	s.mu.Unlock()
	inst, err := Lab.New(ctx, env, d)
	if err != nil {
		return nil, err
	}
	h := inst.(*instance).Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.hide != nil && s.hide(r) {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	}))
	s.mu.Lock()
	s.servers, s.instances = append(s.servers, srv), append(s.instances, inst)
	s.mu.Unlock()
	return &labs.URLTarget{Base: srv.URL, HTTP: srv.Client()}, nil
}

func (s *serviceLauncher) Can(labs.Capability) bool { return false }

func (s *serviceLauncher) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, srv := range s.servers {
		srv.Close()
	}
	for _, in := range s.instances {
		if err := in.Close(ctx); err != nil {
			return err
		}
	}
	s.servers, s.instances = nil, nil
	return nil
}

// The saga checks grade a shop reached only by URL, on real time: they
// wait and look again where they would have moved the lab's clock, and
// the good design passes them; a service without the routes that crash
// its consumers has the crash check skipped with a sentence, which counts
// neither way. The settle-time bound is left out: on real time it would
// judge the machine's speed as much as the design.
func TestSuiteGradesAServiceByURL(t *testing.T) {
	ex := sagaExercise(t)
	var checks []labs.Check
	for _, c := range ex.Checks {
		if c.Name != chkBound {
			checks = append(checks, c)
		}
	}
	base := labtest.Env(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, "svc")
	good := referenceDesign(t, ex.References[0])
	run := func(hide func(*http.Request) bool, checks ...labs.Check) map[string]labs.CheckResult {
		l := &serviceLauncher{base: base, design: good, hide: hide}
		sub := ex
		sub.Checks = checks
		rs, err := labs.RunOn(context.Background(), Lab, sub, nil, l, nil)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]labs.CheckResult{}
		for _, r := range rs {
			t.Logf("%-40s passed %-5v skipped %-5v %s", r.Name, r.Passed, r.Skipped, r.Message)
			if strings.Contains(r.Message, "With ") && strings.Contains(r.Message, "=") {
				t.Errorf("%s: a service has no design to explain from: %s", r.Name, r.Message)
			}
			out[r.Name] = r
		}
		return out
	}
	for name, r := range run(nil, checks...) {
		if !r.Passed || r.Skipped || r.Points != r.MaxPoints || r.MaxPoints == 0 {
			t.Errorf("good design as a service, %s: %+v", name, r)
		}
	}
	noKill := func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/consumers/") }
	r := run(noKill, checkNamed(t, ex, chkCrash))[chkCrash]
	if !r.Skipped || r.Passed || r.MaxPoints != 0 || !strings.Contains(r.Message, "POST /consumers/inventory/kill") {
		t.Errorf("a service without the kill route: %+v", r)
	}
}
