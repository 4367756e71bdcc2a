package shortener

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// service is a shortener running as a service would: an instance behind a
// real HTTP server on loopback, on real time, reached only by its base URL.
// A restart builds the design again on the same tables behind the same
// address.
type service struct {
	env     labs.Env
	design  labs.Design
	srv     *httptest.Server
	handler atomic.Pointer[http.Handler]

	mu   sync.Mutex
	inst labs.Instance
}

func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.handler.Load()).ServeHTTP(w, r)
}

func (s *service) serve(inst labs.Instance, hide []string) {
	var h http.Handler = inst.(*instance).Handler()
	if len(hide) > 0 {
		inner := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for _, p := range hide {
				if r.URL.Path == p {
					http.NotFound(w, r)
					return
				}
			}
			inner.ServeHTTP(w, r)
		})
	}
	s.handler.Store(&h)
	s.mu.Lock()
	s.inst = inst
	s.mu.Unlock()
}

func (s *service) restart(ctx context.Context, hide []string) error {
	s.mu.Lock()
	old := s.inst
	s.mu.Unlock()
	if err := old.(labs.Halter).Halt(ctx); err != nil {
		return err
	}
	inst, err := Lab.New(ctx, s.env, s.design)
	if err != nil {
		return err
	}
	s.serve(inst, hide)
	return nil
}

// serviceLauncher launches services; restarts says whether the grader may
// restart them, and hide lists paths they do not serve (a service need
// not serve GET links and GET stats).
type serviceLauncher struct {
	base     labs.Env
	design   labs.Design
	restarts bool
	hide     []string

	mu       sync.Mutex
	n        int
	services []*service
}

func (l *serviceLauncher) Launch(ctx context.Context, changes map[string]any) (labs.Target, error) {
	d := maps.Clone(l.design)
	maps.Copy(d, changes)
	l.mu.Lock()
	l.n++
	s := &service{env: withID(l.base, "svc"+strconv.Itoa(l.n)), design: d}
	l.mu.Unlock()
	inst, err := Lab.New(ctx, s.env, d)
	if err != nil {
		return nil, err
	}
	s.serve(inst, l.hide)
	s.srv = httptest.NewServer(s)
	l.mu.Lock()
	l.services = append(l.services, s)
	l.mu.Unlock()
	tg := &labs.URLTarget{Base: s.srv.URL, HTTP: s.srv.Client()}
	if l.restarts {
		tg.Caps = []labs.Capability{labs.Restart}
		tg.OnRestart = func(ctx context.Context) error { return s.restart(ctx, l.hide) }
	}
	return tg, nil
}

func (l *serviceLauncher) Can(c labs.Capability) bool { return c == labs.Restart && l.restarts }

func (l *serviceLauncher) Close(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.services {
		s.srv.Close()
		if err := s.inst.Close(ctx); err != nil {
			return err
		}
	}
	l.services = nil
	return nil
}

// gradeService runs checks of the exercise on services launched by l.
func gradeService(t *testing.T, l *serviceLauncher, names ...string) map[string]labs.CheckResult {
	t.Helper()
	ex := basicsExercise(t)
	var checks []labs.Check
	for _, c := range ex.Checks {
		for _, n := range names {
			if c.Name == n {
				checks = append(checks, c)
			}
		}
	}
	ex.Checks = checks
	rs, err := labs.RunOn(context.Background(), Lab, ex, nil, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]labs.CheckResult{}
	for _, r := range rs {
		t.Logf("%-28s passed %-5v skipped %-5v %s", r.Name, r.Passed, r.Skipped, r.Message)
		if strings.Contains(r.Message, "code_length is") || strings.Contains(r.Message, "demo links") {
			t.Errorf("%s: a service has no design to explain from: %s", r.Name, r.Message)
		}
		out[r.Name] = r
	}
	return out
}

// The checks grade a service reached only by URL, on real time: a good
// design passes every scored check; without the restart capability the
// restart check is skipped with a sentence and counts neither way; codes
// that are too long still fail; and a service without GET links and GET
// stats is judged by following every code.
func TestSuiteGradesAServiceByURL(t *testing.T) {
	all := []string{checkNameDistinct, checkNameRedirects, checkNameExpiry, checkNameRestart, checkNameInvalid, checkNameHot}
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			base := labtest.Env(t, b, "svc")
			rs := gradeService(t, &serviceLauncher{base: base, design: mustDesign(t, nil), restarts: true}, all...)
			for name, r := range rs {
				if !r.Passed || r.Skipped || r.Points != r.MaxPoints {
					t.Errorf("good design, %s: %+v", name, r)
				}
			}
			rs = gradeService(t, &serviceLauncher{base: base, design: mustDesign(t, map[string]any{"code_length": 8}), hide: []string{"/links", "/stats"}},
				checkNameDistinct, checkNameRestart, checkNameInvalid)
			if r := rs[checkNameDistinct]; r.Passed || !strings.Contains(r.Message, "Codes are 8 characters long") {
				t.Errorf("8 characters: %+v", r)
			}
			if r := rs[checkNameRestart]; !r.Skipped || r.Passed || r.MaxPoints != 0 || !strings.Contains(r.Message, "cannot be restarted") {
				t.Errorf("without the restart capability: %+v", r)
			}
			if r := rs[checkNameInvalid]; !r.Passed || strings.Contains(r.Message, "rejected creations") {
				t.Errorf("invalid input without GET stats: %+v", r)
			}
			rs = gradeService(t, &serviceLauncher{base: base, design: mustDesign(t, nil), hide: []string{"/links", "/stats"}}, checkNameDistinct)
			if r := rs[checkNameDistinct]; !r.Passed || !strings.Contains(r.Message, "every one redirected") {
				t.Errorf("a service without GET links: %+v", r)
			}
			assertNothingLeft(t, base)
		})
	}
}
