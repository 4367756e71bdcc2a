package limiter

import (
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

func buildEx(tb testing.TB) labs.Exercise {
	tb.Helper()
	for _, ex := range labs.ExercisesOf(Lab) {
		if ex.ID == "limiter-build" {
			return ex
		}
	}
	tb.Fatal("no exercise limiter-build")
	return labs.Exercise{}
}

// at is a shot sent at ms and answered at ms + took, both from an origin.
func at(ms, took int, allowed bool) shot {
	origin := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	sent := origin.Add(time.Duration(ms) * time.Millisecond)
	return shot{sent: sent, recv: sent.Add(time.Duration(took) * time.Millisecond), allowed: allowed}
}

// proven counts only admissions the times prove were within 1.9 s of
// each other: a slow answer makes it lenient, never strict.
func TestProvenCountsWhatTheTimesProve(t *testing.T) {
	many := func(from, n, every, took int) []shot {
		var out []shot
		for i := range n {
			out = append(out, at(from+i*every, took, true))
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		shots []shot
		want  int
	}{
		{"none", nil, 0},
		{"refused ones do not count", []shot{at(0, 1, false), at(1, 1, false)}, 0},
		{"a quota at once", many(0, 20, 1, 5), 20},
		{"a quota, then a second one 1.5 s later", append(many(0, 20, 1, 5), many(1500, 20, 1, 5)...), 40},
		{"a quota, then a second one 2 s later", append(many(0, 20, 1, 5), many(2000, 20, 1, 5)...), 20},
		// Answered 1.89 s after the first was sent: proven within.
		{"just within", []shot{at(0, 10, true), at(1880, 10, true)}, 2},
		// Answered 1.9 s after: it may have been decided 2 s later.
		{"just beyond", []shot{at(0, 10, true), at(1890, 10, true)}, 1},
		// A slow answer proves less.
		{"slow answers", []shot{at(0, 10, true), at(500, 1500, true)}, 1},
	} {
		if got, _ := proven(tc.shots); got != tc.want {
			t.Errorf("%s: proven %d, want %d", tc.name, got, tc.want)
		}
	}
}

// Retry-After is judged against the first request that passed after the
// refusal: too short when a request sent Retry-After + 250 ms after the
// refusal was still refused, too long when one passed more than a second
// (its rounding) plus 250 ms before it said.
func TestJudgeRetry(t *testing.T) {
	refusal := at(0, 10, false)
	probes := func(until int, passAt int) ([]shot, shot) {
		var out []shot
		for ms := 60; ms <= until; ms += 50 {
			s := at(ms, 5, passAt >= 0 && ms >= passAt)
			out = append(out, s)
			if s.allowed {
				return out, s
			}
		}
		return out, shot{}
	}
	for _, tc := range []struct {
		name     string
		ra       int
		passAt   int // ms; -1: nothing passed
		until    int
		pass     bool
		contains string
	}{
		{"honest", 2, 1900, 3500, true, "honest"},
		{"honest, rounded up", 2, 1060, 3500, true, "honest"},
		{"always 1", 1, 1900, 2500, false, "still refused"},
		{"too long", 3, 600, 4500, false, "more than 2 s"},
		{"never passes", 2, -1, 3500, false, "still refused"},
		{"never passes, far off", 10, -1, 4500, false, "nothing passed"},
	} {
		ps, passed := probes(tc.until, tc.passAt)
		o := judgeRetry(refusal, tc.ra, ps, passed)
		if o.Passed != tc.pass || !strings.Contains(o.Message, tc.contains) {
			t.Errorf("%s: passed %v, %q; want %v saying %q", tc.name, o.Passed, o.Message, tc.pass, tc.contains)
		}
	}
}

// The build exercise is whole: points sum to 100 over the checks that
// judge a service by URL, the contract names every variable the service
// gets, and the starter kits hold a Go module and a Python app.
func TestBuildExerciseContract(t *testing.T) {
	ex := buildEx(t)
	if ex.Kind() != "build" || ex.MaxScore() != 100 || ex.Build.Replicas != quotaReplicas || !ex.Build.Redis {
		t.Errorf("kind %s, max score %d, build %+v", ex.Kind(), ex.MaxScore(), ex.Build)
	}
	if ex.Build.Env["QUOTA_LIMIT"] != "20" || ex.Build.Env["QUOTA_WINDOW_MS"] != "2000" {
		t.Errorf("env %v", ex.Build.Env)
	}
	contract := strings.Join(ex.Build.Contract, "\n")
	for _, want := range []string{"POST /request?key=K", "429", "Retry-After", "QUOTA_LIMIT", "QUOTA_WINDOW_MS", "REDIS_URL",
		"redis://[:password@]host:port/db", "REPLICA_ID", "PORT", "0.0.0.0:$PORT", "GET /healthz", "20 s", "256 MiB", "128 processes", "/tmp", "Fail open"} {
		if !strings.Contains(contract, want) {
			t.Errorf("the contract does not say %q", want)
		}
	}
	for _, name := range []string{"go/main.go", "go/go.mod", "go/go.sum", "python/app.py"} {
		if _, err := fs.Stat(ex.Build.Starters, name); err != nil {
			t.Errorf("starter kits: %v", err)
		}
	}
	mod, _ := fs.ReadFile(ex.Build.Starters, "go/go.mod")
	if !strings.Contains(string(mod), "module example.org/limiter-service") || !strings.Contains(string(mod), "github.com/redis/go-redis/v9 v9.7.3") {
		t.Errorf("go.mod:\n%s", mod)
	}
}
