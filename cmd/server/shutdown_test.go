package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// Live streams of every kind (a lab instance's charts, a submission's
// grading) end when the server is told to stop, each with a reconnection
// delay for the browser, and the server exits 0 without waiting for them:
// before, one open chart held the graceful shutdown until its deadline
// and the process exited 1.
func TestShutdownEndsLiveStreams(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			addr := freeAddr(t)
			env := config.MapEnv(map[string]string{
				"WORKBOOK_ADDR": addr, "WORKBOOK_DATA_DIR": be.DataDir,
				"DATABASE_URL": be.DatabaseURL, "REDIS_URL": be.RedisURL,
				// Submissions stay queued, so their streams stay open.
				"WORKBOOK_GRADER_WORKERS": "0",
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			logs := &syncBuffer{}
			done := make(chan int, 1)
			go func() { done <- run(ctx, nil, env, logs, logs) }()
			base := "http://" + addr
			waitReady(t, base, logs)

			c := signedIn(t, base)
			const labStreams, gradingStreams = 4, 3
			var streams []*bufio.Reader
			lab := postJSON(t, c, base, "/api/labs/limiter/instances", `{"algorithm":"fixed_window","limit":10}`)
			for range labStreams { // several tabs on one instance
				streams = append(streams, openStream(t, c, base+"/api/labs/limiter/instances/"+lab+"/events", "event: init"))
			}
			for range gradingStreams {
				id := postJSON(t, c, base, "/api/labs/limiter/submissions",
					`{"exercise":"limiter-api-quota","design":{"algorithm":"sliding_log","limit":20,"window_ms":2000}}`)
				streams = append(streams, openStream(t, c, base+"/api/submissions/"+id+"/events", "event: update"))
			}

			began := time.Now()
			cancel() // what SIGTERM does through signal.NotifyContext
			var code int
			select {
			case code = <-done:
			case <-time.After(time.Minute):
				t.Fatalf("the server did not stop; logs:\n%s", logs.String())
			}
			t.Logf("stopped with %d open streams in %v", len(streams), time.Since(began).Round(time.Millisecond))
			if code != 0 || !strings.Contains(logs.String(), "stopped cleanly") {
				t.Fatalf("exit %d; logs:\n%s", code, logs.String())
			}
			for i, r := range streams {
				if rest := readAll(r); !strings.Contains(rest, fmt.Sprintf("retry: %d", 1000)) {
					t.Errorf("stream %d ended without a reconnection delay: %q", i, rest)
				}
			}
		})
	}
}

// waitReady waits until base answers /readyz with 200.
func waitReady(t *testing.T, base string, logs *syncBuffer) {
	t.Helper()
	for range 1200 { // up to a minute on a loaded machine
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("never ready; logs:\n%s", logs.String())
}

// signedIn is a client with the session of a newly registered learner.
func signedIn(t *testing.T, base string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := url.Values{"email": {"streams@example.com"}, "password": {"correct horse battery staple"}}
	req, _ := http.NewRequest(http.MethodPost, base+"/register", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("register: %d", resp.StatusCode)
	}
	return c
}

// postJSON posts body to path and returns the "id" of the answer.
func postJSON(t *testing.T, c *http.Client, base, path, body string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || v.ID == "" || resp.StatusCode >= 300 {
		t.Fatalf("POST %s: %d, %v", path, resp.StatusCode, err)
	}
	return v.ID
}

// openStream opens an event stream and reads it up to the line want.
func openStream(t *testing.T, c *http.Client, u, want string) *bufio.Reader {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	r := bufio.NewReader(resp.Body)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("GET %s: the stream ended before %q: %v", u, want, err)
		}
		if strings.TrimSpace(line) == want {
			return r
		}
	}
}

// readAll reads what is left of a stream until it ends.
func readAll(r *bufio.Reader) string {
	var b strings.Builder
	_, _ = r.WriteTo(&b)
	return b.String()
}
