package sqlopen

import (
	"context"
	"database/sql/driver"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// failFastFor is how long a failed connection attempt to PostgreSQL
// answers for the attempts after it.
const failFastFor = time.Second

// failFastAfter is how many attempts in a row must fail first.
const failFastAfter = 3

// fastFail opens PostgreSQL connections, and once failFastAfter attempts
// in a row have failed (no attempt succeeding in between: the server is
// away, not just slow under load), fails the attempts of the next second
// at once with the same error rather than letting each wait out the
// connect timeout on its own: while
// the database is away, requests queue behind a full pool of attempts
// that each wait seconds, and the waits add up past what a client
// tolerates. The app answers each with its 503 at once instead; the first
// attempt after the second tries the server again, so recovery costs at
// most that second.
type fastFail struct {
	driver.Connector
	now   func() time.Time
	mu    sync.Mutex
	err   error
	fails int // attempts failed in a row
	until time.Time
}

func openPostgres(dsn string) (driver.Connector, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	return &fastFail{Connector: stdlib.GetConnector(*cfg), now: time.Now}, nil
}

func (f *fastFail) Connect(ctx context.Context) (driver.Conn, error) {
	f.mu.Lock()
	if f.err != nil && f.now().Before(f.until) {
		err := f.err
		f.mu.Unlock()
		return nil, err
	}
	f.mu.Unlock()
	c, err := f.Connector.Connect(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case err == nil:
		f.err, f.fails = nil, 0
	case ctx.Err() == nil: // the server's failure, not the caller giving up
		if f.fails++; f.fails >= failFastAfter {
			f.err, f.until = err, f.now().Add(failFastFor)
		}
	}
	return c, err
}
