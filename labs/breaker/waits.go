package breaker

import (
	"sync"
	"time"
)

// waitLog records the instance's calls that are waiting on a manual clock
// (the provider holding a call, a backoff pause) and when each will wake.
// A check suite that moves the clock reads it to know that every call it
// started is waiting, so it moves the clock only then, and only to the
// next wake-up: however slowly the machine runs the calls, each one sees
// the same times. It is nil on the real clock, where nobody needs it.
type waitLog struct {
	mu      sync.Mutex
	seq     uint64
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
	close(w.changed)
	w.changed = make(chan struct{})
}

// asleep counts the waits that are not yet due at now, gives the earliest
// time one of them wakes, and a channel closed at the next change. A wait
// that is due counts as running: its call has been woken and will move on.
func (w *waitLog) asleep(now time.Time) (n int, next time.Time, changed <-chan struct{}) {
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
	return n, next, w.changed
}
