package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Item is one catalogue entry. Version rises by one with every write, so
// "older" is well defined for stale-read detection.
type Item struct {
	ID      int    `json:"id"`
	Name    string `json:"name"`
	Price   int64  `json:"price"`
	Version int64  `json:"version"`
}

// errNoItem is an id outside the catalogue.
var errNoItem = errors.New("no such item")

const createTable = `CREATE TABLE IF NOT EXISTS cache_lab_items (
	instance TEXT NOT NULL,
	id INTEGER NOT NULL,
	name TEXT NOT NULL,
	price BIGINT NOT NULL,
	version BIGINT NOT NULL,
	PRIMARY KEY (instance, id)
)`

// seedBatch rows per INSERT keeps the statement under every driver's
// placeholder limit while seeding 1,000 rows in four round trips.
const seedBatch = 250

// seed replaces the instance's rows with a fresh catalogue in one
// transaction (a reconfigured instance starts from version 1 again).
func (in *instance) seed(ctx context.Context) error {
	tx, err := in.env.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // no-op after Commit
	if _, err := tx.ExecContext(ctx, in.env.Rebind(`DELETE FROM cache_lab_items WHERE instance = ?`), in.env.Instance); err != nil {
		return fmt.Errorf("clear rows: %w", err)
	}
	for first := 1; first <= CatalogueSize; first += seedBatch {
		last := min(first+seedBatch-1, CatalogueSize)
		var q strings.Builder
		q.WriteString(`INSERT INTO cache_lab_items (instance, id, name, price, version) VALUES `)
		args := make([]any, 0, 5*(last-first+1))
		for id := first; id <= last; id++ {
			if id > first {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, 1)")
			args = append(args, in.env.Instance, id, fmt.Sprintf("Product %04d", id), seedPrice(id))
		}
		if _, err := tx.ExecContext(ctx, in.env.Rebind(q.String()), args...); err != nil {
			return fmt.Errorf("seed rows: %w", err)
		}
	}
	return tx.Commit()
}

// seedPrice spreads prices from 1.00 to 99.99 (in cents) deterministically.
func seedPrice(id int) int64 { return int64(100 + (id*7919)%9900) }

// dbRead reads one item, paying the configured latency half before the
// query and half after it: a reader then holds the row it read for a while
// before it can fill the cache, which is what opens the stale-fill race.
// The sleeps hold no database connection.
func (in *instance) dbRead(ctx context.Context, id int) (Item, error) {
	in.countDBRead(ctx)
	half := in.cfg.dbLatency / 2
	if err := in.sleep(ctx, half); err != nil {
		return Item{}, err
	}
	it := Item{ID: id}
	err := in.env.DB.QueryRowContext(ctx,
		in.env.Rebind(`SELECT name, price, version FROM cache_lab_items WHERE instance = ? AND id = ?`),
		in.env.Instance, id).Scan(&it.Name, &it.Price, &it.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return Item{}, errNoItem
	}
	if err != nil {
		return Item{}, fmt.Errorf("database read: %w", err)
	}
	if err := in.sleep(ctx, in.cfg.dbLatency-half); err != nil {
		return Item{}, err
	}
	return it, nil
}

// dbWrite commits a new price (and name, when given) and returns the row
// with the version the database assigned.
func (in *instance) dbWrite(ctx context.Context, id int, price int64, name *string) (Item, error) {
	if d := in.cfg.dbWrite; d > 0 {
		if err := in.sleep(ctx, d); err != nil {
			return Item{}, err
		}
	}
	it := Item{ID: id}
	err := in.env.DB.QueryRowContext(ctx, in.env.Rebind(
		`UPDATE cache_lab_items SET price = ?, name = COALESCE(?, name), version = version + 1
		 WHERE instance = ? AND id = ? RETURNING name, price, version`),
		price, name, in.env.Instance, id).Scan(&it.Name, &it.Price, &it.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return Item{}, errNoItem
	}
	if err != nil {
		return Item{}, fmt.Errorf("database write: %w", err)
	}
	in.env.Metrics.Count("db_writes", 1)
	in.dbWrites.Add(1)
	return it, nil
}

// dbApply writes a batch of write-behind writes in one transaction. The
// version condition makes it idempotent and order-proof: replaying a write
// after a crash, or applying an older one late, never moves an item back.
func (in *instance) dbApply(ctx context.Context, ws []queuedWrite) error {
	tx, err := in.env.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	q := in.env.Rebind(`UPDATE cache_lab_items SET name = ?, price = ?, version = ?
		WHERE instance = ? AND id = ? AND version < ?`)
	batch := coalesce(ws)
	for _, w := range batch {
		if _, err := tx.ExecContext(ctx, q, w.Name, w.Price, w.Version, in.env.Instance, w.ID, w.Version); err != nil {
			return fmt.Errorf("flush item %d: %w", w.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	in.env.Metrics.Count("db_writes", float64(len(batch)))
	in.dbWrites.Add(int64(len(batch)))
	return nil
}

// coalesce keeps the newest write of each item: fifty writes to one item
// between flushes cost one database write, the point of write-behind.
func coalesce(ws []queuedWrite) []queuedWrite {
	newest := make(map[int]int, len(ws))
	out := make([]queuedWrite, 0, len(ws))
	for _, w := range ws {
		if i, ok := newest[w.ID]; ok {
			if w.Version > out[i].Version {
				out[i] = w
			}
			continue
		}
		newest[w.ID] = len(out)
		out = append(out, w)
	}
	return out
}

// dbVersions returns every item's committed version (for the crash report;
// it is the lab's own bookkeeping, so it pays no simulated latency).
func (in *instance) dbVersions(ctx context.Context) (map[int]int64, error) {
	rows, err := in.env.DB.QueryContext(ctx,
		in.env.Rebind(`SELECT id, version FROM cache_lab_items WHERE instance = ?`), in.env.Instance)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[int]int64, CatalogueSize)
	for rows.Next() {
		var id int
		var v int64
		if err := rows.Scan(&id, &v); err != nil {
			return nil, err
		}
		out[id] = v
	}
	return out, rows.Err()
}

func (in *instance) dbDeleteRows(ctx context.Context) error {
	_, err := in.env.DB.ExecContext(ctx, in.env.Rebind(`DELETE FROM cache_lab_items WHERE instance = ?`), in.env.Instance)
	return err
}

// dbRow reads one item as the database holds it, for GET /db/items/{item}:
// the lab's own bookkeeping, so it pays no simulated latency and is not
// counted as a database read.
func (in *instance) dbRow(ctx context.Context, id int) (Item, error) {
	it := Item{ID: id}
	err := in.env.DB.QueryRowContext(ctx,
		in.env.Rebind(`SELECT name, price, version FROM cache_lab_items WHERE instance = ? AND id = ?`),
		in.env.Instance, id).Scan(&it.Name, &it.Price, &it.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return Item{}, errNoItem
	}
	if err != nil {
		return Item{}, fmt.Errorf("database row: %w", err)
	}
	return it, nil
}
