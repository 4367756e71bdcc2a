package cache

import (
	"context"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

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
	l := &labtest.ServiceLauncher{Lab: Lab, Env: base, Design: mustDesign(t, raw), Restart: restart}
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
