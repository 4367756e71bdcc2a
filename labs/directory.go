package labs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Replica names one server process for the directory: ID is unique per
// process (a restarted replica has a new one), URL is where the other
// replicas reach it.
type Replica struct {
	ID  string
	URL string
}

// Entry is one row of the directory: a running instance and the replica
// that holds its live part.
type Entry struct {
	ID        string
	Lab       string
	Owner     int64
	Design    []byte // JSON
	Holder    Replica
	Heartbeat time.Time
	Created   time.Time
}

// Directory is the table of running lab instances shared by every replica
// (lab_instances, created by the app's migrations). The launch limits are
// counted in it, each replica renews the heartbeat of what it holds, and
// an instance whose holder stopped is claimed in it by one replica only:
// every change that must be decided once is a compare-and-set.
type Directory struct {
	db      *sql.DB
	dialect string
	self    Replica
	pres    presence
}

// NewDirectory is the directory on db, seen from replica self.
func NewDirectory(db *sql.DB, dialect string, self Replica) *Directory {
	return &Directory{db: db, dialect: dialect, self: self}
}

// Self is this replica.
func (d *Directory) Self() Replica { return d.self }

// directoryLockKey serialises launches on PostgreSQL while the limits are
// counted; SQLite's immediate transactions are serial already.
const directoryLockKey = 7420212

func (d *Directory) q(s string) string { return Env{Dialect: d.dialect}.Rebind(s) }

func ms(t time.Time) int64 { return t.UnixMilli() }

// reserve adds e, held by this replica, unless its owner already has
// perOwner instances or every replica together total: then ErrTooMany.
// Two launches at once on two replicas are counted one after the other.
func (d *Directory) reserve(ctx context.Context, e Entry, perOwner, total int) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if d.dialect == "postgres" {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, directoryLockKey); err != nil {
			return fmt.Errorf("directory lock: %w", err)
		}
	}
	var all, mine int
	err = tx.QueryRowContext(ctx, d.q(`SELECT COUNT(*), COALESCE(SUM(CASE WHEN owner_id = ? THEN 1 ELSE 0 END), 0) FROM lab_instances`),
		e.Owner).Scan(&all, &mine)
	if err != nil {
		return fmt.Errorf("count instances: %w", err)
	}
	if mine >= perOwner || all >= total {
		return ErrTooMany
	}
	_, err = tx.ExecContext(ctx, d.q(`INSERT INTO lab_instances (id, lab, owner_id, design, holder, holder_url, heartbeat_ms, created_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`), e.ID, e.Lab, e.Owner, string(e.Design), d.self.ID, d.self.URL, ms(e.Heartbeat), ms(e.Created))
	if err != nil {
		return fmt.Errorf("add instance: %w", err)
	}
	return tx.Commit()
}

const entryColumns = `id, lab, owner_id, design, holder, holder_url, heartbeat_ms, created_ms`

type scanner interface{ Scan(...any) error }

func scanEntry(s scanner) (Entry, error) {
	var e Entry
	var design string
	var hb, created int64
	if err := s.Scan(&e.ID, &e.Lab, &e.Owner, &design, &e.Holder.ID, &e.Holder.URL, &hb, &created); err != nil {
		return Entry{}, err
	}
	e.Design, e.Heartbeat, e.Created = []byte(design), time.UnixMilli(hb), time.UnixMilli(created)
	return e, nil
}

// lookup reads instance id; false when there is none.
func (d *Directory) lookup(ctx context.Context, id string) (Entry, bool, error) {
	e, err := scanEntry(d.db.QueryRowContext(ctx, d.q(`SELECT `+entryColumns+` FROM lab_instances WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, false, nil
	}
	return e, err == nil, err
}

// list reads owner's instances of lab ("" for every lab), oldest first.
func (d *Directory) list(ctx context.Context, lab string, owner int64) ([]Entry, error) {
	q, args := `SELECT `+entryColumns+` FROM lab_instances WHERE owner_id = ?`, []any{owner}
	if lab != "" {
		q += ` AND lab = ?`
		args = append(args, lab)
	}
	return d.query(ctx, q+` ORDER BY created_ms, id`, args...)
}

func (d *Directory) query(ctx context.Context, q string, args ...any) ([]Entry, error) {
	rows, err := d.db.QueryContext(ctx, d.q(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// claim makes this replica the holder of e, provided nobody changed its
// row since e was read (its holder still silent); true when it did.
func (d *Directory) claim(ctx context.Context, e Entry, now time.Time) (bool, error) {
	res, err := d.db.ExecContext(ctx, d.q(`UPDATE lab_instances SET holder = ?, holder_url = ?, heartbeat_ms = ?
		WHERE id = ? AND holder = ? AND heartbeat_ms = ?`), d.self.ID, d.self.URL, ms(now), e.ID, e.Holder.ID, ms(e.Heartbeat))
	return affectedOne(res, err)
}

// drop removes e's row, provided nobody changed it since e was read.
func (d *Directory) drop(ctx context.Context, e Entry) (bool, error) {
	res, err := d.db.ExecContext(ctx, d.q(`DELETE FROM lab_instances WHERE id = ? AND holder = ? AND heartbeat_ms = ?`),
		e.ID, e.Holder.ID, ms(e.Heartbeat))
	return affectedOne(res, err)
}

// remove deletes instance id when this replica holds it.
func (d *Directory) remove(ctx context.Context, id string) error {
	_, err := d.db.ExecContext(ctx, d.q(`DELETE FROM lab_instances WHERE id = ? AND holder = ?`), id, d.self.ID)
	return err
}

// setDesign records a reconfigured design.
func (d *Directory) setDesign(ctx context.Context, id string, design []byte) error {
	_, err := d.db.ExecContext(ctx, d.q(`UPDATE lab_instances SET design = ? WHERE id = ? AND holder = ?`), string(design), id, d.self.ID)
	return err
}

func affectedOne(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// heartbeat renews every row this replica holds and returns their ids.
func (d *Directory) heartbeat(ctx context.Context, now time.Time) (map[string]bool, error) {
	if _, err := d.db.ExecContext(ctx, d.q(`UPDATE lab_instances SET heartbeat_ms = ? WHERE holder = ?`), ms(now), d.self.ID); err != nil {
		return nil, err
	}
	rows, err := d.db.QueryContext(ctx, d.q(`SELECT id FROM lab_instances WHERE holder = ?`), d.self.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	held := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		held[id] = true
	}
	return held, rows.Err()
}

// orphans lists the instances whose holder is gone: silent since before
// cutoff, or an earlier process at this replica's own address.
func (d *Directory) orphans(ctx context.Context, cutoff time.Time) ([]Entry, error) {
	return d.query(ctx, `SELECT `+entryColumns+` FROM lab_instances WHERE heartbeat_ms < ? OR (holder_url = ? AND holder <> ?) ORDER BY created_ms`,
		ms(cutoff), d.self.URL, d.self.ID)
}

func designJSON(dz Design) []byte {
	b, err := json.Marshal(dz)
	if err != nil {
		return []byte("{}") // a design is JSON values only
	}
	return b
}
