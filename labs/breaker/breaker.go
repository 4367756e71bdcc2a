package breaker

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// State is a breaker's state. The values are the levels of the lab's state
// chart, lowest first.
type State int

// The three states of a circuit breaker.
const (
	Closed   State = iota // calls pass; outcomes are counted
	HalfOpen              // a few probe calls test the downstream
	Open                  // calls fail fast without touching the downstream
)

// String names the state as the lab's JSON does.
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half_open"
	case Open:
		return "open"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// MarshalText makes a State appear in JSON as its name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a state's name, for clients of the lab's JSON.
func (s *State) UnmarshalText(b []byte) error {
	for _, x := range []State{Closed, HalfOpen, Open} {
		if string(b) == x.String() {
			*s = x
			return nil
		}
	}
	return fmt.Errorf("breaker: unknown state %q", b)
}

// Outcome is what a call admitted by the breaker came to.
type Outcome int

// Outcomes a caller reports with Done.
const (
	// Success: the downstream answered well.
	Success Outcome = iota
	// Failure: the downstream failed or was too slow; it counts against it.
	Failure
	// Ignore: the call says nothing about the downstream's health (the
	// caller gave up first). It is not counted, and frees a probe slot.
	Ignore
)

// Errors Allow returns when it fails a call fast.
var (
	ErrOpen       = errors.New("breaker open")
	ErrProbeLimit = errors.New("breaker half-open and every probe slot is taken")
)

// MaxTransitions is how many transitions a breaker remembers.
const MaxTransitions = 50

// Transition is one change of state and why it happened.
type Transition struct {
	At     time.Time `json:"at"`
	From   State     `json:"from"`
	To     State     `json:"to"`
	Reason string    `json:"reason"`
}

// Config is a breaker's policy.
type Config struct {
	// FailureThreshold opens the breaker after this many consecutive
	// failures, unless FailureRate is set.
	FailureThreshold int
	// FailureRate, when above 0, replaces the consecutive trigger: the
	// breaker opens when failures/calls over the last WindowSize calls
	// reaches it, once at least MinCalls are in the window.
	FailureRate float64
	WindowSize  int
	MinCalls    int
	// OpenTimeout is how long the breaker stays open before probing.
	OpenTimeout time.Duration
	// HalfOpenProbes is how many trial calls half-open admits; all must
	// succeed to close, and the first failure reopens.
	HalfOpenProbes int
	// Now is the clock; nil means time.Now. Tests inject a fake one.
	Now func() time.Time
	// OnTransition, if set, is told of every transition in order. It runs
	// with the breaker's lock held (so transitions are reported in the
	// order they happened), so it must be quick and must not call the
	// breaker.
	OnTransition func(Transition)
}

func (c Config) validate() error {
	switch {
	case c.FailureRate < 0 || c.FailureRate > 1:
		return fmt.Errorf("breaker: failure rate %v is outside [0, 1]", c.FailureRate)
	case c.FailureRate == 0 && c.FailureThreshold < 1:
		return fmt.Errorf("breaker: failure threshold %d is below 1", c.FailureThreshold)
	case c.FailureRate > 0 && (c.WindowSize < 1 || c.MinCalls < 1 || c.MinCalls > c.WindowSize):
		return fmt.Errorf("breaker: window of %d calls with at least %d is not usable", c.WindowSize, c.MinCalls)
	case c.OpenTimeout <= 0:
		return fmt.Errorf("breaker: open timeout %v is not positive", c.OpenTimeout)
	case c.HalfOpenProbes < 1:
		return fmt.Errorf("breaker: %d half-open probes; need at least 1", c.HalfOpenProbes)
	}
	return nil
}

// Ticket is an admitted call; hand it back to Done exactly once.
type Ticket struct {
	gen uint64 // the period (generation) the call was admitted in
}

// Breaker is a circuit breaker. Its lock guards only reads and updates of
// its state: Allow decides and unlocks, the caller runs the protected call
// with no lock held, and Done records the outcome. So a slow call never
// makes another caller wait, and an open breaker fails fast even while
// slow calls admitted earlier are still running.
//
// Every state change starts a new generation. An outcome from an earlier
// generation is stale (the call began before the change) and is ignored,
// so a slow success admitted while closed cannot close a breaker that has
// since opened.
type Breaker struct {
	cfg Config
	now func() time.Time

	mu       sync.Mutex
	state    State
	gen      uint64
	openedAt time.Time
	// Closed, consecutive mode.
	consecutive int
	// Closed, rate mode: a ring of the last WindowSize outcomes.
	window   []bool // true: failure
	head     int    // next slot to write
	filled   int
	failures int // failures in the window
	// Half-open.
	admitted  int // probes admitted and not released by Ignore
	succeeded int
	inFlight  int // admitted probes that have not reported yet

	transitions []Transition
}

// New returns a closed breaker with policy cfg.
func New(cfg Config) (*Breaker, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	b := &Breaker{cfg: cfg, now: cfg.Now}
	if b.now == nil {
		b.now = time.Now
	}
	if cfg.FailureRate > 0 {
		b.window = make([]bool, cfg.WindowSize)
	}
	return b, nil
}

// Allow decides whether a call may go to the downstream now. On nil error
// the caller makes the call (with no breaker lock held) and reports its
// outcome with Done. ErrOpen and ErrProbeLimit mean: fail fast.
func (b *Breaker) Allow() (Ticket, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == Open {
		b.maybeHalfOpen()
	}
	switch b.state {
	case Open:
		return Ticket{}, ErrOpen
	case HalfOpen:
		if b.admitted >= b.cfg.HalfOpenProbes {
			return Ticket{}, ErrProbeLimit
		}
		b.admitted++
		b.inFlight++
	}
	return Ticket{gen: b.gen}, nil
}

// Done records the outcome of a call Allow admitted.
func (b *Breaker) Done(t Ticket, o Outcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t.gen != b.gen {
		return // stale: the call began before the last state change
	}
	switch b.state {
	case Closed:
		b.recordClosed(o)
	case HalfOpen:
		b.inFlight--
		switch o {
		case Ignore:
			b.admitted-- // give the slot to another probe
		case Failure:
			b.setState(Open, "a probe failed; the downstream is still unhealthy")
		case Success:
			b.succeeded++
			if b.succeeded >= b.cfg.HalfOpenProbes {
				b.setState(Closed, fmt.Sprintf("%d of %d probes succeeded", b.succeeded, b.cfg.HalfOpenProbes))
			}
		}
	}
}

func (b *Breaker) recordClosed(o Outcome) {
	if o == Ignore {
		return
	}
	failed := o == Failure
	if b.cfg.FailureRate == 0 {
		if !failed {
			b.consecutive = 0
			return
		}
		b.consecutive++
		if b.consecutive >= b.cfg.FailureThreshold {
			b.setState(Open, fmt.Sprintf("%d consecutive failures (failure_threshold %d)", b.consecutive, b.cfg.FailureThreshold))
		}
		return
	}
	if b.filled == len(b.window) {
		if b.window[b.head] {
			b.failures-- // the oldest outcome leaves the window
		}
	} else {
		b.filled++
	}
	b.window[b.head] = failed
	b.head = (b.head + 1) % len(b.window)
	if failed {
		b.failures++
	}
	// Checked after every outcome, successes too: the one that brings the
	// window up to MinCalls can be the one that makes it count. Dividing
	// gives the float nearest the true ratio, as parsing gives the float
	// nearest the rate, so 5 of 10 reaches 0.5 (rate×calls could round low).
	if b.filled >= b.cfg.MinCalls && float64(b.failures)/float64(b.filled) >= b.cfg.FailureRate {
		b.setState(Open, fmt.Sprintf("%d of the last %d calls failed (%.0f%%), reaching failure_rate %.0f%% with min_calls %d",
			b.failures, b.filled, 100*float64(b.failures)/float64(b.filled), 100*b.cfg.FailureRate, b.cfg.MinCalls))
	}
}

// maybeHalfOpen moves an open breaker to half-open once OpenTimeout has
// passed. The move happens when someone next looks, not on a timer: the
// breaker needs no goroutine, and nothing can probe until a call arrives.
func (b *Breaker) maybeHalfOpen() {
	if b.now().Sub(b.openedAt) >= b.cfg.OpenTimeout {
		b.setState(HalfOpen, fmt.Sprintf("open for %v (open_timeout); admitting up to %d probe(s)", b.cfg.OpenTimeout, b.cfg.HalfOpenProbes))
	}
}

func (b *Breaker) setState(s State, reason string) {
	t := Transition{At: b.now(), From: b.state, To: s, Reason: reason}
	b.state = s
	b.gen++
	b.consecutive, b.head, b.filled, b.failures = 0, 0, 0, 0
	b.admitted, b.succeeded, b.inFlight = 0, 0, 0
	if s == Open {
		b.openedAt = t.At
	}
	if len(b.transitions) == MaxTransitions {
		b.transitions = append(b.transitions[:0], b.transitions[1:]...)
	}
	b.transitions = append(b.transitions, t)
	if b.cfg.OnTransition != nil {
		b.cfg.OnTransition(t)
	}
}

// State returns the current state, moving open to half-open if its time
// has come.
func (b *Breaker) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == Open {
		b.maybeHalfOpen()
	}
	return b.state
}

// Snapshot is a consistent view of a breaker for display.
type Snapshot struct {
	State State `json:"state"`
	Counts
	Transitions []Transition `json:"transitions"`
}

// Counts are a breaker's inner counters.
type Counts struct {
	// ConsecutiveFailures counts toward failure_threshold (consecutive mode).
	ConsecutiveFailures int `json:"consecutive_failures"`
	// WindowCalls and WindowFailures are the rate mode's window.
	WindowCalls    int `json:"window_calls"`
	WindowFailures int `json:"window_failures"`
	// ProbesInFlight and ProbesSucceeded describe half-open.
	ProbesInFlight  int `json:"probes_in_flight"`
	ProbesSucceeded int `json:"probes_succeeded"`
	// HalfOpenAt is when an open breaker will admit probes.
	HalfOpenAt *time.Time `json:"half_open_at,omitempty"`
}

// Snapshot returns the breaker's state and its last MaxTransitions
// transitions, oldest first.
func (b *Breaker) Snapshot() Snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == Open {
		b.maybeHalfOpen()
	}
	s := Snapshot{State: b.state, Counts: Counts{ConsecutiveFailures: b.consecutive, WindowCalls: b.filled,
		WindowFailures: b.failures, ProbesInFlight: b.inFlight, ProbesSucceeded: b.succeeded},
		Transitions: append([]Transition{}, b.transitions...)}
	if b.state == Open {
		at := b.openedAt.Add(b.cfg.OpenTimeout)
		s.HalfOpenAt = &at
	}
	return s
}

// Do runs fn through the breaker: ErrOpen or ErrProbeLimit without calling
// fn when failing fast, else fn's error, recorded as a failure when non-nil.
// A panicking fn is recorded as a failure and the panic continues.
func (b *Breaker) Do(fn func() error) error {
	t, err := b.Allow()
	if err != nil {
		return err
	}
	outcome := Failure
	defer func() { b.Done(t, outcome) }()
	if err = fn(); err == nil {
		outcome = Success
	}
	return err
}

// HalfOpenAt is when an open breaker will admit probes; ok is false when
// the breaker is not open.
func (b *Breaker) HalfOpenAt() (at time.Time, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == Open {
		b.maybeHalfOpen()
	}
	if b.state != Open {
		return time.Time{}, false
	}
	return b.openedAt.Add(b.cfg.OpenTimeout), true
}
