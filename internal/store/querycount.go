package store

import (
	"context"
	"sync/atomic"

	"gorm.io/gorm"
)

type queryCountKey struct{}

// CountQueries returns a context under which the store counts the SQL
// statements it sends, and the counter; a context already counting keeps
// its counter. The request log reports the count of each request.
func CountQueries(ctx context.Context) (context.Context, *atomic.Int64) {
	if n, ok := ctx.Value(queryCountKey{}).(*atomic.Int64); ok {
		return ctx, n
	}
	n := new(atomic.Int64)
	return context.WithValue(ctx, queryCountKey{}, n), n
}

// countQueries registers a callback after every kind of statement gorm
// sends that adds one to the statement context's counter, if it has one.
func countQueries(db *gorm.DB) error {
	count := func(tx *gorm.DB) {
		if tx.DryRun || tx.Statement == nil || tx.Statement.Context == nil {
			return // a subquery being built, not a statement sent
		}
		if n, ok := tx.Statement.Context.Value(queryCountKey{}).(*atomic.Int64); ok {
			n.Add(1)
		}
	}
	cb := db.Callback()
	for _, err := range []error{
		cb.Create().After("gorm:create").Register("workbook:count_create", count),
		cb.Query().After("gorm:query").Register("workbook:count_query", count),
		cb.Update().After("gorm:update").Register("workbook:count_update", count),
		cb.Delete().After("gorm:delete").Register("workbook:count_delete", count),
		cb.Row().After("gorm:row").Register("workbook:count_row", count),
		cb.Raw().After("gorm:raw").Register("workbook:count_raw", count),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// WriteVersion grows with every statement through this store that may
// change a row (insert, update, delete, raw statements), before and after
// its transaction commits. A copy of something read while it stood still
// is as fresh as the database for this process; writes by other
// processes do not move it.
func (s *Store) WriteVersion() uint64 { return s.writes.Load() }

// countWrites registers a callback after every statement that may change
// a row, and one before, so a read that overlaps a write never sees the
// same version on both sides of it.
func countWrites(db *gorm.DB, n *atomic.Uint64) error {
	bump := func(*gorm.DB) { n.Add(1) }
	cb := db.Callback()
	for _, err := range []error{
		cb.Create().Before("gorm:create").Register("workbook:write_before_create", bump),
		cb.Create().After("gorm:create").Register("workbook:write_create", bump),
		cb.Update().Before("gorm:update").Register("workbook:write_before_update", bump),
		cb.Update().After("gorm:update").Register("workbook:write_update", bump),
		cb.Delete().Before("gorm:delete").Register("workbook:write_before_delete", bump),
		cb.Delete().After("gorm:delete").Register("workbook:write_delete", bump),
		cb.Raw().Before("gorm:raw").Register("workbook:write_before_raw", bump),
		cb.Raw().After("gorm:raw").Register("workbook:write_raw", bump),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}
