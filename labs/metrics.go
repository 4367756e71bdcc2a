package labs

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Bucket is the width of a metrics point.
const Bucket = 100 * time.Millisecond

const (
	keepPoints = 600 // one minute of history for a new chart
	keepEvents = 200
	subBuffer  = 64
)

// Point is one 100 ms bucket: a value per series. Counts are events in the
// bucket, latencies are milliseconds (p50 and p99 as series "NAME_p50" and
// "NAME_p99"), gauges carry their last value. NaN means no data.
type Point struct {
	T int64              `json:"t"` // unix milliseconds at the bucket's start
	V map[string]float64 `json:"v"`
}

// Event is a line of an instance's log.
type Event struct {
	T    int64  `json:"t"`
	Kind string `json:"kind"` // info, warn, error
	Msg  string `json:"msg"`
}

// Message is what a subscriber receives: a point or an event.
type Message struct {
	Point *Point
	Event *Event
}

// Metrics collects an instance's measurements and fans them out to
// subscribers (the SSE streams of browsers watching it).
type Metrics struct {
	mu       sync.Mutex
	now      func() time.Time
	start    time.Time
	counts   map[string]float64
	lat      map[string][]float64
	gauges   map[string]float64
	known    map[string]bool
	history  []Point
	events   []Event
	subs     map[chan Message]struct{}
	stop     chan struct{}
	stopOnce sync.Once
}

// NewMetrics starts collecting; series are the counters known up front, so
// charts show zero rather than nothing before the first event.
func NewMetrics(now func() time.Time, series ...string) *Metrics {
	if now == nil {
		now = time.Now
	}
	m := &Metrics{now: now, start: now(), counts: map[string]float64{}, lat: map[string][]float64{},
		gauges: map[string]float64{}, known: map[string]bool{}, subs: map[chan Message]struct{}{}, stop: make(chan struct{})}
	for _, s := range series {
		m.known[s] = true
	}
	go m.run()
	return m
}

// Count adds n to a counter series in the current bucket.
func (m *Metrics) Count(series string, n float64) {
	m.mu.Lock()
	m.counts[series] += n
	m.known[series] = true
	m.mu.Unlock()
}

// Latency records one duration in a latency series.
func (m *Metrics) Latency(series string, d time.Duration) {
	m.mu.Lock()
	if l := m.lat[series]; len(l) < 100000 {
		m.lat[series] = append(l, float64(d.Microseconds())/1000)
	}
	m.mu.Unlock()
}

// Gauge sets a level series; it holds until set again.
func (m *Metrics) Gauge(series string, v float64) {
	m.mu.Lock()
	m.gauges[series] = v
	m.mu.Unlock()
}

// Eventf appends a line to the event log.
func (m *Metrics) Eventf(kind, format string, args ...any) {
	e := Event{T: m.now().UnixMilli(), Kind: kind, Msg: fmt.Sprintf(format, args...)}
	m.mu.Lock()
	m.events = append(m.events, e)
	if len(m.events) > keepEvents {
		m.events = m.events[len(m.events)-keepEvents:]
	}
	m.publish(Message{Event: &e})
	m.mu.Unlock()
}

// Subscribe returns a channel of new messages with the history so far. A
// subscriber that falls behind loses points rather than slowing the lab.
func (m *Metrics) Subscribe() (<-chan Message, []Point, []Event, func()) {
	ch := make(chan Message, subBuffer)
	m.mu.Lock()
	m.subs[ch] = struct{}{}
	pts := append([]Point(nil), m.history...)
	evs := append([]Event(nil), m.events...)
	m.mu.Unlock()
	return ch, pts, evs, func() {
		m.mu.Lock()
		if _, ok := m.subs[ch]; ok {
			delete(m.subs, ch)
			close(ch)
		}
		m.mu.Unlock()
	}
}

// Close stops the collector and ends every subscription.
func (m *Metrics) Close() {
	m.stopOnce.Do(func() {
		close(m.stop)
		m.mu.Lock()
		for ch := range m.subs {
			delete(m.subs, ch)
			close(ch)
		}
		m.mu.Unlock()
	})
}

func (m *Metrics) run() {
	t := time.NewTicker(Bucket)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.flush()
		}
	}
}

func (m *Metrics) flush() {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := Point{T: m.now().Add(-Bucket).UnixMilli(), V: map[string]float64{}}
	for s := range m.known {
		p.V[s] = m.counts[s]
	}
	for s, v := range m.gauges {
		p.V[s] = v
	}
	for s, l := range m.lat {
		p.V[s+"_p50"], p.V[s+"_p99"] = Percentile(l, 50), Percentile(l, 99)
	}
	m.counts = map[string]float64{}
	m.lat = map[string][]float64{}
	m.history = append(m.history, p)
	if len(m.history) > keepPoints {
		m.history = m.history[len(m.history)-keepPoints:]
	}
	m.publish(Message{Point: &p})
}

func (m *Metrics) publish(msg Message) {
	for ch := range m.subs {
		select {
		case ch <- msg:
		default: // slow reader: drop
		}
	}
}

// Percentile returns the p-th percentile (nearest rank) of values, or NaN.
func Percentile(values []float64, p float64) float64 {
	if len(values) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), values...)
	sort.Float64s(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// MarshalJSON writes NaN values (no data in the bucket) as null.
func (p Point) MarshalJSON() ([]byte, error) {
	keys := make([]string, 0, len(p.V))
	for k := range p.V {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b := []byte(`{"t":`)
	b = strconv.AppendInt(b, p.T, 10)
	b = append(b, `,"v":{`...)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, k)
		b = append(b, ':')
		v := p.V[k]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendFloat(b, v, 'f', -1, 64)
		}
	}
	return append(b, "}}"...), nil
}

// ErrTooManyWatchers is returned when an instance already has the most
// live streams it allows.
var ErrTooManyWatchers = errors.New("too many live streams on this instance")

// TrySubscribe is Subscribe with a bound on concurrent subscribers.
func (m *Metrics) TrySubscribe(limit int) (<-chan Message, []Point, []Event, func(), error) {
	m.mu.Lock()
	n := len(m.subs)
	m.mu.Unlock()
	if n >= limit {
		return nil, nil, nil, nil, ErrTooManyWatchers
	}
	ch, pts, evs, cancel := m.Subscribe()
	return ch, pts, evs, cancel, nil
}

// Throttle lets an event line through at most once per Every and counts
// what it held back, so a load run cannot flood an instance's event log.
type Throttle struct {
	Every time.Duration
	mu    sync.Mutex
	last  time.Time
	held  int
}

// Ready reports whether a line may be written now, and how many were held
// back since the last one.
func (t *Throttle) Ready() (int, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if !t.last.IsZero() && now.Sub(t.last) < t.Every {
		t.held++
		return 0, false
	}
	n := t.held
	t.last, t.held = now, 0
	return n, true
}

// Held is the suffix of a line written after n were held back.
func Held(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (and %d more since the last line)", n)
}
