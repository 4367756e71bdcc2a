package shortener

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// gradeService runs checks of the exercise on services launched by l.
func gradeService(t *testing.T, l *labtest.ServiceLauncher, names ...string) map[string]labs.CheckResult {
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
			rs := gradeService(t, &labtest.ServiceLauncher{Lab: Lab, Env: base, Design: mustDesign(t, nil), Restart: true}, all...)
			for name, r := range rs {
				if !r.Passed || r.Skipped || r.Points != r.MaxPoints {
					t.Errorf("good design, %s: %+v", name, r)
				}
			}
			rs = gradeService(t, &labtest.ServiceLauncher{Lab: Lab, Env: base, Design: mustDesign(t, map[string]any{"code_length": 8}), Hide: hideListing},
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
			rs = gradeService(t, &labtest.ServiceLauncher{Lab: Lab, Env: base, Design: mustDesign(t, nil), Hide: hideListing}, checkNameDistinct)
			if r := rs[checkNameDistinct]; !r.Passed || !strings.Contains(r.Message, "every one redirected") {
				t.Errorf("a service without GET links: %+v", r)
			}
			assertNothingLeft(t, base)
		})
	}
}

// hideListing hides GET links and GET stats, which a service need not
// serve.
func hideListing(r *http.Request) bool { return r.URL.Path == "/links" || r.URL.Path == "/stats" }
