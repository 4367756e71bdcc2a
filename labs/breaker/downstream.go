package breaker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// Latency shapes of the simulated downstream.
const (
	LatencyFixed    = "fixed"     // every call takes latency_ms
	LatencyUniform  = "uniform"   // uniform in [0, 2×latency_ms]: same mean, wide spread
	LatencyLongTail = "long_tail" // see Settings.delay
)

// Long-tail shape: most calls take 0.5–1.5× latency_ms; TailShare of them
// take TailMin–TailMax× instead, the slow replica or GC pause that p99 sees
// and p50 does not.
const (
	TailShare = 0.01
	TailMin   = 10
	TailMax   = 20
)

// MaxLatencyMS bounds latency_ms; MaxErrorBurst bounds error_burst.
const (
	MaxLatencyMS  = 10000
	MaxErrorBurst = 100
)

// ErrDownstream is the simulated downstream's failure.
var ErrDownstream = errors.New("downstream failed")

// Settings are the simulated downstream's behaviour.
type Settings struct {
	ErrorRate float64 `json:"error_rate"` // share of calls that fail, 0..1
	LatencyMS int     `json:"latency_ms"` // typical latency
	Latency   string  `json:"latency"`    // fixed, uniform or long_tail
	Outage    bool    `json:"outage"`     // every call fails (after its latency)
	// Capacity is how many calls it serves at once (0: no limit); Queue is
	// how many more wait for a slot before it refuses calls (see capacity).
	Capacity int `json:"capacity"`
	Queue    int `json:"queue"`
	// ErrorBurst, when above 0, makes the errors come in runs of this many
	// consecutive calls, evenly spaced so that error_rate of all calls
	// fail; 0 draws each call's error independently.
	ErrorBurst int `json:"error_burst"`
}

// DefaultSettings are a healthy downstream's: no errors, 20 ms fixed.
func DefaultSettings() Settings {
	return Settings{LatencyMS: 20, Latency: LatencyFixed, Queue: DefaultQueue}
}

func (s Settings) String() string {
	out := fmt.Sprintf("error_rate %g, latency %d ms %s", s.ErrorRate, s.LatencyMS, s.Latency)
	if s.ErrorBurst > 0 && s.ErrorRate > 0 {
		out += fmt.Sprintf(", errors in runs of %d", s.ErrorBurst)
	}
	if s.Capacity > 0 {
		out += fmt.Sprintf(", capacity %d at a time with a queue of %d", s.Capacity, s.Queue)
	}
	if s.Outage {
		out += ", OUTAGE (every call fails)"
	}
	return out
}

// delay draws one call's latency.
func (s Settings) delay() time.Duration {
	l := time.Duration(s.LatencyMS) * time.Millisecond
	if l <= 0 {
		return 0
	}
	switch s.Latency {
	case LatencyUniform:
		return rand.N(2*l + 1)
	case LatencyLongTail:
		if rand.Float64() < TailShare {
			return TailMin*l + rand.N((TailMax-TailMin)*l+1)
		}
		return l/2 + rand.N(l+1)
	}
	return l
}

// Downstream is the in-process service the breaker protects. It counts
// every call it receives: that count is the truth about the load the
// client puts on it, whatever the client believes it sent.
type Downstream struct {
	mu       sync.Mutex // serialises updates, so partial updates never lose one another
	settings atomic.Pointer[Settings]
	calls    atomic.Int64
	metrics  *labs.Metrics // may be nil
	clock    labs.Clock    // nil: the real clock
	waits    *waitLog      // nil on the real clock
	cap      capacity
	shedLog  labs.Throttle
	// patternFrom is the call count when the settings last changed: an
	// error pattern counts calls from there.
	patternFrom atomic.Int64
}

// NewDownstream returns a downstream with settings s, counting calls into
// m's downstream_calls series when m is not nil.
func NewDownstream(s Settings, m *labs.Metrics) *Downstream {
	d := &Downstream{metrics: m, shedLog: labs.Throttle{Every: time.Second}}
	d.settings.Store(&s)
	return d
}

// Call is one call: it waits the drawn latency (or until ctx ends, then
// returns ctx's error) and fails with ErrDownstream at error_rate, or
// always during an outage.
func (d *Downstream) Call(ctx context.Context) error {
	n := d.calls.Add(1)
	if d.metrics != nil {
		d.metrics.Count("downstream_calls", 1)
	}
	s := d.settings.Load()
	fail := s.Outage || s.fails(n-1-d.patternFrom.Load())
	wait, err := d.admitCall(s, s.delay())
	if err != nil {
		return err
	}
	if wait > 0 {
		clock := labs.ClockOf(d.clock)
		// The call wakes when the provider answers or when the caller's
		// deadline cuts it, whichever comes first.
		due := clock.Now().Add(wait)
		if dl, ok := labs.ClockDeadline(ctx); ok && dl.Before(due) {
			due = dl
		}
		t := clock.NewTimer(wait)
		end := d.waits.wait(due)
		select {
		case <-ctx.Done():
			t.Stop()
			end()
			return ctx.Err()
		case <-t.C():
		}
		end()
	}
	if fail {
		return ErrDownstream
	}
	return nil
}

// fails draws whether call k (from 0, counted since the settings changed)
// fails: at random, or in evenly spaced runs of ErrorBurst.
func (s Settings) fails(k int64) bool {
	if s.ErrorRate <= 0 {
		return false
	}
	if s.ErrorBurst <= 0 {
		return rand.Float64() < s.ErrorRate
	}
	period := max(int64(s.ErrorBurst), int64(math.Round(float64(s.ErrorBurst)/s.ErrorRate)))
	return k >= 0 && k%period >= period-int64(s.ErrorBurst)
}

// Calls is how many calls the downstream has received.
func (d *Downstream) Calls() int64 { return d.calls.Load() }

// Settings returns the current settings.
func (d *Downstream) Settings() Settings { return *d.settings.Load() }

// Update applies a partial update (fields absent from u keep their value)
// if it is valid; else it changes nothing and the errors name the fields.
func (d *Downstream) Update(u SettingsUpdate) (Settings, labs.FieldErrors) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if errs := u.Validate(); len(errs) > 0 {
		return *d.settings.Load(), errs
	}
	s := *d.settings.Load()
	if u.ErrorRate != nil {
		s.ErrorRate = *u.ErrorRate
	}
	if u.LatencyMS != nil {
		s.LatencyMS = *u.LatencyMS
	}
	if u.Latency != nil {
		s.Latency = *u.Latency
	}
	if u.Outage != nil {
		s.Outage = *u.Outage
	}
	if u.Capacity != nil {
		s.Capacity = *u.Capacity
		if s.Capacity == 0 {
			d.cap.reset()
		}
	}
	if u.Queue != nil {
		s.Queue = *u.Queue
	}
	if u.ErrorBurst != nil {
		s.ErrorBurst = *u.ErrorBurst
	}
	d.patternFrom.Store(d.calls.Load())
	d.settings.Store(&s)
	return s, nil
}

// SettingsUpdate is a partial update; nil fields are left as they are.
type SettingsUpdate struct {
	ErrorRate  *float64
	LatencyMS  *int
	Latency    *string
	Outage     *bool
	Capacity   *int
	Queue      *int
	ErrorBurst *int
}

// Validate checks the fields u sets; the errors name them.
func (u SettingsUpdate) Validate() labs.FieldErrors {
	errs := labs.FieldErrors{}
	if r := u.ErrorRate; r != nil && (*r < 0 || *r > 1) {
		errs["error_rate"] = "Must be between 0 and 1."
	}
	if l := u.LatencyMS; l != nil && (*l < 0 || *l > MaxLatencyMS) {
		errs["latency_ms"] = fmt.Sprintf("Must be a whole number of milliseconds between 0 and %d.", MaxLatencyMS)
	}
	if l := u.Latency; l != nil && *l != LatencyFixed && *l != LatencyUniform && *l != LatencyLongTail {
		errs["latency"] = "Must be one of " + strings.Join([]string{LatencyFixed, LatencyUniform, LatencyLongTail}, ", ") + "."
	}
	if c := u.Capacity; c != nil && (*c < 0 || *c > MaxCapacity) {
		errs["capacity"] = fmt.Sprintf("Must be a whole number of calls between 0 (no limit) and %d.", MaxCapacity)
	}
	if b := u.ErrorBurst; b != nil && (*b < 0 || *b > MaxErrorBurst) {
		errs["error_burst"] = fmt.Sprintf("Must be a whole number of calls between 0 (independent errors) and %d.", MaxErrorBurst)
	}
	if q := u.Queue; q != nil && (*q < 0 || *q > MaxQueue) {
		errs["queue"] = fmt.Sprintf("Must be a whole number of calls between 0 and %d.", MaxQueue)
	}
	return errs
}
