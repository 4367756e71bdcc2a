package labtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/containers"
	"github.com/sdworkbook/workbook/internal/sandbox"
	"github.com/sdworkbook/workbook/labs"
)

// BuildOption changes how BuildService runs the service.
type BuildOption func(*buildOptions)

type buildOptions struct {
	downstream http.Handler
}

// WithDownstream serves h at the service's DOWNSTREAM_URL (an exercise
// whose Build has Downstream); a launch may still bring its own handler
// with the change "downstream" (see sandbox.Launcher).
func WithDownstream(h http.Handler) BuildOption {
	return func(o *buildOptions) { o.downstream = h }
}

// Sandbox returns a sandbox engine on the Docker host, with the images the
// environment names (WORKBOOK_GO_IMAGE, WORKBOOK_PYTHON_IMAGE,
// WORKBOOK_REDIS_IMAGE, WORKBOOK_POSTGRES_IMAGE) or the locally built
// ones. It skips the test when no Docker engine answers, unless
// WORKBOOK_REQUIRE_DOCKER is set, and fails it when an image is missing.
func Sandbox(tb testing.TB) *sandbox.Engine {
	tb.Helper()
	ctx := context.Background()
	var de containers.Engine
	if err := de.Check(ctx); err != nil {
		if os.Getenv("WORKBOOK_REQUIRE_DOCKER") == "" {
			tb.Skipf("no Docker engine answers, so the learner's service cannot be built (%v); set WORKBOOK_REQUIRE_DOCKER=1 to fail instead", err)
		}
		tb.Fatalf("no Docker engine answers (WORKBOOK_REQUIRE_DOCKER is set): %v", err)
	}
	e, err := sandbox.New(ctx, sandbox.Options{
		Owner:         "test-" + randomID(),
		Log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		GoImage:       os.Getenv("WORKBOOK_GO_IMAGE"),
		PythonImage:   os.Getenv("WORKBOOK_PYTHON_IMAGE"),
		RedisImage:    os.Getenv("WORKBOOK_REDIS_IMAGE"),
		PostgresImage: os.Getenv("WORKBOOK_POSTGRES_IMAGE"),
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = e.Close() })
	if err := e.CheckImages(ctx); err != nil {
		tb.Fatal(err)
	}
	return e
}

// BuildService builds the service in dir (plain sources in lang, or a
// Dockerfile when lang is ""), starts a sandbox job as ex's Build asks
// (Redis, PostgreSQL, a downstream dependency, its environment) and
// returns a launcher of its services for labs.RunOn. Each Launch starts
// changes["replicas"] replicas (default ex.Build.Replicas). The job is
// removed when the test ends; a failed test logs the build's and the
// replicas' logs. A service that does not build fails the test.
func BuildService(t testing.TB, ex labs.Exercise, dir, lang string, opts ...BuildOption) *sandbox.Launcher {
	t.Helper()
	if ex.Build == nil {
		t.Fatalf("exercise %s is not a build exercise", ex.ID)
	}
	var o buildOptions
	for _, f := range opts {
		f(&o)
	}
	e := Sandbox(t)
	ctx := context.Background()
	job := JobID(t)
	img, err := e.Build(ctx, job, sandbox.Source{Dir: dir, Language: lang})
	if err != nil {
		var le *sandbox.LearnerError
		if errors.As(err, &le) {
			t.Fatalf("%s (%s): %s\nbuild log:\n%s", dir, lang, le.Reason, le.Log)
		}
		t.Fatalf("%s (%s): build: %v", dir, lang, err)
	}
	spec := sandbox.JobSpec{ID: job, Image: img, Redis: ex.Build.Redis, Postgres: ex.Build.Postgres,
		Env: ex.Build.Env, Deadline: time.Now().Add(time.Hour)}
	if ex.Build.Downstream {
		spec.Downstream = o.downstream
		if spec.Downstream == nil {
			spec.Downstream = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "no downstream handler for this launch", http.StatusServiceUnavailable)
			})
		}
	}
	j, err := e.StartJob(ctx, spec)
	if err != nil {
		t.Fatalf("start the sandbox job: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for name, text := range j.Logs() {
				t.Logf("── %s log ──\n%s", name, text)
			}
		}
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := j.Close(cctx); err != nil {
			t.Errorf("close the sandbox job: %v", err)
		}
	})
	return sandbox.NewLauncher(j, ex.Build.Replicas)
}

var unsafeJob = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// JobID is a job id for the test: its name and a random suffix.
func JobID(tb testing.TB) string {
	name := unsafeJob.ReplaceAllString(tb.Name(), "-")
	if len(name) > 30 {
		name = name[len(name)-30:]
	}
	return "test-" + name + "-" + randomID()
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
