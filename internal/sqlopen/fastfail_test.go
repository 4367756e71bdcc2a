package sqlopen

import (
	"context"
	"database/sql/driver"
	"errors"
	"testing"
	"time"
)

type countingConnector struct {
	calls int
	err   error
}

func (c *countingConnector) Connect(context.Context) (driver.Conn, error) {
	c.calls++
	return nil, c.err
}

func (*countingConnector) Driver() driver.Driver { return nil }

// A failed attempt answers the attempts of the next second without trying
// the server; after it the server is tried again, and a success ends it. A
// caller that gave up is not the server's failure.
func TestFailedConnectFailsFastForASecond(t *testing.T) {
	down := errors.New("dial tcp: lookup postgres: no such host")
	c := &countingConnector{err: down}
	now := time.Unix(1000, 0)
	f := &fastFail{Connector: c, now: func() time.Time { return now }}
	ctx := context.Background()
	for range 5 {
		if _, err := f.Connect(ctx); !errors.Is(err, down) {
			t.Fatalf("error %v, want the server's", err)
		}
	}
	if c.calls != 1 {
		t.Fatalf("%d attempts reached the server within the second, want 1", c.calls)
	}
	now = now.Add(failFastFor)
	c.err = nil
	if _, err := f.Connect(ctx); err != nil || c.calls != 2 {
		t.Fatalf("after the second: %v, %d attempts", err, c.calls)
	}
	if _, err := f.Connect(ctx); err != nil || c.calls != 3 {
		t.Fatalf("once the server answers, every attempt reaches it: %v, %d", err, c.calls)
	}

	c.err = context.Canceled
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, _ = f.Connect(cctx)
	c.err = nil
	if _, err := f.Connect(ctx); err != nil || c.calls != 5 {
		t.Fatalf("a caller that gave up made the next attempt fail: %v, %d", err, c.calls)
	}
}
