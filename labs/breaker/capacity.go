package breaker

import (
	"fmt"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// Limits of the downstream's capacity settings.
const (
	MaxCapacity = 1000
	MaxQueue    = 100000
	// DefaultQueue is how many calls wait for a slot when capacity is set
	// and queue is not.
	DefaultQueue = 1000
)

// ErrOverloaded is the downstream refusing a call because every slot is
// busy and its queue is full. It is one of its failures.
var ErrOverloaded = fmt.Errorf("%w: overloaded, its queue is full", ErrDownstream)

// capacity models a downstream that serves at most Capacity calls at a
// time, first come first served, with up to Queue more waiting for a slot.
// It is computed rather than run: when a call arrives it is given the slot
// that frees first, starts then (queued until that moment) and holds the
// slot for its latency. A caller that gives up does not free its slot or
// its place in the queue: like most servers, the downstream does not know
// that nobody waits for the answer, so abandoned calls still take their
// share of its time. That is what lets a storm of retries keep it down
// after the fault that started the storm is gone: each retry adds work,
// the queue stays long, every call waits past its caller's timeout, and
// every timeout brings another retry.
//
// Being arithmetic on arrival times, it gives the same answers on a check's
// clock whatever order the machine runs the calls in.
type capacity struct {
	mu     sync.Mutex
	free   []time.Time // per slot: when its last admitted call ends
	starts []time.Time // when each queued call will start (those still ahead)
	shed   int64
}

// admit places a call arriving at now that needs service time: it gives
// how long the caller waits for the answer (queue and service), or false
// when the queue is full and the call is refused at once.
func (c *capacity) admit(now time.Time, s Settings, service time.Duration) (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resize(s.Capacity)
	c.prune(now)
	k := 0
	for j := range c.free {
		if c.free[j].Before(c.free[k]) {
			k = j
		}
	}
	start := now
	if c.free[k].After(now) {
		start = c.free[k]
	}
	if start.After(now) {
		if len(c.starts) >= s.Queue {
			c.shed++
			return 0, false
		}
		c.starts = append(c.starts, start)
	}
	c.free[k] = start.Add(service)
	return c.free[k].Sub(now), true
}

// resize keeps one entry per slot, keeping the busiest slots when it shrinks.
func (c *capacity) resize(n int) {
	for len(c.free) < n {
		c.free = append(c.free, time.Time{})
	}
	if len(c.free) > n {
		c.free = c.free[len(c.free)-n:]
	}
}

// prune forgets queued calls that have started by now.
func (c *capacity) prune(now time.Time) {
	kept := c.starts[:0]
	for _, s := range c.starts {
		if s.After(now) {
			kept = append(kept, s)
		}
	}
	c.starts = kept
}

// LoadView is how busy a downstream with a capacity is at a moment.
type LoadView struct {
	// Busy counts the slots serving a call (abandoned ones included).
	Busy int `json:"busy"`
	// Queued counts the calls waiting for a slot.
	Queued int `json:"queued"`
	// Shed counts the calls refused because the queue was full.
	Shed int64 `json:"shed"`
}

// load reports the slots busy and the calls queued at now.
func (c *capacity) load(now time.Time) LoadView {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prune(now)
	v := LoadView{Queued: len(c.starts), Shed: c.shed}
	for _, f := range c.free {
		if f.After(now) {
			v.Busy++
		}
	}
	return v
}

// reset forgets all work, for a downstream whose capacity is turned off.
func (c *capacity) reset() {
	c.mu.Lock()
	c.free, c.starts = nil, nil
	c.mu.Unlock()
}

// admitCall applies the downstream's capacity, when it has one, to a call
// that needs service time: the wait until its answer, or ErrOverloaded.
func (d *Downstream) admitCall(s *Settings, service time.Duration) (time.Duration, error) {
	if s.Capacity <= 0 {
		return service, nil
	}
	now := labs.ClockOf(d.clock).Now()
	wait, ok := d.cap.admit(now, *s, service)
	d.gaugeLoad(now)
	if !ok {
		if d.metrics != nil {
			d.metrics.Count("shed", 1)
			if held, ready := d.shedLog.Ready(); ready {
				d.metrics.Eventf("warn", "downstream overloaded: all %d slots busy and %d calls queued; it refused a call%s",
					s.Capacity, s.Queue, heldBack(held))
			}
		}
		return 0, ErrOverloaded
	}
	return wait, nil
}

func heldBack(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (and %d more since the last line)", n)
}

// gaugeLoad shows how busy the downstream is on the lab's load chart.
func (d *Downstream) gaugeLoad(now time.Time) {
	if d.metrics == nil {
		return
	}
	v := d.cap.load(now)
	d.metrics.Gauge("downstream_busy", float64(v.Busy))
	d.metrics.Gauge("downstream_queued", float64(v.Queued))
}

// Load is how busy the downstream is now (all zero without a capacity).
func (d *Downstream) Load() LoadView {
	if d.Settings().Capacity <= 0 {
		return LoadView{Shed: d.cap.load(time.Time{}).Shed}
	}
	now := labs.ClockOf(d.clock).Now()
	d.gaugeLoad(now)
	return d.cap.load(now)
}
