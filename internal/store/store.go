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
	"strings"
	"sync/atomic"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/sqlopen"
	"github.com/sdworkbook/workbook/migrations"
)

// Store wraps the database connection.
type Store struct {
	db       *gorm.DB
	dialect  migrations.Dialect
	changed  func(context.Context, AccountChange) // OnAccountChange
	writes   atomic.Uint64                        // WriteVersion
	learners learnerCache                         // CacheLearners
}

// Options choose the database.
type Options struct {
	// PostgresURL selects PostgreSQL; empty selects SQLite at SQLitePath.
	PostgresURL string
	SQLitePath  string
	// Logger gets the queries that took SlowQuery or longer (nil: none).
	Logger *slog.Logger
	// SlowQuery is the threshold; 0 means DefaultSlowQuery.
	SlowQuery time.Duration
}

// Open connects to the database and checks that it answers. It does not
// migrate; call Migrate.
func Open(ctx context.Context, o Options) (*Store, error) {
	sqlDB, d, err := sqlopen.Open(ctx, sqlopen.Options{PostgresURL: o.PostgresURL, SQLitePath: o.SQLitePath})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	cfg := &gorm.Config{
		TranslateError: true,
		Logger:         newSlowQueries(o.Logger, o.SlowQuery),
		NowFunc:        func() time.Time { return time.Now().UTC() },
	}
	dial := gorm.Dialector(postgres.New(postgres.Config{Conn: sqlDB}))
	if d == sqlopen.SQLite {
		dial = &sqlite.Dialector{Conn: sqlDB}
	}
	db, err := gorm.Open(dial, cfg)
	if err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("store: open %s: %w", d, err)
	}
	s := &Store{db: db, dialect: migrations.Dialect(d)}
	if err := countQueries(db); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := countWrites(db, &s.writes); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	return s, nil
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
