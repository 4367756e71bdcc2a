package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// gather returns the registry's series as "name{label=value,…}" → value.
func gather(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, s := range mf.GetMetric() {
			var labels []string
			for _, l := range s.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = value(s)
		}
	}
	return out
}

func value(s *dto.Metric) float64 {
	switch {
	case s.Counter != nil:
		return s.Counter.GetValue()
	case s.Gauge != nil:
		return s.Gauge.GetValue()
	case s.Histogram != nil:
		return float64(s.Histogram.GetSampleCount())
	}
	return 0
}

func TestRequestsByRoutePattern(t *testing.T) {
	m := New()
	m.HTTP.SetRoutes([]Route{{"GET", "/lessons/:slug"}, {"POST", "/login"}})
	m.HTTP.Observe("/lessons/:slug", "GET", 200, time.Millisecond, false)
	m.HTTP.Observe("/lessons/:slug", "GET", 404, time.Millisecond, false)
	m.HTTP.Observe("/login", "POST", 303, time.Millisecond, false)
	m.HTTP.Observe("", "GET", 404, time.Millisecond, false)
	m.HTTP.Observe("", "BREW", 405, time.Millisecond, false)
	m.HTTP.Observe("", "PROPFIND", 405, time.Millisecond, false)
	m.HTTP.Observe("/lessons/:slug", "GET", 200, time.Hour, true) // a stream: counted, not timed
	got := gather(t, m)
	for series, want := range map[string]float64{
		"workbook_http_requests_total{method=GET,route=/lessons/:slug,status=2xx}":   2,
		"workbook_http_requests_total{method=GET,route=/lessons/:slug,status=4xx}":   1,
		"workbook_http_requests_total{method=POST,route=/login,status=3xx}":          1,
		"workbook_http_requests_total{method=GET,route=unmatched,status=4xx}":        1,
		"workbook_http_requests_total{method=other,route=unmatched,status=4xx}":      2,
		"workbook_http_request_duration_seconds{method=GET,route=/lessons/:slug}":    2,
		"workbook_http_request_duration_seconds{method=other,route=unmatched}":       2,
		"workbook_http_requests_total{method=GET,route=/lessons/:slug,status=5xx}":   0,
		"workbook_http_request_duration_seconds{method=POST,route=/login}":           1,
		"workbook_http_request_duration_seconds{method=GET,route=unmatched}":         1,
		"workbook_http_requests_total{method=POST,route=/lessons/:slug,status=2xx}":  0,
		"workbook_http_requests_total{method=BREW,route=unmatched,status=4xx}":       0,
		"workbook_http_requests_total{method=PROPFIND,route=unmatched,status=4xx}":   0,
		"workbook_http_request_duration_seconds{method=PROPFIND,route=unmatched}":    0,
		"workbook_http_request_duration_seconds{method=GET,route=/lessons/no-such}":  0,
		"workbook_http_requests_total{method=GET,route=/lessons/no-such,status=4xx}": 0,
	} {
		if got[series] != want {
			t.Errorf("%s = %v, want %v", series, got[series], want)
		}
	}
}

// TestObserveAllocatesNothing: once a route's series exist, recording a
// request allocates nothing (the middleware runs on every request).
func TestObserveAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m := New()
	m.HTTP.SetRoutes([]Route{{"GET", "/s/:code"}})
	m.HTTP.Observe("/s/:code", "GET", 301, time.Millisecond, false)
	m.HTTP.Observe("", "GET", 404, time.Millisecond, false)
	for _, c := range []struct {
		route string
		code  int
	}{{"/s/:code", 301}, {"", 404}} {
		if n := testing.AllocsPerRun(200, func() { m.HTTP.Observe(c.route, "GET", c.code, time.Millisecond, false) }); n != 0 {
			t.Errorf("%q: %v allocations per request", c.route, n)
		}
	}
}

func TestScrapeTimeGauges(t *testing.T) {
	m := New()
	now := time.Unix(1000, 0)
	calls, fail := 0, false
	m.Watch(Sources{
		LabInstances: func() map[string]int { return map[string]int{"limiter": 2, "cache": 0} },
		Grading: func(context.Context) (GradingCounts, error) {
			calls++
			if fail {
				return GradingCounts{}, errors.New("database gone")
			}
			return GradingCounts{Submissions: map[string]int64{"queued": 3, "graded": int64(calls)},
				Jobs: map[string]int64{"available": 2, "retryable": 1, "running": 4, "completed": 9}}, nil
		},
		Now: func() time.Time { return now },
	})
	got := gather(t, m)
	if got["workbook_lab_instances_running{lab=limiter}"] != 2 || got["workbook_grading_queue_depth{}"] != 3 ||
		got["workbook_grading_jobs{state=running}"] != 4 || got["workbook_submissions{status=queued}"] != 3 {
		t.Fatalf("first scrape: %v", got)
	}
	gather(t, m)
	if calls != 1 {
		t.Fatalf("two scrapes within the cache's life counted %d times", calls)
	}
	now = now.Add(11 * time.Second)
	if got = gather(t, m); calls != 2 || got["workbook_submissions{status=graded}"] != 2 {
		t.Fatalf("after the cache's life: %d counts, %v", calls, got)
	}
	fail = true
	now = now.Add(11 * time.Second)
	got = gather(t, m)
	if _, ok := got["workbook_grading_queue_depth{}"]; ok || got["workbook_lab_instances_running{lab=limiter}"] != 2 {
		t.Fatalf("a failed count: %v", got)
	}
}

// TestDashboardQueriesExist: the Grafana dashboard parses, and every
// metric its queries name is one this registry exports.
func TestDashboardQueriesExist(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/grafana/workbook.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("deploy/grafana/workbook.json: %v", err)
	}
	exported := exportedNames(t)
	used := map[string]bool{}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			names := metricNames(tg.Expr)
			if len(names) == 0 {
				t.Errorf("panel %q: no metric in %q", p.Title, tg.Expr)
			}
			for _, n := range names {
				used[n] = true
				if !exported[n] {
					t.Errorf("panel %q queries %s, which /metrics does not export", p.Title, n)
				}
			}
		}
	}
	for _, want := range []string{"workbook_http_requests_total", "workbook_http_request_duration_seconds_bucket",
		"workbook_grading_queue_depth", "workbook_grading_duration_seconds_bucket", "workbook_lab_instances_running",
		"workbook_sse_streams_open", "workbook_throttled_attempts_total", "go_goroutines", "go_memstats_heap_alloc_bytes"} {
		if !used[want] {
			t.Errorf("no panel shows %s", want)
		}
	}
}

// exportedNames are the names of every series the registry can export,
// histograms' _bucket, _sum and _count included: each metric recorded
// once, so that its vector has a series.
func exportedNames(t *testing.T) map[string]bool {
	m := New()
	m.HTTP.Observe("", "GET", 200, time.Millisecond, false)
	m.StreamOpened("lab")
	m.LoadRunStarted("limiter")
	m.Throttled("login")
	m.Graded("ex", "graded", time.Second)
	m.EnvironmentStarted("embedded", time.Second)
	m.Watch(Sources{LabInstances: func() map[string]int { return map[string]int{"limiter": 1} },
		Grading: func(context.Context) (GradingCounts, error) {
			return GradingCounts{Submissions: map[string]int64{"queued": 1}, Jobs: map[string]int64{"available": 1}}, nil
		}})
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, mf := range mfs {
		n := mf.GetName()
		out[n] = true
		if mf.GetType() == dto.MetricType_HISTOGRAM || mf.GetType() == dto.MetricType_SUMMARY {
			out[n+"_bucket"], out[n+"_sum"], out[n+"_count"] = true, true, true
		}
	}
	return out
}

var (
	selector   = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{\[]`)
	prefixed   = regexp.MustCompile(`\b((?:workbook|go|process)_[a-zA-Z0-9_:]+)`)
	quoted     = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	notMetrics = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true}
)

// metricNames are the metric names a PromQL expression selects: names
// before a label matcher or a range, and any name with the workbook's, Go's
// or the process's prefix. Label values in quotes are skipped.
func metricNames(expr string) []string {
	expr = quoted.ReplaceAllString(expr, `""`)
	set := map[string]bool{}
	for _, m := range selector.FindAllStringSubmatch(expr, -1) {
		if !notMetrics[m[1]] && !strings.HasPrefix(m[1], "$") {
			set[m[1]] = true
		}
	}
	for _, m := range prefixed.FindAllStringSubmatch(expr, -1) {
		set[m[1]] = true
	}
	var out []string
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func TestMetricNames(t *testing.T) {
	got := metricNames(`histogram_quantile(0.95, sum by (route, le) (rate(workbook_x_bucket{route!~"go_fake|a{b}"}[5m]))) / up{job="x"} + go_goroutines`)
	if strings.Join(got, " ") != "go_goroutines up workbook_x_bucket" {
		t.Fatalf("%v", got)
	}
}

// BenchmarkObserve is what the request middleware adds to a request.
func BenchmarkObserve(b *testing.B) {
	m := New()
	m.HTTP.SetRoutes([]Route{{"GET", "/s/:code"}})
	b.ReportAllocs()
	for b.Loop() {
		m.HTTP.Observe("/s/:code", "GET", 301, time.Millisecond, false)
	}
}
