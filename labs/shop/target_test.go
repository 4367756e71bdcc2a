package shop

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

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
		l := &labtest.ServiceLauncher{Lab: Lab, Env: base, Design: good, Hide: hide}
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
