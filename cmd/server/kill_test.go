package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// serveChildEnv makes the test binary run the server, so a test can kill
// it with SIGKILL as an operator's crash would.
const serveChildEnv = "WORKBOOK_TEST_SERVE_CHILD"

// serveChild runs the server from the environment when the test binary
// was started as one, and reports whether it was.
func serveChild() bool {
	if os.Getenv(serveChildEnv) == "" {
		return false
	}
	os.Exit(run(context.Background(), nil, os.LookupEnv, os.Stderr, os.Stderr))
	return true
}

func startServer(t *testing.T, env []string, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), serveChildEnv+"=1"), env...)
	logs, err := os.CreateTemp(t.TempDir(), "server-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd
			}
		}
		if i > 1200 {
			b, _ := os.ReadFile(logs.Name())
			t.Fatalf("the server never became ready:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The only process of the embedded default is killed (SIGKILL) while it
// grades a submission; started again on the same data, it grades the
// interrupted submission again as soon as the dead run's lease runs out,
// not after the queue's long rescue delay. The time from the restart to
// the result is logged; the verdict is the submission's final state, not
// a stopwatch.
func TestKilledServerGradesTheInterruptedSubmissionAfterRestart(t *testing.T) {
	addr := freeAddr(t)
	env := []string{"WORKBOOK_ADDR=" + addr, "WORKBOOK_DATA_DIR=" + t.TempDir(), "DATABASE_URL=", "REDIS_URL=",
		"WORKBOOK_GRADER_WORKERS=1", "WORKBOOK_GRADER_ENVIRONMENT=embedded",
		// The queue rescues a job only after the timeout and a minute: far
		// beyond the backstop below, so only the lease can pass this test.
		"WORKBOOK_GRADER_TIMEOUT=10m"}
	first := startServer(t, env, addr)

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	base := "http://" + addr
	resp, err := c.PostForm(base+"/register", url.Values{"email": {"crash@example.org"}, "password": {"correct horse battery"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	body := `{"exercise":"limiter-api-quota","design":{"algorithm":"sliding_log","limit":20,"window_ms":2000}}`
	resp, err = c.Post(base+"/api/labs/limiter/submissions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var sub struct{ ID string }
	_ = json.NewDecoder(resp.Body).Decode(&sub)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || sub.ID == "" {
		t.Fatalf("submit: %d %+v", resp.StatusCode, sub)
	}
	status := func() (string, int) {
		resp, err := c.Get(base + "/api/submissions/" + sub.ID)
		if err != nil {
			return "", 0
		}
		defer resp.Body.Close()
		var r struct {
			Status string
			Checks []json.RawMessage
		}
		_ = json.NewDecoder(resp.Body).Decode(&r)
		return r.Status, len(r.Checks)
	}
	// Kill it in the middle of the suite.
	for i := 0; ; i++ {
		if st, _ := status(); st == "running" {
			break
		} else if st == "graded" || i > 2400 {
			t.Fatalf("never caught the submission running (status %q)", st)
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()

	restarted := time.Now()
	startServer(t, env, addr)
	// The session lives in the database, so the learner is still signed in.
	for {
		st, n := status()
		if st == "graded" {
			t.Logf("restart to graded: %.1f s (%d checks)", time.Since(restarted).Seconds(), n)
			break
		}
		if st == "not_gradable" || st == "timed_out" {
			t.Fatalf("after the restart the submission ended %s", st)
		}
		// A backstop for a hang only: the queue's own rescue would come
		// after minutes, the lease after seconds.
		if time.Since(restarted) > 150*time.Second {
			t.Fatalf("still %s %s after the restart", st, fmt.Sprint(time.Since(restarted).Round(time.Second)))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
