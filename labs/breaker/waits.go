package breaker

import (
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

// waitLog records the instance's calls that are waiting on a manual clock
// (the provider holding a call, a backoff pause) and when each will wake.
// A check suite that moves the clock reads it (GET /waits) to know that
// every call it started is waiting, so it moves the clock only then, and
// only to the next wake-up: however slowly the machine runs the calls,
// each one sees the same times. It is nil on the real clock, where nobody
// needs it.
type waitLog struct {
	mu      sync.Mutex
	seq     uint64
	version uint64               // counts changes
	waits   map[uint64]time.Time // wait id → when it wakes
	changed chan struct{}        // closed and replaced on every change
}

func newWaitLog() *waitLog {
	return &waitLog{waits: map[uint64]time.Time{}, changed: make(chan struct{})}
}

// wait records a call waiting until due (or until it is cancelled); end
// removes the record once the call moves on. The timer it waits on must
// exist before wait is called, so that a clock moved at once still fires
// it.
func (w *waitLog) wait(due time.Time) (end func()) {
	if w == nil {
		return func() {}
	}
	w.mu.Lock()
	w.seq++
	id := w.seq
	w.waits[id] = due
	w.notify()
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		delete(w.waits, id)
		w.notify()
		w.mu.Unlock()
	}
}

func (w *waitLog) notify() {
	w.version++
	close(w.changed)
	w.changed = make(chan struct{})
}

// asleep counts the waits that are not yet due at now, gives the earliest
// time one of them wakes, the log's version and a channel closed at the
// next change. A wait that is due counts as running: its call has been
// woken and will move on.
func (w *waitLog) asleep(now time.Time) (n int, next time.Time, version uint64, changed <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, due := range w.waits {
		if !due.After(now) {
			continue
		}
		if n == 0 || due.Before(next) {
			next = due
		}
		n++
	}
	return n, next, w.version, w.changed
}

// WaitsView is GET /waits's answer: what the instance's calls wait on, on
// the clock it decides by.
type WaitsView struct {
	// Clock is "manual" when the instance runs on a clock a check suite
	// moves, "real" otherwise (the other fields are then zero).
	Clock string    `json:"clock"`
	Now   time.Time `json:"now"`
	// Waiting counts the calls waiting on the clock (on the provider, a
	// call timeout or a backoff pause) that are not yet due.
	Waiting int `json:"waiting"`
	// NextWake is when the first of them wakes.
	NextWake *time.Time `json:"next_wake,omitempty"`
	// Version changes whenever a wait begins or ends.
	Version uint64 `json:"version"`
}

// The longest GET /waits?since= holds a request, in real time.
const (
	waitsHoldMS    = 10_000
	waitsMaxHoldMS = 30_000
)

// handleWaits answers what the calls wait on. With since=V it first holds
// the request until the version is no longer V (or wait_ms of real time
// pass, or the client leaves), so a suite learns of the next change
// without asking over and over.
func (i *instance) handleWaits(w http.ResponseWriter, r *http.Request) {
	q, err := labhttp.Query(r)
	var since, holdMS int
	if err == nil {
		since, err = labhttp.QueryInt(q, "since", -1, 0, math.MaxInt)
	}
	if err == nil {
		holdMS, err = labhttp.QueryInt(q, "wait_ms", waitsHoldMS, 0, waitsMaxHoldMS)
	}
	if err != nil {
		labhttp.WriteError(w, r, err)
		return
	}
	if i.waits == nil {
		writeJSON(w, http.StatusOK, WaitsView{Clock: "real", Now: i.now()})
		return
	}
	_, _, version, changed := i.waits.asleep(i.now())
	if since >= 0 && uint64(since) == version && holdMS > 0 {
		hold := time.NewTimer(time.Duration(holdMS) * time.Millisecond)
		select {
		case <-changed:
		case <-hold.C:
		case <-r.Context().Done():
		}
		hold.Stop()
	}
	now := i.now()
	n, next, version, _ := i.waits.asleep(now)
	v := WaitsView{Clock: "manual", Now: now, Waiting: n, Version: version}
	if n > 0 {
		v.NextWake = &next
	}
	writeJSON(w, http.StatusOK, v)
}
