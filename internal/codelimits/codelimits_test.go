package codelimits

import (
	"go/parser"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// debts are the files and functions over the limits when the limits were
// set; each is to be split, and none may grow. The list only shrinks: a
// debt paid off must leave it (the test says so), and nothing new joins.
var debts = map[string]int{
	"complexity progress/progress_test.go TestDashboardEvidenceAndContinue":                   34,
	"complexity grader/grader_test.go TestSubmitGradeAndResults":                              32,
	"complexity grader/stability_test.go TestGradingStability":                                27,
	"complexity internal/store/accounts_test.go TestRegisterWithInvitationsAndSetupLinks":     40,
	"complexity internal/store/store_test.go TestAccountsAndSessions":                         26,
	"complexity internal/store/store_test.go TestGradingLeases":                               38,
	"complexity labs/cache/suite.go checkNoStaleRead":                                         32,
	"complexity labs/limiter/http_test.go TestRequestRoute":                                   34,
	"complexity web/account_test.go TestAccessTokensAndClassAPI":                              42,
	"complexity web/classes_test.go TestInstructorRunsAClass":                                 60,
	"complexity web/labs_test.go TestLabAPI":                                                  26,
	"complexity web/learn_test.go TestLearningJourney":                                        31,
	"complexity web/notices_test.go TestNotices":                                              26,
	"file lines grader/grader.go":                                                             556,
	"file lines labs/cache/cache_test.go":                                                     667,
	"file lines labs/cache/instance.go":                                                       600,
	"file lines labs/cache/suite.go":                                                          792,
	"function lines cmd/server/grader_test.go TestGraderCommandGradesWhatTheWebEnqueues":      87,
	"function lines grader/stability_test.go TestGradingStability":                            135,
	"function lines internal/store/accounts_test.go TestRegisterWithInvitationsAndSetupLinks": 119,
	"function lines internal/store/store_test.go TestGradingLeases":                           105,
	"function lines labs/cache/cache_test.go TestWriteBehindCrash":                            86,
	"function lines labs/cache/suite.go checkCrash":                                           89,
	"function lines labs/cache/suite.go checkHitRatio":                                        108,
	"function lines labs/cache/suite.go checkNoStaleRead":                                     123,
	"function lines labs/cache/writebehind.go writeBehind.crash":                              84,
	"function lines labs/limiter/memory.go memoryStore.apply":                                 91,
	"function lines web/account_test.go TestAccessTokensAndClassAPI":                          164,
	"function lines web/browser_learn_test.go TestBrowserLearningJourney":                     92,
	"function lines web/classes_test.go TestInstructorRunsAClass":                             237,
	"function lines web/grading_test.go TestSubmissionAPI":                                    105,
	"function lines web/labs_test.go TestLabAPI":                                              111,
	"function lines web/learn_test.go TestLearningJourney":                                    146,
	"function lines web/limits_test.go TestClassroomBehindOneAddress":                         89,
	"function lines web/notices_test.go TestNotices":                                          113,
	"function lines web/server_test.go TestAccountJourney":                                    87,
}

// TestCodeWithinLimits keeps the repository's hand-written Go under
// Default. It measures the source; it times nothing.
func TestCodeWithinLimits(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	found, err := Scan(root, Default)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range found {
		seen[f.Key()] = true
		if was, ok := debts[f.Key()]; ok {
			if f.Value > was {
				t.Errorf("%s — it grew from %d; split it instead", f, was)
			}
			continue
		}
		t.Errorf("%s — split it into named steps (arrange, drive, measure, verdict) or smaller files", f)
	}
	for k := range debts {
		if !seen[k] {
			t.Errorf("%s is within the limits now: remove it from the debts list", k)
		}
	}
}

func TestComplexityCounts(t *testing.T) {
	for src, want := range map[string]int{
		`func() {}`:                     1,
		`func() { if a && b || c { } }`: 4,
		`func() { for range x { switch { case a: case b: default: } } }`: 4,
		`func() { select { case <-c: default: } }`:                       2,
		`func() { f := func() { if a {} }; f() }`:                        2,
	} {
		e, err := parser.ParseExpr(src)
		if err != nil {
			t.Fatal(err)
		}
		if got := Complexity(e); got != want {
			t.Errorf("%s: complexity %d, want %d", src, got, want)
		}
	}
}

func TestScanFindsAndSkips(t *testing.T) {
	dir := t.TempDir()
	long := "package p\n\nfunc Long() {\n" + strings.Repeat("\t_ = 1\n", 10) + "}\n"
	gen := "// Code generated by hand for this test. DO NOT EDIT.\n\n" + long
	for name, src := range map[string]string{"a.go": long, "gen.go": gen, "testdata/t.go": long, "notes.txt": long} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	found, err := Scan(dir, Limits{FileLines: 10, FuncLines: 5, Complexity: 25})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range found {
		got = append(got, f.String())
	}
	want := []string{"a.go: file lines 14 (limit 10)", "a.go Long: function lines 12 (limit 5)"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
