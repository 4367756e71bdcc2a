package breaker

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// The checks grade a service reached only by URL, on real time: the
// threshold and the trial calls need no clock of the suite's, so the good
// design passes them and one that never opens fails them, with messages
// that explain from what was seen, never from a design the service does
// not have. (The checks that judge milliseconds are left out: on real
// time they would judge this machine as much as the design.)
func TestSuiteGradesAServiceByURL(t *testing.T) {
	ex := exercise(t, "breaker-payments")
	var checks []labs.Check
	for _, c := range ex.Checks {
		if c.Name == chkThreshold || c.Name == chkProbe {
			checks = append(checks, c)
		}
	}
	ex.Checks = checks
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel() // the checks mostly wait on real time
			base := labtest.Env(t, b, "svc")
			run := func(changes labs.Design) map[string]labs.CheckResult {
				d := goodDesign()
				maps.Copy(d, changes)
				d, errs := labs.Validate(Lab, d)
				if len(errs) > 0 {
					t.Fatal(errs)
				}
				rs, err := labs.RunOn(context.Background(), Lab, ex, nil, &labtest.ServiceLauncher{Lab: Lab, Env: base, Design: d}, nil)
				if err != nil {
					t.Fatal(err)
				}
				out := map[string]labs.CheckResult{}
				for _, r := range rs {
					t.Logf("%-50s passed %-5v %s", r.Name, r.Passed, r.Message)
					for _, knob := range []string{"failure_threshold", "open_timeout_ms", "half_open_probes", "call_timeout_ms", "retry_budget"} {
						if strings.Contains(r.Message, knob) {
							t.Errorf("%s: a service has no design to explain from: %s", r.Name, r.Message)
						}
					}
					out[r.Name] = r
				}
				return out
			}
			for name, r := range run(nil) {
				if !r.Passed || r.Points != r.MaxPoints || r.MaxPoints == 0 {
					t.Errorf("good design, %s: %+v", name, r)
				}
			}
			rs := run(labs.Design{"failure_threshold": 1000})
			if r := rs[chkThreshold]; r.Passed || !strings.Contains(r.Message, "consecutive failed calls to the provider, so it never stopped calling it") {
				t.Errorf("never opens, %s: %+v", chkThreshold, r)
			}
			if r := rs[chkProbe]; r.Passed || !strings.Contains(r.Message, "There was no trial call to judge") {
				t.Errorf("never opens, %s: %+v", chkProbe, r)
			}
		})
	}
}
