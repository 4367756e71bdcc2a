package limiter

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

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
				l := &labtest.ServiceLauncher{Lab: Lab, Env: base, Design: mustDesign(t, raw), Replicas: replicas}
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
