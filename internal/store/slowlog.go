package store

import (
	"context"
	"log/slog"
	"time"

	"gorm.io/gorm/logger"
)

// DefaultSlowQuery is how long a database query may take before it is
// logged.
const DefaultSlowQuery = 200 * time.Millisecond

// slowQueries is gorm's logger: it logs a query that took its threshold or
// longer at warn, with its duration in milliseconds and its SQL with the
// placeholders left in (values may be secrets: password hashes, tokens).
// Errors are not logged here: the code that made the query decides what
// an error means and logs it with the request's id.
type slowQueries struct {
	log       *slog.Logger
	threshold time.Duration
}

func newSlowQueries(log *slog.Logger, threshold time.Duration) logger.Interface {
	if log == nil {
		return logger.Discard
	}
	if threshold <= 0 {
		threshold = DefaultSlowQuery
	}
	return slowQueries{log: log.With("component", "database"), threshold: threshold}
}

func (l slowQueries) LogMode(logger.LogLevel) logger.Interface { return l }
func (slowQueries) Info(context.Context, string, ...any)       {}
func (slowQueries) Warn(context.Context, string, ...any)       {}
func (slowQueries) Error(context.Context, string, ...any)      {}
func (slowQueries) ParamsFilter(_ context.Context, sql string, _ ...any) (string, []any) {
	return sql, nil
}

func (l slowQueries) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), _ error) {
	d := time.Since(begin)
	if d < l.threshold {
		return
	}
	sql, rows := fc()
	if len(sql) > 2000 {
		sql = sql[:2000] + "…"
	}
	l.log.LogAttrs(ctx, slog.LevelWarn, "slow database query",
		slog.Float64("duration_ms", float64(d.Microseconds())/1000), slog.Int64("rows", rows), slog.String("sql", sql))
}
