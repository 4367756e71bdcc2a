// Package sqlopen opens the workbook's databases as *sql.DB: PostgreSQL by
// URL, or a SQLite file with the pragmas and the transaction mode the
// workbook relies on. The store builds its models on such a handle; the
// grader's environments and the lab test kit use one directly, so labs get
// a database without importing the store.
package sqlopen

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Dialect names a SQL dialect.
type Dialect string

// The dialects the workbook runs on.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Options choose the database.
type Options struct {
	// PostgresURL selects PostgreSQL; empty selects SQLite at SQLitePath.
	PostgresURL string
	SQLitePath  string
	// ConnectTimeout bounds opening a connection to PostgreSQL when the
	// URL sets none: 3 s when zero (see connectTimeout). A grading's own
	// database takes GradingConnectTimeout.
	ConnectTimeout time.Duration
}

// GradingConnectTimeout is how long a connection to a grading's own
// PostgreSQL may take to open. No check stops that database, so a long
// wait fails nothing a learner designed; a short one would let a busy
// machine, whose new connections can take seconds to authenticate, fail
// a check (a pool growing under 50 concurrent writes once did).
const GradingConnectTimeout = 30 * time.Second

// Open connects and checks, within 10 seconds, that the database answers.
func Open(ctx context.Context, o Options) (*sql.DB, Dialect, error) {
	var (
		db      *sql.DB
		dialect Dialect
		err     error
	)
	if o.PostgresURL != "" {
		dialect = Postgres
		var c driver.Connector
		if c, err = openPostgres(withConnectTimeout(o.PostgresURL, o.ConnectTimeout)); err == nil {
			db = sql.OpenDB(c)
			db.SetMaxOpenConns(20)
			db.SetMaxIdleConns(10)
			db.SetConnMaxIdleTime(5 * time.Minute)
		}
	} else {
		dialect = SQLite
		db, err = openSQLite(o.SQLitePath)
	}
	if err != nil {
		return nil, "", fmt.Errorf("open %s: %w", dialect, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		_ = db.Close()
		return nil, "", fmt.Errorf("%s does not answer: %w", dialect, err)
	}
	return db, dialect, nil
}

// connectTimeout bounds opening a connection to PostgreSQL when the URL
// sets no connect_timeout of its own. Without it, a connection to a server
// that has just gone away (its address no longer answers) waits for as
// long as the request does; with it, the request gets its 503 in seconds.
const connectTimeout = "3"

// withConnectTimeout adds connect_timeout (d in whole seconds, or
// connectTimeout when d is zero) to a PostgreSQL URL or keyword/value
// string that has none.
func withConnectTimeout(dsn string, d time.Duration) string {
	if strings.Contains(dsn, "connect_timeout") {
		return dsn
	}
	secs := connectTimeout
	if d > 0 {
		secs = strconv.Itoa(max(1, int(d.Seconds())))
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return dsn // the driver says what is wrong with it
		}
		q := u.Query()
		q.Set("connect_timeout", secs)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn) + " connect_timeout=" + secs
}

// sqliteURIPath escapes the characters a file: URI gives a meaning to, so
// a path with "#" or "?" (a subtest named "" has "#00" in its temporary
// directory) opens that file rather than one cut short at the "#".
func sqliteURIPath(p string) string {
	return strings.NewReplacer("%", "%25", "#", "%23", "?", "%3f").Replace(p)
}

func openSQLite(path string) (*sql.DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	q := url.Values{}
	// busy_timeout first: the pragmas after it (journal_mode takes a
	// lock) would otherwise fail at once on a connection opened while
	// another one writes.
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_time_format", "sqlite")
	registerSQLite()
	db, err := sql.Open(sqliteDriver, "file:"+sqliteURIPath(path)+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	// One writer at a time is all SQLite allows; a few readers share WAL.
	db.SetMaxOpenConns(4)
	return db, nil
}
