// Package migrations holds the versioned SQL schema, one folder per dialect,
// and applies it with goose. Each migration runs in its own transaction.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// Dialect names a SQL dialect we ship migrations for.
type Dialect string

// The supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

func provider(db *sql.DB, d Dialect) (*goose.Provider, error) {
	sub, err := fs.Sub(files, string(d))
	if err != nil {
		return nil, err
	}
	if d == SQLite {
		return goose.NewProvider(goose.DialectSQLite3, db, sub)
	}
	// Replicas starting together must not migrate at once: a session-level
	// advisory lock makes the second wait for the first.
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker))
}

// Up applies every pending migration and returns how many ran.
func Up(ctx context.Context, db *sql.DB, d Dialect) (int, error) {
	p, err := provider(db, d)
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("migrations: %w", err)
	}
	n, err := riverUp(ctx, db, d)
	if err != nil {
		return len(res) + n, fmt.Errorf("migrations: job queue: %w", err)
	}
	return len(res) + n, nil
}

// UpTo applies the pending migrations of the application's schema up to
// version, and none of the job queue's; it returns how many ran. Tests use
// it to fill an older schema with rows before migrating the rest.
func UpTo(ctx context.Context, db *sql.DB, d Dialect, version int64) (int, error) {
	p, err := provider(db, d)
	if err != nil {
		return 0, fmt.Errorf("migrations: %w", err)
	}
	res, err := p.UpTo(ctx, version)
	if err != nil {
		return len(res), fmt.Errorf("migrations: %w", err)
	}
	return len(res), nil
}

// riverLockKey is the advisory lock replicas take while migrating the job
// queue's tables, so two starting together do not both create them.
const riverLockKey = 0x5742_5256 // "WBRV"

// riverUp applies the job queue's own migrations (River ships them as
// code, per driver) and returns how many ran.
func riverUp(ctx context.Context, db *sql.DB, d Dialect) (int, error) {
	if d == Postgres {
		conn, err := db.Conn(ctx)
		if err != nil {
			return 0, err
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", riverLockKey); err != nil {
			return 0, err
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", riverLockKey) //nolint:errcheck // the session ends with the conn anyway
		m, err := rivermigrate.New(riverdatabasesql.New(db), nil)
		if err != nil {
			return 0, err
		}
		res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		if err != nil {
			return 0, err
		}
		return len(res.Versions), nil
	}
	m, err := rivermigrate.New(riversqlite.New(db), nil)
	if err != nil {
		return 0, err
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return 0, err
	}
	return len(res.Versions), nil
}

// Version returns the schema version the database is at.
func Version(ctx context.Context, db *sql.DB, d Dialect) (int64, error) {
	p, err := provider(db, d)
	if err != nil {
		return 0, err
	}
	return p.GetDBVersion(ctx)
}

// Latest is the newest schema version this build ships for d: a database
// at a higher one was made by a newer build.
func Latest(d Dialect) (int64, error) {
	entries, err := fs.ReadDir(files, string(d))
	if err != nil {
		return 0, err
	}
	var latest int64
	for _, e := range entries {
		var v int64
		if _, err := fmt.Sscanf(e.Name(), "%d_", &v); err == nil && v > latest {
			latest = v
		}
	}
	return latest, nil
}
