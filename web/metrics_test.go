package web

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// scrape reads /metrics as Prometheus on this host would.
func scrape(t *testing.T, a *testApp) string {
	t.Helper()
	resp, err := http.Get(a.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics from loopback: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return string(body)
}

// sample is the value of one series in a scrape (labels in name order, as
// the text format writes them), or 0 when it is not there.
func sample(text, series string) float64 {
	for _, line := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// TestMetricsAfterTraffic scrapes /metrics after pages, a 404, a lab
// launched and used, a live stream, a load run, a throttled login and a
// graded submission, and finds each figure moved by what was done.
func TestMetricsAfterTraffic(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStartGrading(t, be, ladderLab{limiter.Lab})
			before := scrape(t, a)
			b := MustRegister(t, a, "metrics@example.com")
			for range 3 {
				resp := b.get("/lessons")
				wantStatus(t, resp, http.StatusOK)
			}
			wantStatus(t, b.get("/no/such/page"), http.StatusNotFound)
			wantStatus(t, b.get("/lessons/no-such-lesson"), http.StatusNotFound)

			base, stopStream := metricsLabTraffic(t, a, b)
			throttledLogins(t, a)
			id := submitLadderStep(t, b, "limiter-step-one")
			if res := waitGraded(t, b, id); res["status"] != "graded" {
				t.Fatalf("not graded: %v", res)
			}
			a.advance(time.Minute) // past the cache of the database's counts
			after := scrape(t, a)
			stopStream()

			moved := func(series string, want float64) {
				t.Helper()
				if got := sample(after, series) - sample(before, series); got != want {
					t.Errorf("%s moved by %v, want %v", series, got, want)
				}
			}
			moved(`workbook_http_requests_total{method="GET",route="/lessons",status="2xx"}`, 3)
			moved(`workbook_http_request_duration_seconds_count{method="GET",route="/lessons"}`, 3)
			moved(`workbook_http_requests_total{method="GET",route="unmatched",status="4xx"}`, 1)
			moved(`workbook_http_requests_total{method="GET",route="/lessons/:slug",status="4xx"}`, 1)
			moved(`workbook_http_requests_total{method="POST",route="/api/labs/:lab/instances",status="2xx"}`, 1)
			moved(`workbook_http_requests_total{method="POST",route="/api/labs/:lab/instances/:id/*rest",status="2xx"}`, 3) // two requests, one load run
			moved(`workbook_lab_instances_running{lab="limiter"}`, 1)
			moved(`workbook_lab_load_runs_total{lab="limiter"}`, 1)
			moved(`workbook_sse_streams_open{kind="lab"}`, 1)
			moved(`workbook_throttled_attempts_total{action="login"}`, 1)
			moved(`workbook_submissions{status="graded"}`, 1)
			moved(`workbook_grading_duration_seconds_count{exercise="limiter-step-one",status="graded"}`, 1)
			moved(`workbook_grading_environment_start_seconds_count{kind="embedded"}`, 1)
			jobs := 0.0
			for _, line := range strings.Split(after, "\n") {
				if strings.HasPrefix(line, "workbook_grading_jobs{") {
					jobs += sample(line, line[:strings.LastIndexByte(line, ' ')])
				}
			}
			if jobs != 1 || sample(after, "workbook_grading_queue_depth") != 0 {
				t.Errorf("grading jobs %v (want the one, whatever its state), queue depth %v", jobs, sample(after, "workbook_grading_queue_depth"))
			}
			for _, s := range []string{"go_goroutines ", "go_memstats_heap_alloc_bytes ", "process_resident_memory_bytes "} {
				if !strings.Contains(after, "\n"+s) {
					t.Errorf("no %s in the scrape", s)
				}
			}
			if strings.Contains(after, "/no/such/page") || strings.Contains(after, base) {
				t.Error("a raw path is a label")
			}
		})
	}
}

// metricsLabTraffic launches a limiter instance, sends it two requests and
// a load run, and opens its live stream (until stop); it returns the
// instance's path.
func metricsLabTraffic(t *testing.T, a *testApp, b *browser) (base string, stop func()) {
	t.Helper()
	resp := b.api("POST", "/api/labs/limiter/instances", `{"algorithm": "fixed_window", "limit": 5, "window_ms": 60000}`)
	wantStatus(t, resp, http.StatusCreated)
	base = "/api/labs/limiter/instances/" + decodeJSON(t, resp)["id"].(string)
	for range 2 {
		wantStatus(t, b.api("POST", base+"/request?key=k", ""), http.StatusOK)
	}
	wantStatus(t, b.api("POST", base+"/load", `{"requests": 10, "concurrency": 2}`), http.StatusOK)

	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.URL+base+"/events", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	stream, err := b.c.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	// The first event is there: the stream is counted open.
	if line, err := bufio.NewReader(stream.Body).ReadString('\n'); err != nil || line != "event: init\n" {
		t.Fatalf("stream: %q %v", line, err)
	}
	return base, func() { cancel(); stream.Body.Close() }
}

// throttledLogins spends one address's guesses at an account and makes one
// more, which is refused.
func throttledLogins(t *testing.T, a *testApp) {
	t.Helper()
	form := url.Values{"email": {"metrics@example.com"}, "password": {"wrong password"}}
	codes := map[int]int{}
	for range 11 {
		codes[formPost(t, a, "/login", form, nil)]++
	}
	if codes[http.StatusTooManyRequests] != 1 {
		t.Fatalf("logins answered %v", codes)
	}
}

// submitLadderStep submits a design that passes the ladder lab's check.
func submitLadderStep(t *testing.T, b *browser, exercise string) string {
	t.Helper()
	resp := b.api("POST", "/api/labs/limiter/submissions",
		`{"exercise": "`+exercise+`", "design": {"algorithm": "fixed_window", "limit": 20, "window_ms": 1000, "storage": "redis"}}`)
	wantStatus(t, resp, http.StatusAccepted)
	return decodeJSON(t, resp)["id"].(string)
}

// TestMetricsAccess: loopback without a proxy's header, or the token from
// anywhere; anyone else, a wrong token included, gets the site's 404 page.
func TestMetricsAccess(t *testing.T) {
	const token = "a-metrics-token-of-some-length"
	a := MustStartLabs(t, testenv.Backends(t)[0], func(c *config.Config) { c.MetricsToken = token }, ladderLab{limiter.Lab})
	// No worker grades here: the submission waits in the queue.
	submitLadderStep(t, MustRegister(t, a, "queued@example.com"), "limiter-step-one")
	notFound := func() string {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/no-such-page", nil)
		req.Header.Set("X-Request-ID", "same")
		a.app.ServeHTTP(rec, req)
		return rec.Body.String()
	}()
	for _, c := range []struct {
		name, remote string
		header       map[string]string
		ok           bool
	}{
		{"loopback", "127.0.0.1:40000", nil, true},
		{"loopback v6", "[::1]:40000", nil, true},
		{"another host", "203.0.113.9:40000", nil, false},
		{"another host, right token", "203.0.113.9:40000", map[string]string{"Authorization": "Bearer " + token}, true},
		{"another host, wrong token", "203.0.113.9:40000", map[string]string{"Authorization": "Bearer " + token + "x"}, false},
		{"another host, token as basic", "203.0.113.9:40000", map[string]string{"Authorization": "Basic " + token}, false},
		{"loopback, wrong token", "127.0.0.1:40000", map[string]string{"Authorization": "Bearer nope"}, false},
		{"through a proxy on this host", "127.0.0.1:40000", map[string]string{"X-Forwarded-For": "198.51.100.7"}, false},
		{"a forged forwarded-for", "203.0.113.9:40000", map[string]string{"X-Forwarded-For": "127.0.0.1"}, false},
	} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.RemoteAddr = c.remote
		req.Header.Set("X-Request-ID", "same")
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		a.app.ServeHTTP(rec, req)
		body := rec.Body.String()
		switch {
		case c.ok && (rec.Code != http.StatusOK || sample(body, "workbook_grading_queue_depth") != 1 ||
			sample(body, `workbook_submissions{status="queued"}`) != 1):
			t.Errorf("%s: %d, want the metrics with one submission queued\n%.300s", c.name, rec.Code, body)
		case !c.ok && (rec.Code != http.StatusNotFound || body != notFound):
			t.Errorf("%s: %d, want the 404 page\n%.300s", c.name, rec.Code, body)
		}
	}
}
