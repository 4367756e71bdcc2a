package grader_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/grader"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// servedProbe is the probe lab whose build exercise is checked for real:
// the learner's service must answer GET /alive with 200.
type servedProbe struct{ testLab }

func (s servedProbe) Exercises() []labs.Exercise {
	return append(s.testLab.Exercises(), labs.Exercise{ID: "probe-build", Lab: "probe", Title: "Build a probe",
		Checks: []labs.Check{{Name: "answers", Requirement: "GET /alive answers 200", Points: 5,
			Run: func(ctx context.Context, t *labs.Trial) labs.Outcome {
				tg, err := t.Start(ctx, nil)
				if err != nil {
					return labs.Broken(err)
				}
				r, err := labs.Call(ctx, tg, http.MethodGet, "/alive", nil)
				if err != nil {
					return labs.Broken(err)
				}
				if r.Status != http.StatusOK {
					return labs.Fail("GET /alive answered %d, not 200.", r.Status)
				}
				return labs.Pass("GET /alive answered 200.")
			}}},
		Build: &labs.Build{Replicas: 2, Redis: true, Contract: []string{"`GET /alive` answers 200."}}})
}

const probeService = `import os, redis
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

r = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=2)

class H(BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path in ("/healthz", "/alive") and r.ping()
        self.send_response(200 if ok else 404)
        self.end_headers()

print("probe replica", os.environ["REPLICA_ID"], "listening", flush=True)
ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
`

// A build submission is graded end to end: its archive built into an
// image with no network, run as two replicas beside their own Redis,
// checked over HTTP, and its build and replica logs kept with the run. A
// service that does not compile, or never becomes ready, scores 0 with a
// sentence saying why, and the server's own trouble is never blamed on it.
func TestBuildSubmissionsGraded(t *testing.T) {
	labtest.Sandbox(t) // skips or fails as the run demands when Docker is absent
	be := testenv.Backends(t)[0]
	r := MustRig(t, be, grader.Options{Workers: 1,
		PostgresImage: os.Getenv("WORKBOOK_POSTGRES_IMAGE"), RedisImage: os.Getenv("WORKBOOK_REDIS_IMAGE")}, servedProbe{})
	ctx := context.Background()
	submit := func(lang string, kv ...string) grader.Result {
		t.Helper()
		sub, err := r.g.SubmitBuild(ctx, r.user, "probe", "probe-build", lang, "", zipped(t, kv...))
		if err != nil {
			t.Fatal(err)
		}
		return r.wait(t, sub.ID, 8*time.Minute)
	}

	good := submit("python", "app.py", probeService)
	if good.Status != store.StatusGraded || good.Score == nil || *good.Score != 5 || len(good.Checks) != 1 || !good.Checks[0].Passed {
		t.Fatalf("a good service: %+v", good)
	}
	if good.BuildLog == nil || *good.BuildLog == "" {
		t.Error("the build log was not kept")
	}
	if !strings.Contains(good.Logs["replica-1"]+good.Logs["replica-2"], "probe replica 2 listening") {
		t.Errorf("the replicas' logs were not kept: %v", good.Logs)
	}

	broken := submit("go", "go.mod", "module probe\n\ngo 1.24\n", "main.go", "package main\n\nfunc main() { undefinedThing() }\n")
	if broken.Status != store.StatusGraded || broken.Score == nil || *broken.Score != 0 || !strings.Contains(broken.Message, "No check could run") {
		t.Errorf("a service that does not compile: %+v", broken)
	}
	if broken.BuildLog == nil || !strings.Contains(*broken.BuildLog, "undefinedThing") {
		t.Errorf("the compiler's message is not in the build log: %v", broken.BuildLog)
	}

	silent := submit("python", "app.py", "import time\nprint('thinking', flush=True)\ntime.sleep(3600)\n")
	if silent.Status != store.StatusGraded || silent.Score == nil || *silent.Score != 0 || len(silent.Checks) != 1 ||
		!strings.Contains(silent.Checks[0].Message, "did not answer GET /healthz") {
		t.Errorf("a service that never becomes ready: %+v", silent)
	}
}
