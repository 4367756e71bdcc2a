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

// failFastAfter failed attempts in a row answer the attempts of the next
// second without trying the server; after it the server is tried again,
// and a success ends it.
func TestFailedConnectFailsFastForASecond(t *testing.T) {
	down := errors.New("dial tcp: lookup postgres: no such host")
	c := &countingConnector{err: down}
	now := time.Unix(1000, 0)
	f := &fastFail{Connector: c, now: func() time.Time { return now }}
	ctx := context.Background()
	// A slow server under load fails an attempt now and then between
	// successes: every attempt still reaches it.
	for _, e := range []error{down, down, nil, down, down, nil} {
		c.err = e
		_, _ = f.Connect(ctx)
	}
	if c.calls != 6 {
		t.Fatalf("%d of 6 attempts reached a server that answers now and then", c.calls)
	}
	c.err = down
	for range 8 {
		if _, err := f.Connect(ctx); !errors.Is(err, down) {
			t.Fatalf("error %v, want the server's", err)
		}
	}
	if c.calls != 6+failFastAfter {
		t.Fatalf("%d attempts reached a server that is away, want %d", c.calls-6, failFastAfter)
	}
	now = now.Add(failFastFor)
	c.err = nil
	if _, err := f.Connect(ctx); err != nil || c.calls != 7+failFastAfter {
		t.Fatalf("after the second: %v, %d attempts", err, c.calls)
	}
	if _, err := f.Connect(ctx); err != nil || c.calls != 8+failFastAfter {
		t.Fatalf("once the server answers, every attempt reaches it: %v, %d", err, c.calls)
	}

	// A caller that gave up is not the server's failure.
	c.err = context.Canceled
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	for range failFastAfter + 1 {
		_, _ = f.Connect(cctx)
	}
	c.err = nil
	if _, err := f.Connect(ctx); err != nil {
		t.Fatalf("callers that gave up made the next attempt fail: %v", err)
	}
}
