package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/grader"
	"github.com/sdworkbook/workbook/internal/app"
	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// `server grader` on its own grades what a web replica enqueued, through
// the shared PostgreSQL and Redis, and stops cleanly.
func TestGraderCommandGradesWhatTheWebEnqueues(t *testing.T) {
	dbURL, redisURL := testenv.PostgresURL(t), testenv.RedisURL(t)
	env := map[string]string{"DATABASE_URL": dbURL, "REDIS_URL": redisURL, "WORKBOOK_DATA_DIR": t.TempDir(),
		"WORKBOOK_GRADER_WORKERS": "1", "WORKBOOK_GRADER_ENVIRONMENT": "embedded", "WORKBOOK_LOG_FORMAT": "json"}

	var errb syncBuffer
	bad := map[string]string{}
	for k, v := range env {
		bad[k] = v
	}
	bad["WORKBOOK_GRADER_WORKERS"] = "0"
	if code := run(context.Background(), []string{"grader"}, config.MapEnv(bad), io.Discard, &errb); code != exitFail ||
		!strings.Contains(errb.String(), "WORKBOOK_GRADER_WORKERS") {
		t.Errorf("grader with no workers: exit %d, %q", code, errb.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t.Setenv("TMPDIR", t.TempDir()) // where the grader says it is healthy
	var logs syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"grader"}, config.MapEnv(env), io.Discard, &logs) }()

	// The web side: the same database and Redis, enqueueing only. Both
	// sides migrate at start, as replicas do; the locks keep them apart.
	cfg, err := config.Load(config.MapEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	side, err := app.Open(context.Background(), cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Grader: func(o *grader.Options) { o.Workers = 0 }})
	if err != nil {
		t.Fatal(err)
	}
	defer side.Close()
	st, web := side.Store, side.Grader
	u, err := st.CreateUser(context.Background(), "worker@example.com", "x", store.RoleLearner)
	if err != nil {
		t.Fatal(err)
	}
	design, _ := json.Marshal(map[string]any{"algorithm": "sliding_log", "limit": 20, "window_ms": 2000})
	sub, err := web.Submit(context.Background(), u.ID, "limiter", grader.Request{Design: design})
	if err != nil {
		t.Fatal(err)
	}
	changes, stop, err := web.Watch(context.Background(), sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	res, heard := followGrading(t, web, changes, sub.ID, u.ID)
	if res.Status != store.StatusGraded || *res.Score != 100 || !strings.HasPrefix(res.Environment, "Graded on the built-in Redis") {
		t.Fatalf("graded by the grader process: %s %v %q\n%s", res.Status, res.Score, res.Environment, logs.String())
	}
	if heard < 2 {
		t.Errorf("heard %d progress messages over Redis from the grader process", heard)
	}
	checkGraderHealth(t, env)
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("grader exit %d:\n%s", code, logs.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("the grader did not stop")
	}
	checkJSONLog(t, logs.String())
	if code := healthcheck(config.MapEnv(env), io.Discard); code == exitOK {
		t.Error("healthcheck passes for a grader that has stopped")
	}
	if !strings.Contains(logs.String(), `"msg":"submission graded"`) || !strings.Contains(logs.String(), `"score":100`) {
		t.Errorf("no graded line with its score in the log:\n%s", logs.String())
	}
}

// checkJSONLog fails when a line of a JSON log is not an object, repeats a
// key at its top level, or holds a pointer's address.
func checkJSONLog(t *testing.T, log string) {
	t.Helper()
	for line := range strings.Lines(log) {
		dec := json.NewDecoder(strings.NewReader(line))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Errorf("not a JSON object: %q", line)
			continue
		}
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				t.Errorf("%v: %q", err, line)
				break
			}
			key, _ := k.(string)
			if seen[key] {
				t.Errorf("key %q twice: %s", key, line)
			}
			seen[key] = true
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Errorf("%v: %q", err, line)
				break
			}
			if strings.Contains(string(v), `"0x`) {
				t.Errorf("a pointer's address as %q: %s", key, line)
			}
		}
	}
}

// followGrading reads the submission's result at each message heard, or
// every 200 ms, until it is final or two minutes have passed; it returns
// the last result and how many messages were heard.
func followGrading(t *testing.T, g *grader.Grader, changes <-chan string, id string, userID int64) (grader.Result, int) {
	t.Helper()
	heard := 0
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-changes:
			heard++
		case <-time.After(200 * time.Millisecond):
		}
		res, err := g.Submission(context.Background(), id, userID)
		if err != nil {
			t.Fatal(err)
		}
		if res.Terminal() || time.Now().After(deadline) {
			return res, heard
		}
	}
}

// checkGraderHealth: `server healthcheck` in a running grader's container
// passes while it finds the database and Redis answering, and fails once
// it has not said so for longer than graderStale.
func checkGraderHealth(t *testing.T, env map[string]string) {
	t.Helper()
	var errb syncBuffer
	if code := healthcheck(config.MapEnv(env), &errb); code != exitOK {
		t.Errorf("healthcheck of a running grader: exit %d: %s", code, errb.String())
	}
	old := time.Now().Add(-2 * graderStale)
	if err := os.Chtimes(graderAliveFile(), old, old); err != nil {
		t.Fatal(err)
	}
	errb = syncBuffer{}
	if code := healthcheck(config.MapEnv(env), &errb); code != exitFail || !strings.Contains(errb.String(), "database and Redis") {
		t.Errorf("healthcheck of a grader silent for %v: exit %d: %s", 2*graderStale, code, errb.String())
	}
}
