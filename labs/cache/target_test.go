package cache

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

// serviceLauncher runs the cache lab as a service would run: each target
// is an instance behind a real HTTP server on loopback, on real time,
// reached only by its base URL. It is how a learner's own service is
// graded, with the same checks. With restart, a target restarts as a
// crashed process would: the instance halts and another takes its rows and
// keys, behind the same address.
type serviceLauncher struct {
	base    labs.Env
	design  labs.Design
	restart bool

	mu       sync.Mutex
	n        int
	services []*service
}

// service is one launched target.
type service struct {
	srv    *httptest.Server
	env    labs.Env
	design labs.Design
	cur    atomic.Pointer[instance]
}

func (s *serviceLauncher) Launch(ctx context.Context, changes map[string]any) (labs.Target, error) {
	d := maps.Clone(s.design)
	maps.Copy(d, changes)
	s.mu.Lock()
	s.n++
	env := s.base
	env.Instance += "svc" + strconv.Itoa(s.n)
	env.Prefix = "lab:" + env.Instance + ":"
	s.mu.Unlock()
	inst, err := Lab.New(ctx, env, d)
	if err != nil {
		return nil, err
	}
	svc := &service{env: env, design: d}
	svc.cur.Store(inst.(*instance))
	svc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc.cur.Load().Handler().ServeHTTP(w, r)
	}))
	s.mu.Lock()
	s.services = append(s.services, svc)
	s.mu.Unlock()
	tg := &labs.URLTarget{Base: svc.srv.URL, HTTP: svc.srv.Client()}
	if s.restart {
		tg.Caps, tg.OnRestart = []labs.Capability{labs.Restart}, svc.restartNow
	}
	return tg, nil
}

// restartNow halts the instance and starts another on its rows and keys.
func (svc *service) restartNow(ctx context.Context) error {
	if err := svc.cur.Load().Halt(ctx); err != nil {
		return err
	}
	inst, err := Lab.New(ctx, svc.env, svc.design)
	if err != nil {
		return err
	}
	svc.cur.Store(inst.(*instance))
	return nil
}

func (s *serviceLauncher) Can(c labs.Capability) bool { return c == labs.Restart && s.restart }

func (s *serviceLauncher) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, svc := range s.services {
		svc.srv.Close()
		if err := svc.cur.Load().Close(ctx); err != nil {
			return err
		}
	}
	s.services = nil
	return nil
}

// gradeService grades design as a service (only the checks named, or
// all) and returns the results by check.
func gradeService(t *testing.T, base labs.Env, raw map[string]any, restart bool, only ...string) map[string]labs.CheckResult {
	t.Helper()
	ex := catalogueExercise(t)
	if len(only) > 0 {
		var checks []labs.Check
		for _, name := range only {
			checks = append(checks, checkNamed(t, ex, name))
		}
		ex.Checks = checks
	}
	l := &serviceLauncher{base: base, design: mustDesign(t, raw), restart: restart}
	rs, err := labs.RunOn(context.Background(), Lab, ex, nil, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]labs.CheckResult{}
	for _, r := range rs {
		t.Logf("%-45s passed %-5v skipped %-5v %s", r.Name, r.Passed, r.Skipped, r.Message)
		for _, fromDesign := range []string{"With strategy", "With invalidation", "With fill_guard", "(ttl_ms)", "With stampede="} {
			if strings.Contains(r.Message, fromDesign) {
				t.Errorf("%s: a service has no design to explain from: %s", r.Name, r.Message)
			}
		}
		out[r.Name] = r
	}
	return out
}

// The catalogue checks grade a service reached only by URL, on real time:
// a good design passes every check (the stale-fill race, which needs the
// lab's clock, is left out and the message says so); write-behind is
// crashed through the target's restart, which the durable queue survives
// and the memory queue does not; and a queueing service that cannot be
// restarted has its crash check skipped with a sentence. The write-behind
// services flush every 2 s, so nothing is flushed before the check has
// read the database after its writes.
func TestSuiteGradesAServiceByURL(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel() // the checks mostly wait on real time
			base := labtest.Env(t, b, "svc")
			good := map[string]any{"strategy": StrategyCacheAside, "stampede": StampedeLock}
			for name, r := range gradeService(t, base, good, true) {
				if !r.Passed || r.Skipped || r.Points != r.MaxPoints {
					t.Errorf("good design, %s: %+v", name, r)
				}
			}
			if r := gradeService(t, base, good, true, chkStale)[chkStale]; !strings.Contains(r.Message, "was not tried") {
				t.Errorf("the stale-fill race on real time: %s", r.Message)
			}
			queued := func(queue string) map[string]any {
				return map[string]any{"strategy": StrategyWriteBehind, "write_behind_queue": queue, "flush_interval_ms": 2000}
			}
			if r := gradeService(t, base, queued(QueueStream), true, chkCrash)[chkCrash]; !r.Passed || !strings.Contains(r.Message, "the queue outlived") {
				t.Errorf("durable queue, restarted: %+v", r)
			}
			if r := gradeService(t, base, queued(QueueMemory), true, chkCrash)[chkCrash]; r.Passed || !strings.Contains(r.Message, "6 of 6 items still lack") {
				t.Errorf("memory queue, restarted: %+v", r)
			}
			if r := gradeService(t, base, queued(QueueStream), false, chkCrash)[chkCrash]; !r.Skipped || r.MaxPoints != 0 || !strings.Contains(r.Message, "cannot do") {
				t.Errorf("durable queue, no restart: %+v", r)
			}
		})
	}
}
