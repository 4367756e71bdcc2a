package metrics

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// GradingCounts are the grading figures read from the database: the
// submissions by status and the grading queue's jobs by state.
type GradingCounts struct {
	Submissions map[string]int64
	Jobs        map[string]int64
}

// waiting are the job states of a job that waits for a worker.
var waiting = []string{"available", "pending", "retryable", "scheduled"}

// Sources are what the gauges read when Prometheus scrapes; a nil one is
// not exported.
type Sources struct {
	// LabInstances counts this replica's running lab instances by lab.
	LabInstances func() map[string]int
	// Grading counts submissions and jobs; it queries the database, so
	// its answer is kept for GradingEvery.
	Grading func(ctx context.Context) (GradingCounts, error)
	// GradingEvery is how long a grading count is reused; 0 means 10 s.
	GradingEvery time.Duration
	// Log receives the errors of a count; nil discards them.
	Log *slog.Logger
	// Now is the clock GradingEvery is measured on; nil is time.Now.
	Now func() time.Time
}

var (
	instancesDesc = prometheus.NewDesc(namespace+"_lab_instances_running",
		"Lab instances running on this replica, by lab.", []string{"lab"}, nil)
	submissionsDesc = prometheus.NewDesc(namespace+"_submissions",
		"Submissions by status (queued, running, graded, not_gradable, timed_out), from the database.", []string{"status"}, nil)
	jobsDesc = prometheus.NewDesc(namespace+"_grading_jobs",
		"Jobs of the grading queue by state, from the database.", []string{"state"}, nil)
	queueDesc = prometheus.NewDesc(namespace+"_grading_queue_depth",
		"Grading jobs waiting for a worker (available, pending, retryable or scheduled), from the database.", nil, nil)
)

// Watch exports gauges computed from src at scrape time.
func (m *Metrics) Watch(src Sources) {
	if src.GradingEvery <= 0 {
		src.GradingEvery = 10 * time.Second
	}
	if src.Now == nil {
		src.Now = time.Now
	}
	m.Registry.MustRegister(&scraped{src: src})
}

// scraped is the collector of the gauges read at scrape time.
type scraped struct {
	src Sources

	mu      sync.Mutex
	counted time.Time
	counts  GradingCounts
	ok      bool
}

func (s *scraped) Describe(ch chan<- *prometheus.Desc) {
	if s.src.LabInstances != nil {
		ch <- instancesDesc
	}
	if s.src.Grading != nil {
		ch <- submissionsDesc
		ch <- jobsDesc
		ch <- queueDesc
	}
}

func (s *scraped) Collect(ch chan<- prometheus.Metric) {
	if s.src.LabInstances != nil {
		for lab, n := range s.src.LabInstances() {
			ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(n), lab)
		}
	}
	if s.src.Grading == nil {
		return
	}
	c, ok := s.grading()
	if !ok {
		return
	}
	for status, n := range c.Submissions {
		ch <- prometheus.MustNewConstMetric(submissionsDesc, prometheus.GaugeValue, float64(n), status)
	}
	var depth int64
	for state, n := range c.Jobs {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(n), state)
	}
	for _, state := range waiting {
		depth += c.Jobs[state]
	}
	ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(depth))
}

// grading is the latest count, counted again when it is older than
// GradingEvery: scrapes from several Prometheus servers cost one query.
// A failed count is logged and leaves the figures out of this scrape.
func (s *scraped) grading() (GradingCounts, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.src.Now()
	if s.ok && now.Sub(s.counted) >= 0 && now.Sub(s.counted) < s.src.GradingEvery {
		return s.counts, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := s.src.Grading(ctx)
	if err != nil {
		if s.src.Log != nil {
			s.src.Log.Warn("metrics: counting submissions and grading jobs", "err", err)
		}
		s.ok = false
		return GradingCounts{}, false
	}
	s.counts, s.counted, s.ok = c, now, true
	return c, true
}
