package limiter

import (
	"context"
	"maps"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// serviceLauncher runs the limiter as a service would run: each target is
// an instance behind a real HTTP server on loopback, on real time, reached
// only by its base URL. It is how a learner's own service is graded, with
// the same checks.
type serviceLauncher struct {
	tb       testing.TB
	base     labs.Env
	design   labs.Design
	replicas bool

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
	srv := httptest.NewServer(inst.(*instance).Handler())
	s.mu.Lock()
	s.servers, s.instances = append(s.servers, srv), append(s.instances, inst)
	s.mu.Unlock()
	var caps []labs.Capability
	if s.replicas {
		caps = append(caps, labs.Replicas)
	}
	return &labs.URLTarget{Base: srv.URL, HTTP: srv.Client(), Caps: caps}, nil
}

func (s *serviceLauncher) Can(c labs.Capability) bool { return c == labs.Replicas && s.replicas }

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

// The quota checks grade a service reached only by URL, on real time: they
// wait where they would have moved the suite's clock, a good design passes
// every scored check, and memory storage on 3 replicas still fails what
// no timing can save. Without replicas the replica check is skipped with
// a sentence, and counts neither way.
func TestSuiteGradesAServiceByURL(t *testing.T) {
	ex := quotaExercise(t)
	scored := slices.DeleteFunc(slices.Clone(ex.Checks), func(c labs.Check) bool { return c.Points == 0 })
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel() // the checks mostly wait on real time
			base := labtest.Env(t, b, "svc")
			run := func(raw map[string]any, replicas bool, checks []labs.Check) map[string]labs.CheckResult {
				l := &serviceLauncher{tb: t, base: base, design: mustDesign(t, raw), replicas: replicas}
				run := ex
				run.Checks = checks
				rs, err := labs.RunOn(context.Background(), Lab, run, nil, l, nil)
				if err != nil {
					t.Fatal(err)
				}
				out := map[string]labs.CheckResult{}
				for _, r := range rs {
					t.Logf("%-45s passed %-5v skipped %-5v %s", r.Name, r.Passed, r.Skipped, r.Message)
					if strings.Contains(r.Message, "Likely why") {
						t.Errorf("%s: a service has no design to explain from: %s", r.Name, r.Message)
					}
					out[r.Name] = r
				}
				return out
			}
			// A service's decisions take real time, and 200 at once under
			// the race detector on a busy machine can outlast the default
			// 100 ms decision timeout; this test is about reaching a
			// service by URL, not about that timeout, so it allows 5 s.
			good := goodQuota(t)
			good["timeout_ms"] = 5000
			for name, r := range run(good, true, scored) {
				if !r.Passed || r.Skipped || r.Points != r.MaxPoints || r.MaxPoints == 0 {
					t.Errorf("good design, %s: %+v", name, r)
				}
			}
			bad := maps.Clone(good)
			bad["storage"], bad["replicas"] = StorageMemory, 3
			rs := run(bad, false, slices.DeleteFunc(slices.Clone(scored), func(c labs.Check) bool {
				return c.Name != checkLimit && c.Name != checkConcurrency && c.Name != checkReplicated
			}))
			if rs[checkLimit].Passed || rs[checkConcurrency].Passed {
				t.Errorf("memory storage on 3 replicas passed: %+v", rs)
			}
			if r := rs[checkReplicated]; !r.Skipped || r.Passed || r.MaxPoints != 0 || !strings.Contains(r.Message, "3 replicas") {
				t.Errorf("without replicas: %+v", r)
			}
		})
	}
}
