package sqlopen

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync"

	gosqlite "github.com/glebarez/go-sqlite"
)

// sqliteDriver is the name of the SQLite driver the store opens: the pure
// Go driver, with every read-write transaction begun IMMEDIATE.
//
// A deferred transaction that reads and then writes cannot wait for the
// write lock: when another connection wrote in between, SQLite refuses it
// at once with SQLITE_BUSY, whatever the busy timeout. Taking the lock at
// BEGIN makes such transactions wait their turn instead. The driver's own
// _txlock option would do this, but it is ignored whenever _time_format is
// set, which the store needs for sortable timestamps.
const sqliteDriver = "sqlite-immediate"

var registerOnce sync.Once

func registerSQLite() {
	registerOnce.Do(func() { sql.Register(sqliteDriver, immediateDriver{}) })
}

type immediateDriver struct{}

func (immediateDriver) Open(name string) (driver.Conn, error) {
	c, err := (&gosqlite.Driver{}).Open(name)
	if err != nil {
		return nil, err
	}
	return immediateConn{c.(innerConn)}, nil
}

// innerConn is what the pure Go driver's connections implement.
type innerConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
}

type immediateConn struct{ innerConn }

// BeginTx begins read-write transactions IMMEDIATE; read-only ones stay
// deferred so they never wait for a writer.
func (c immediateConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if opts.ReadOnly {
		return c.innerConn.BeginTx(ctx, opts)
	}
	if _, err := c.innerConn.ExecContext(ctx, "BEGIN IMMEDIATE", nil); err != nil {
		return nil, err
	}
	return immediateTx{c}, nil
}

// Begin is the context-free form database/sql no longer calls.
func (c immediateConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

type immediateTx struct{ c immediateConn }

func (t immediateTx) Commit() error {
	_, err := t.c.innerConn.ExecContext(context.Background(), "COMMIT", nil)
	return err
}

func (t immediateTx) Rollback() error {
	_, err := t.c.innerConn.ExecContext(context.Background(), "ROLLBACK", nil)
	return err
}
