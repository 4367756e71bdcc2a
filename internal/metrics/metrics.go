// Package metrics holds the workbook's Prometheus metrics: a private
// registry (never the global default), the vectors the parts record into
// through small hooks, and gauges read when Prometheus scrapes.
//
// The parts do not import this package: the app hands them functions
// (grader hooks, the limiter's refusal hook) and hands this package
// functions that read the parts (instances per lab, grading counts).
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric of the workbook's own.
const namespace = "workbook"

// Metrics is one process's registry and the metrics recorded into it.
type Metrics struct {
	// Registry holds everything /metrics exports.
	Registry *prometheus.Registry
	// HTTP counts requests by route pattern and times them.
	HTTP *HTTP

	streams     *prometheus.GaugeVec
	loadRuns    *prometheus.CounterVec
	throttled   *prometheus.CounterVec
	grading     *prometheus.HistogramVec
	environment *prometheus.HistogramVec
}

// New makes a registry with the Go runtime and process collectors and the
// workbook's metrics.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		HTTP:     newHTTP(),
		streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "sse_streams_open",
			Help: "Server-Sent Event streams this replica holds open, by kind (lab, submission, forwarded)."}, []string{"kind"}),
		loadRuns: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "lab_load_runs_total",
			Help: "Server-side load runs started against lab instances, by lab."}, []string{"lab"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "throttled_attempts_total",
			Help: "Attempts refused because a limit was spent (login, register, reset, verify, sso), by action."}, []string{"action"}),
		grading: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "grading_duration_seconds",
			Help:    "Time from a grading run's start to its recorded result, by exercise and status, in the processes that grade.",
			Buckets: []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 90, 120, 180, 300}}, []string{"exercise", "status"}),
		environment: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "grading_environment_start_seconds",
			Help:    "Time to start a grading environment, by kind (containers or embedded).",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60}}, []string{"kind"}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.HTTP.requests, m.HTTP.duration,
		m.streams, m.loadRuns, m.throttled, m.grading, m.environment,
	)
	return m
}

// Handler serves the registry in the Prometheus text format, uncompressed
// (the site compresses its responses). A collector
// that fails is left out of the answer rather than failing the scrape.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, DisableCompression: true})
}

// StreamOpened counts a live stream of kind as open until the returned
// func is called.
func (m *Metrics) StreamOpened(kind string) (closed func()) {
	g := m.streams.WithLabelValues(kind)
	g.Inc()
	return g.Dec
}

// LoadRunStarted counts a load run against an instance of lab.
func (m *Metrics) LoadRunStarted(lab string) { m.loadRuns.WithLabelValues(lab).Inc() }

// Throttled counts an attempt refused by a limit of action.
func (m *Metrics) Throttled(action string) { m.throttled.WithLabelValues(action).Inc() }

// Graded records a grading run of exercise that ended with status after took.
func (m *Metrics) Graded(exercise, status string, took time.Duration) {
	m.grading.WithLabelValues(exercise, status).Observe(took.Seconds())
}

// EnvironmentStarted records how long a grading environment of kind took
// to start.
func (m *Metrics) EnvironmentStarted(kind string, took time.Duration) {
	m.environment.WithLabelValues(kind).Observe(took.Seconds())
}
