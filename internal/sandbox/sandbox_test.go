package sandbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/containers"
	"github.com/sdworkbook/workbook/internal/sandbox"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// getJSON GETs url and decodes its JSON answer.
func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		m = map[string]any{"raw": string(b)}
	}
	return resp.StatusCode, m
}

// build builds dir for a test's job, failing the test on a failure.
func build(t *testing.T, e *sandbox.Engine, job, dir, lang string) sandbox.Image {
	t.Helper()
	img, err := e.Build(context.Background(), job, sandbox.Source{Dir: dir, Language: lang})
	if err != nil {
		if le, ok := err.(*sandbox.LearnerError); ok {
			t.Fatalf("build %s: %s\n%s", dir, le.Reason, le.Log)
		}
		t.Fatalf("build %s: %v", dir, err)
	}
	return img
}

// startJob starts a job and closes it when the test ends, asserting that
// nothing labelled for it remains.
func startJob(t *testing.T, e *sandbox.Engine, spec sandbox.JobSpec) *sandbox.Job {
	t.Helper()
	j, err := e.StartJob(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for k, v := range j.Logs() {
				t.Logf("── %s ──\n%s", k, v)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := j.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		assertNothingLeft(t, spec.ID)
	})
	return j
}

func TestMain(m *testing.M) {
	containers.PrepareReaper(context.Background())
	os.Exit(m.Run())
}

// A Python service builds from plain sources and runs as replicas behind
// one address, round-robin, each with its own REPLICA_ID, on the job's
// Redis and PostgreSQL and its downstream handler; a launch starts on a
// fresh Redis database and PostgreSQL database; a killed replica comes
// back at the same address; a paused Redis hangs until healed; and the
// replicas run as nobody on a read-only root with a writable /tmp.
func TestPythonServiceRunsInTheSandbox(t *testing.T) {
	t.Parallel() // each mostly waits on containers
	w := startProbe(t, map[string]string{"GREETING": "hello"})
	svc, err := w.j.Launch(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("environment and round-robin", func(t *testing.T) { checkEnvironment(t, svc) })
	t.Run("shared Redis and PostgreSQL", func(t *testing.T) { checkShared(t, svc) })
	t.Run("downstream", func(t *testing.T) {
		st, m := getJSON(t, svc.Base+"/down")
		if st != 200 || m["body"] != "downstream saw /called?from=1" || w.calls.Load() != 1 {
			t.Errorf("downstream: %d %v (calls %d)", st, m, w.calls.Load())
		}
	})
	t.Run("filesystem", func(t *testing.T) {
		_, m := getJSON(t, svc.Base+"/write")
		if m["/tmp/x"] != "written" || m["/x"] == "written" || m["/app/x"] == "written" {
			t.Errorf("writes: %v", m)
		}
	})
	t.Run("kill and start", func(t *testing.T) { checkKillStart(t, svc) })
	t.Run("paused Redis", func(t *testing.T) { checkPause(t, w.j, svc) })
	t.Run("launcher", func(t *testing.T) { checkLauncher(t, w) })
	t.Run("a fresh launch starts empty", func(t *testing.T) { checkFresh(t, w.j, svc) })
	logs := w.j.Logs()
	if !strings.Contains(logs["replica-1"], "listening on 8080") || !strings.Contains(logs["replica-2"], "listening on 8080") || logs["build"] == "" {
		t.Errorf("logs: %v", logs)
	}
}

// probeWorld is a job running the probe service, with a downstream handler
// that counts its calls.
type probeWorld struct {
	e     *sandbox.Engine
	j     *sandbox.Job
	calls *atomic.Int64
}

// startProbe builds the probe service and starts a job of it with Redis,
// PostgreSQL and a downstream handler.
func startProbe(t *testing.T, env map[string]string) probeWorld {
	t.Helper()
	e := labtest.Sandbox(t)
	job := labtest.JobID(t)
	img := build(t, e, job, "testdata/probe", sandbox.LangPython)
	calls := new(atomic.Int64)
	down := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		fmt.Fprintf(w, "downstream saw %s", r.URL.RequestURI())
	})
	j := startJob(t, e, sandbox.JobSpec{ID: job, Image: img, Redis: true, Postgres: true, Downstream: down, Env: env})
	return probeWorld{e: e, j: j, calls: calls}
}

func checkEnvironment(t *testing.T, svc *sandbox.Service) {
	var ids []any
	for range 4 {
		_, m := getJSON(t, svc.Base+"/env")
		ids = append(ids, m["REPLICA_ID"])
		if m["PORT"] != "8080" || m["GREETING"] != "hello" || m["DOWNSTREAM_URL"] != "http://downstream" || m["uid"] != 65534.0 {
			t.Errorf("environment: %v", m)
		}
		if !strings.HasPrefix(fmt.Sprint(m["REDIS_URL"]), "redis://:") || !strings.HasPrefix(fmt.Sprint(m["DATABASE_URL"]), "postgres://learner:") {
			t.Errorf("URLs: %v", m)
		}
	}
	if fmt.Sprint(ids) != "[1 2 1 2]" {
		t.Errorf("replicas answering in turn: %v", ids)
	}
	for i, u := range svc.Replicas() {
		if _, m := getJSON(t, u+"/env"); m["REPLICA_ID"] != fmt.Sprint(i+1) {
			t.Errorf("replica %d's own address answered as %v", i+1, m["REPLICA_ID"])
		}
	}
}

func checkShared(t *testing.T, svc *sandbox.Service) {
	for want := 1; want <= 3; want++ {
		if st, m := getJSON(t, svc.Base+"/redis"); st != 200 || m["count"] != float64(want) {
			t.Errorf("redis hit %d: %d %v", want, st, m)
		}
		if st, m := getJSON(t, svc.Base+"/pg"); st != 200 || m["count"] != float64(want) {
			t.Errorf("postgres hit %d: %d %v", want, st, m)
		}
	}
}

func checkKillStart(t *testing.T, svc *sandbox.Service) {
	ctx := context.Background()
	if err := svc.Kill(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if st, _ := getJSON(t, svc.Replicas()[0]+"/healthz"); st != http.StatusBadGateway && st != http.StatusGatewayTimeout {
		t.Errorf("a killed replica answered %d", st)
	}
	if err := svc.Start(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if st, m := getJSON(t, svc.Replicas()[0]+"/redis"); st != 200 || m["count"] != 4.0 {
		t.Errorf("after a restart, Redis: %d %v", st, m)
	}
}

func checkPause(t *testing.T, j *sandbox.Job, svc *sandbox.Service) {
	ctx := context.Background()
	heal, err := j.Pause(ctx, sandbox.DepRedis)
	if err != nil {
		t.Fatal(err)
	}
	if st, m := getJSON(t, svc.Base+"/redis"); st != 500 || !strings.Contains(fmt.Sprint(m["error"]), "Timeout") {
		t.Errorf("paused Redis: %d %v", st, m)
	}
	if err := heal(ctx); err != nil {
		t.Fatal(err)
	}
	if st, m := getJSON(t, svc.Base+"/redis"); st != 200 || m["count"] != 5.0 {
		t.Errorf("healed Redis: %d %v", st, m)
	}
}

func checkFresh(t *testing.T, j *sandbox.Job, svc *sandbox.Service) {
	ctx := context.Background()
	if err := svc.Close(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := j.Launch(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close(ctx)
	if _, m := getJSON(t, again.Base+"/redis"); m["count"] != 1.0 {
		t.Errorf("redis in a new launch: %v", m)
	}
	if _, m := getJSON(t, again.Base+"/pg"); m["count"] != 1.0 {
		t.Errorf("postgres in a new launch: %v", m)
	}
}

// A Go service builds offline from plain sources with the client
// libraries of the Go base image.
func TestGoServiceBuildsOffline(t *testing.T) {
	t.Parallel() // each mostly waits on containers
	e := labtest.Sandbox(t)
	job := labtest.JobID(t)
	img := build(t, e, job, "testdata/gosvc", sandbox.LangGo)
	j := startJob(t, e, sandbox.JobSpec{ID: job, Image: img, Redis: true, Postgres: true})
	svc, err := j.Launch(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if st, m := getJSON(t, svc.Base+"/redis"); st != 200 || m["count"] != 1.0 {
		t.Errorf("redis: %d %v", st, m)
	}
	if st, m := getJSON(t, svc.Base+"/pg"); st != 200 || m["count"] != 1.0 {
		t.Errorf("postgres: %d %v", st, m)
	}
}

// checkLauncher drives the job through a Launcher as a lab's checks do:
// replicas and a downstream per launch, a restart, a paused Redis, and
// Close healing and stopping what is left.
func checkLauncher(t *testing.T, w probeWorld) {
	ctx := context.Background()
	l := sandbox.NewLauncher(w.j, 2)
	for _, c := range []labs.Capability{labs.Replicas, labs.Restart, labs.Faults} {
		if !l.Can(c) {
			t.Errorf("the launcher cannot %s", c)
		}
	}
	own := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "this launch's own") })
	tg, err := l.Launch(ctx, map[string]any{"replicas": 3, "downstream": own, "failure_threshold": 5})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 3 {
		_, m := getJSON(t, tg.URL("/env"))
		ids = append(ids, fmt.Sprint(m["REPLICA_ID"]))
	}
	if strings.Join(ids, " ") != "1 2 3" {
		t.Errorf("3 replicas in turn: %v", ids)
	}
	if _, m := getJSON(t, tg.URL("/down")); m["body"] != "this launch's own" {
		t.Errorf("the launch's downstream: %v", m)
	}
	if err := tg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	heal, err := tg.Inject(ctx, labs.Fault{Kind: labs.RedisDown})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := getJSON(t, tg.URL("/redis")); st != 500 {
		t.Errorf("Redis down: %d", st)
	}
	_ = heal // Close heals it
	if _, err := tg.Inject(ctx, labs.Fault{Kind: labs.RedisSlow}); !errors.Is(err, labs.ErrUnsupported) {
		t.Errorf("a slow Redis: %v", err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get(tg.URL("/healthz")); err == nil {
		resp.Body.Close()
		t.Errorf("a closed launcher's service still answers: %d", resp.StatusCode)
	}
	tg, err = l.Launch(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	if _, m := getJSON(t, tg.URL("/down")); m["body"] != "downstream saw /called?from=1" {
		t.Errorf("the job's own downstream again: %v", m)
	}
	if st, m := getJSON(t, tg.URL("/redis")); st != 200 || m["count"] != 1.0 {
		t.Errorf("Redis healed by Close, fresh for the launch: %d %v", st, m)
	}
}
