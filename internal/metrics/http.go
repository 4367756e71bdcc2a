package metrics

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Unmatched is the route label of requests no route matched (404s and
// 405s): the raw path is never a label, so the series stay few.
const Unmatched = "unmatched"

// methods are the methods that get a label of their own; any other is
// "other", so a client cannot add series by inventing methods.
var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// statusClasses are the status label's values, by status/100.
var statusClasses = [6]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

// HTTP counts and times requests by route pattern, method and status
// class. The series of each route and method are looked up in a table
// built once from the route table and made on first use, so recording a
// request allocates nothing.
type HTTP struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	routes   map[string]map[string]*series // route → method → series; read-only once built
}

// series are one route and method's counters (one per status class) and
// latency histogram, made on first use.
type series struct {
	route, method string
	count         [len(statusClasses)]atomic.Pointer[counter]
	latency       atomic.Pointer[observer]
}

type counter struct{ prometheus.Counter }
type observer struct{ prometheus.Observer }

func newHTTP() *HTTP {
	h := &HTTP{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests served, by route pattern (\"unmatched\" when none matched), method and status class."},
			[]string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Time to serve a request, by route pattern and method (live event streams are not timed).",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}},
			[]string{"route", "method"}),
	}
	h.routes = map[string]map[string]*series{}
	for _, m := range methods {
		h.add(Unmatched, m)
	}
	return h
}

// Route is one entry of the route table.
type Route struct{ Method, Path string }

// SetRoutes builds the lookup table from the route table; call it once,
// before serving.
func (h *HTTP) SetRoutes(routes []Route) {
	for _, r := range routes {
		h.add(r.Path, r.Method)
	}
}

func (h *HTTP) add(route, method string) {
	byMethod := h.routes[route]
	if byMethod == nil {
		byMethod = map[string]*series{}
		h.routes[route] = byMethod
	}
	if byMethod[method] == nil {
		byMethod[method] = &series{route: route, method: method}
	}
}

// Observe records a request of route ("" when none matched) and method
// that answered status after took. A live stream (stream) is counted but
// not timed: its duration is how long someone watched.
func (h *HTTP) Observe(route, method string, status int, took time.Duration, stream bool) {
	if route == "" {
		route = Unmatched
	}
	s := h.routes[route][method]
	if s == nil {
		s = h.routes[Unmatched][method] // not a route of the table
	}
	if s == nil {
		// A method no route has: one series for them all.
		h.requests.WithLabelValues(Unmatched, "other", statusClasses[class(status)]).Inc()
		if !stream {
			h.duration.WithLabelValues(Unmatched, "other").Observe(took.Seconds())
		}
		return
	}
	s.counter(h, class(status)).Inc()
	if !stream {
		s.observer(h).Observe(took.Seconds())
	}
}

func class(status int) int {
	if c := status / 100; c >= 1 && c <= 5 {
		return c
	}
	return 0
}

func (s *series) counter(h *HTTP, c int) prometheus.Counter {
	if p := s.count[c].Load(); p != nil {
		return p.Counter
	}
	s.count[c].CompareAndSwap(nil, &counter{h.requests.WithLabelValues(s.route, s.method, statusClasses[c])})
	return s.count[c].Load().Counter
}

func (s *series) observer(h *HTTP) prometheus.Observer {
	if p := s.latency.Load(); p != nil {
		return p.Observer
	}
	s.latency.CompareAndSwap(nil, &observer{h.duration.WithLabelValues(s.route, s.method)})
	return s.latency.Load().Observer
}
