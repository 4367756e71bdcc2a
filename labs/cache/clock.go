package cache

import (
	"context"
	"errors"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// now is the time on the instance's clock.
func (in *instance) now() time.Time { return in.clock.Now() }

// sleep waits d on the instance's clock, or until ctx ends. Inside an
// operation a manual clock's driver follows, it is one of its waits.
func (in *instance) sleep(ctx context.Context, d time.Duration) error {
	if a := activityOf(ctx); a != nil {
		return a.sleep(ctx, d)
	}
	return labs.Sleep(ctx, in.clock, d)
}

// withTimeout is context.WithTimeout on the instance's clock. On a manual
// clock the context ends when the clock passes d from now, and it has no
// Deadline: Redis and database clients read a context's deadline as the
// machine's time, and a manual clock's time is not that.
func (in *instance) withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, real := in.clock.(labs.RealClock); real {
		return context.WithTimeout(ctx, d)
	}
	inner, cancel := context.WithCancelCause(ctx)
	t := in.clock.NewTimer(d)
	go func() {
		select {
		case <-t.C():
			cancel(context.DeadlineExceeded)
		case <-inner.Done():
			t.Stop()
		}
	}()
	return clockTimeout{inner}, func() { cancel(context.Canceled) }
}

// clockTimeout says it timed out as context.WithTimeout's context does.
type clockTimeout struct{ context.Context }

func (c clockTimeout) Err() error {
	err := c.Context.Err()
	if err != nil && errors.Is(context.Cause(c.Context), context.DeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return err
}

// keyBackstop is how long Redis keeps a key after its life on a clock other
// than the real one has ended.
const keyBackstop = 10 * time.Minute

// redisTTL is the expiry Redis is given for a key that lives d on the
// instance's clock. On the real clock that is d: Redis expires cached items
// and locks as the lesson says. On a manual clock Redis's own time would
// decide by the machine's speed, so the clock decides instead (an entry
// carries its expiry and a read past it is a miss; a lock's waiters give up
// at their deadline) and Redis drops the key only long after, so that a
// grading that never closed its instance leaves nothing behind.
func (in *instance) redisTTL(d time.Duration) time.Duration {
	if _, real := in.clock.(labs.RealClock); real {
		return d
	}
	return d + keyBackstop
}
