package shortener

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The database is the lab's source of truth: each shard is a table of its
// own (in one database, standing for one server each), named after the
// instance, so instances never share rows and Close drops them whole. A
// meta table keeps what must outlive the process: the sequence's next id
// and the current shard layout. Click counts live in their own table, so
// a redirect never writes the links tables.
//
// Schema of a shard:
//
//	code        TEXT PRIMARY KEY   -- generated code or alias
//	url         TEXT NOT NULL
//	created_ms  BIGINT NOT NULL    -- Unix ms
//	expires_ms  BIGINT             -- Unix ms; NULL never expires
//	seed        INTEGER            -- demo link number; NULL for created links

// tables names an instance's tables.
type tables struct{ prefix string }

func tablesFor(instance string) tables { return tables{prefix: "shortener_" + instance + "_"} }

func (t tables) shard(i int) string { return t.prefix + "s" + strconv.Itoa(i) }
func (t tables) meta() string       { return t.prefix + "meta" }
func (t tables) clicks() string     { return t.prefix + "clicks" }

// link is one row.
type link struct {
	Code      string
	URL       string
	CreatedMS int64
	ExpiresMS int64 // 0: never
	Seed      int   // -1: a created link
}

func nullable(ms int64) sql.NullInt64 { return sql.NullInt64{Int64: ms, Valid: ms != 0} }

// createBaseTables creates the meta and clicks tables if they are missing.
func (in *instance) createBaseTables(ctx context.Context) error {
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS ` + in.tab.meta() + ` (name TEXT PRIMARY KEY, num BIGINT NOT NULL DEFAULT 0, txt TEXT NOT NULL DEFAULT '')`,
		`CREATE TABLE IF NOT EXISTS ` + in.tab.clicks() + ` (code TEXT PRIMARY KEY, clicks BIGINT NOT NULL)`,
	} {
		if _, err := in.env.DB.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create table: %w", err)
		}
	}
	return nil
}

// execer is a database or a transaction.
type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
}

func (in *instance) createShardTables(ctx context.Context, db execer, n int) error {
	for i := range n {
		q := `CREATE TABLE IF NOT EXISTS ` + in.tab.shard(i) +
			` (code TEXT PRIMARY KEY, url TEXT NOT NULL, created_ms BIGINT NOT NULL, expires_ms BIGINT, seed INTEGER)`
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create shard table %d: %w", i, err)
		}
	}
	return nil
}

// readLayout reads the layout the tables are in; ok is false for fresh
// tables (no layout written yet).
func (in *instance) readLayout(ctx context.Context) (layout, bool, error) {
	var shards int
	var sharding string
	err := in.env.DB.QueryRowContext(ctx, in.env.Rebind(`SELECT num, txt FROM `+in.tab.meta()+` WHERE name = ?`), "layout").
		Scan(&shards, &sharding)
	if errors.Is(err, sql.ErrNoRows) {
		return layout{}, false, nil
	}
	if err != nil {
		return layout{}, false, fmt.Errorf("read the shard layout: %w", err)
	}
	if shards < 1 || shards > maxShards || (sharding != ShardModulo && sharding != ShardConsistent) {
		return layout{}, false, fmt.Errorf("the stored shard layout (%d, %q) is not valid", shards, sharding)
	}
	return newRingLayout(shards, sharding, in.cfg.vnodes), true, nil
}

func (in *instance) writeLayout(ctx context.Context, db execer, l layout) error {
	_, err := db.ExecContext(ctx, in.env.Rebind(`INSERT INTO `+in.tab.meta()+` (name, num, txt) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET num = excluded.num, txt = excluded.txt`), "layout", l.shards, l.sharding)
	return err
}

// allocateIDs takes n sequence ids from the database and returns the
// first; the counter lives in the meta table, so a restarted process
// continues after the last block it took (and skips what was left of it).
func (in *instance) allocateIDs(ctx context.Context, n uint64) (uint64, error) {
	if _, err := in.env.DB.ExecContext(ctx, in.env.Rebind(`INSERT INTO `+in.tab.meta()+` (name, num) VALUES (?, 0)
		ON CONFLICT (name) DO NOTHING`), "seq"); err != nil {
		return 0, fmt.Errorf("sequence: %w", err)
	}
	var end int64
	err := in.env.DB.QueryRowContext(ctx, in.env.Rebind(`UPDATE `+in.tab.meta()+` SET num = num + ? WHERE name = ? RETURNING num`),
		int64(n), "seq").Scan(&end)
	if err != nil {
		return 0, fmt.Errorf("sequence: %w", err)
	}
	return uint64(end) - n, nil
}

// insertLink adds l to shard unless its code is taken; inserted is false
// on a collision.
func (in *instance) insertLink(ctx context.Context, shard int, l link) (bool, error) {
	var seed any
	if l.Seed >= 0 {
		seed = l.Seed
	}
	res, err := in.env.DB.ExecContext(ctx, in.env.Rebind(`INSERT INTO `+in.tab.shard(shard)+
		` (code, url, created_ms, expires_ms, seed) VALUES (?, ?, ?, ?, ?) ON CONFLICT (code) DO NOTHING`),
		l.Code, l.URL, l.CreatedMS, nullable(l.ExpiresMS), seed)
	if err != nil {
		return false, fmt.Errorf("insert into shard %d: %w", shard, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// insertBatch adds rows to one shard in multi-row statements (the demo
// links at launch); codes must be free.
func (in *instance) insertBatch(ctx context.Context, db execer, shard int, rows []link) error {
	const batch = 200 // 1,000 placeholders: under every driver's limit
	for first := 0; first < len(rows); first += batch {
		part := rows[first:min(first+batch, len(rows))]
		var q strings.Builder
		q.WriteString(`INSERT INTO ` + in.tab.shard(shard) + ` (code, url, created_ms, expires_ms, seed) VALUES `)
		args := make([]any, 0, 5*len(part))
		for i, l := range part {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?)")
			var seed any
			if l.Seed >= 0 {
				seed = l.Seed
			}
			args = append(args, l.Code, l.URL, l.CreatedMS, nullable(l.ExpiresMS), seed)
		}
		if _, err := db.ExecContext(ctx, in.env.Rebind(q.String()), args...); err != nil {
			return fmt.Errorf("insert into shard %d: %w", shard, err)
		}
	}
	return nil
}

// readLink reads code from shard; ok is false when it is not there.
func (in *instance) readLink(ctx context.Context, shard int, code string) (link, bool, error) {
	l := link{Code: code, Seed: -1}
	var exp sql.NullInt64
	var seed sql.NullInt64
	err := in.env.DB.QueryRowContext(ctx, in.env.Rebind(`SELECT url, created_ms, expires_ms, seed FROM `+in.tab.shard(shard)+` WHERE code = ?`), code).
		Scan(&l.URL, &l.CreatedMS, &exp, &seed)
	if errors.Is(err, sql.ErrNoRows) {
		return link{}, false, nil
	}
	if err != nil {
		return link{}, false, fmt.Errorf("read shard %d: %w", shard, err)
	}
	l.ExpiresMS = exp.Int64
	if seed.Valid {
		l.Seed = int(seed.Int64)
	}
	return l, true, nil
}

// countLinks counts each shard's rows.
func (in *instance) countLinks(ctx context.Context, n int) ([]int64, error) {
	out := make([]int64, n)
	for i := range n {
		if err := in.env.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+in.tab.shard(i)).Scan(&out[i]); err != nil {
			return nil, fmt.Errorf("count shard %d: %w", i, err)
		}
	}
	return out, nil
}

// shardCodes lists every code in shard.
func (in *instance) shardCodes(ctx context.Context, shard int) ([]string, error) {
	rows, err := in.env.DB.QueryContext(ctx, `SELECT code FROM `+in.tab.shard(shard))
	if err != nil {
		return nil, fmt.Errorf("list shard %d: %w", shard, err)
	}
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// sampleCodes lists up to n codes of shard, in code order.
func (in *instance) sampleCodes(ctx context.Context, shard, n int) ([]string, error) {
	rows, err := in.env.DB.QueryContext(ctx, in.env.Rebind(`SELECT code FROM `+in.tab.shard(shard)+` ORDER BY code LIMIT ?`), n)
	if err != nil {
		return nil, fmt.Errorf("list shard %d: %w", shard, err)
	}
	defer func() { _ = rows.Close() }()
	out := []string{}
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// pageLinks reads up to n links of shard in code order, after the code
// after ("" for the first).
func (in *instance) pageLinks(ctx context.Context, shard int, after string, n int) ([]StoredLink, error) {
	rows, err := in.env.DB.QueryContext(ctx, in.env.Rebind(`SELECT code, url, expires_ms FROM `+in.tab.shard(shard)+
		` WHERE code > ? ORDER BY code LIMIT ?`), after, n)
	if err != nil {
		return nil, fmt.Errorf("list shard %d: %w", shard, err)
	}
	defer func() { _ = rows.Close() }()
	var out []StoredLink
	for rows.Next() {
		l := StoredLink{Shard: shard}
		var exp sql.NullInt64
		if err := rows.Scan(&l.Code, &l.URL, &exp); err != nil {
			return nil, err
		}
		if exp.Valid {
			l.ExpiresAt = &exp.Int64
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// seedCodes reads the demo links' codes by number (after a restart).
func (in *instance) seedCodes(ctx context.Context, shards int) ([]string, error) {
	var out []string
	for i := range shards {
		rows, err := in.env.DB.QueryContext(ctx, `SELECT seed, code FROM `+in.tab.shard(i)+` WHERE seed IS NOT NULL`)
		if err != nil {
			return nil, fmt.Errorf("read demo links of shard %d: %w", i, err)
		}
		for rows.Next() {
			var n int
			var c string
			if err := rows.Scan(&n, &c); err != nil {
				_ = rows.Close()
				return nil, err
			}
			if n >= 0 && n < seedLinks {
				if n >= len(out) {
					out = append(out, make([]string, n+1-len(out))...)
				}
				out[n] = c
			}
		}
		err = rows.Err()
		_ = rows.Close()
		if err != nil {
			return nil, err
		}
	}
	// A hole (a demo link moved by hand) would make Hit ask for "".
	kept := out[:0]
	for _, c := range out {
		if c != "" {
			kept = append(kept, c)
		}
	}
	return kept, nil
}

// moveCodes moves codes from shard src to dst inside tx, in chunks.
func (in *instance) moveCodes(ctx context.Context, tx *sql.Tx, src, dst int, codes []string) error {
	const chunk = 500
	for first := 0; first < len(codes); first += chunk {
		part := codes[first:min(first+chunk, len(codes))]
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(part)), ", ")
		args := make([]any, len(part))
		for i, c := range part {
			args[i] = c
		}
		if _, err := tx.ExecContext(ctx, in.env.Rebind(`INSERT INTO `+in.tab.shard(dst)+` (code, url, created_ms, expires_ms, seed)
			SELECT code, url, created_ms, expires_ms, seed FROM `+in.tab.shard(src)+` WHERE code IN (`+marks+`)`), args...); err != nil {
			return fmt.Errorf("copy from shard %d to %d: %w", src, dst, err)
		}
		if _, err := tx.ExecContext(ctx, in.env.Rebind(`DELETE FROM `+in.tab.shard(src)+` WHERE code IN (`+marks+`)`), args...); err != nil {
			return fmt.Errorf("delete moved rows from shard %d: %w", src, err)
		}
	}
	return nil
}

// addClicks adds counts to the clicks table in one transaction.
func (in *instance) addClicks(ctx context.Context, counts map[string]int64) error {
	tx, err := in.env.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // no-op after Commit
	q := in.env.Rebind(`INSERT INTO ` + in.tab.clicks() + ` (code, clicks) VALUES (?, ?)
		ON CONFLICT (code) DO UPDATE SET clicks = ` + in.tab.clicks() + `.clicks + excluded.clicks`)
	for code, n := range counts {
		if _, err := tx.ExecContext(ctx, q, code, n); err != nil {
			return fmt.Errorf("add clicks: %w", err)
		}
	}
	return tx.Commit()
}

// dbClicks reads code's flushed click count.
func (in *instance) dbClicks(ctx context.Context, code string) (int64, error) {
	var n int64
	err := in.env.DB.QueryRowContext(ctx, in.env.Rebind(`SELECT clicks FROM `+in.tab.clicks()+` WHERE code = ?`), code).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// dropTables removes every table the instance may have made.
func (in *instance) dropTables(ctx context.Context) error {
	var errs []error
	names := []string{in.tab.meta(), in.tab.clicks()}
	for i := range maxShards {
		names = append(names, in.tab.shard(i))
	}
	for _, t := range names {
		if _, err := in.env.DB.ExecContext(ctx, `DROP TABLE IF EXISTS `+t); err != nil {
			errs = append(errs, fmt.Errorf("drop %s: %w", t, err))
		}
	}
	return errors.Join(errs...)
}

func (in *instance) dropShardTables(ctx context.Context, from, to int) error {
	for i := from; i < to; i++ {
		if _, err := in.env.DB.ExecContext(ctx, `DROP TABLE IF EXISTS `+in.tab.shard(i)); err != nil {
			return fmt.Errorf("drop shard table %d: %w", i, err)
		}
	}
	return nil
}
