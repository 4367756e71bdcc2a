// Package store is the application's database: gorm models and the
// repository functions the rest of the code calls. Handlers never see
// *gorm.DB; they call methods on *Store and get models or apperr errors.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/migrations"
)

// Store wraps the database connection.
type Store struct {
	db      *gorm.DB
	dialect migrations.Dialect
}

// Options choose the database.
type Options struct {
	// PostgresURL selects PostgreSQL; empty selects SQLite at SQLitePath.
	PostgresURL string
	SQLitePath  string
	Logger      *slog.Logger
}

// Open connects to the database and checks that it answers. It does not
// migrate; call Migrate.
func Open(ctx context.Context, o Options) (*Store, error) {
	cfg := &gorm.Config{
		TranslateError: true,
		Logger:         logger.Discard,
		NowFunc:        func() time.Time { return time.Now().UTC() },
	}
	var (
		dial    gorm.Dialector
		dialect migrations.Dialect
	)
	if o.PostgresURL != "" {
		dial, dialect = postgres.Open(o.PostgresURL), migrations.Postgres
	} else {
		if err := os.MkdirAll(filepath.Dir(o.SQLitePath), 0o750); err != nil {
			return nil, fmt.Errorf("store: data dir: %w", err)
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
		dial = &sqlite.Dialector{DriverName: sqliteDriver, DSN: "file:" + sqliteURIPath(o.SQLitePath) + "?" + q.Encode()}
		dialect = migrations.SQLite
	}
	db, err := gorm.Open(dial, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dialect, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	if dialect == migrations.SQLite {
		// One writer at a time is all SQLite allows; a few readers share WAL.
		sqlDB.SetMaxOpenConns(4)
	} else {
		sqlDB.SetMaxOpenConns(20)
		sqlDB.SetMaxIdleConns(10)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	}
	s := &Store{db: db, dialect: dialect}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Ping(pctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("store: %s does not answer: %w", dialect, err)
	}
	return s, nil
}

// sqliteURIPath escapes the characters a file: URI gives a meaning to, so
// a path with "#" or "?" (a subtest named "" has "#00" in its temporary
// directory) opens that file rather than one cut short at the "#".
func sqliteURIPath(p string) string {
	return strings.NewReplacer("%", "%25", "#", "%23", "?", "%3f").Replace(p)
}

// Dialect says which database this is.
func (s *Store) Dialect() migrations.Dialect { return s.dialect }

// Migrate applies pending migrations and returns how many ran.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return 0, err
	}
	return migrations.Up(ctx, sqlDB, s.dialect)
}

// SQL returns the underlying *sql.DB, for the job queue and the schema check.
func (s *Store) SQL() *sql.DB {
	sqlDB, _ := s.db.DB()
	return sqlDB
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Close closes the connection pool.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// mapErr turns driver errors into application errors.
func mapErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound), errors.Is(err, sql.ErrNoRows):
		return apperr.Wrap(err, apperr.NotFound, "%s not found", what)
	case errors.Is(err, gorm.ErrDuplicatedKey), isUniqueViolation(err):
		return apperr.Wrap(err, apperr.Conflict, "%s already exists", what)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("store: %s: %w", what, err)
}

func isUniqueViolation(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLSTATE 23505") || strings.Contains(msg, "UNIQUE constraint failed")
}
