package labs

import (
	"context"
	"database/sql"
	"errors"
	"hash/fnv"
	"sync"
	"time"
)

// A replica's presence: on PostgreSQL every replica holds an advisory lock
// of its own on a session it keeps open. The database ends the session,
// and so lets go of the lock, when the process dies (the kernel closes
// its connections), but not when the replica is only cut off from the
// other replicas, which still see the lock held. So a holder that does
// not answer a forwarded request and whose lock is free is gone for
// certain, and its instances can be taken over at once rather than after
// StaleAfter. SQLite runs one process: it has no replicas to tell apart,
// and the heartbeat's StaleAfter rule alone applies.

// presenceLockClass is the first key of the replicas' advisory locks (the
// second is the replica's own); directoryLockKey is a one-key lock, so
// the two never meet.
const presenceLockClass = 7420213

// presence is the session holding this replica's lock.
type presence struct {
	mu   sync.Mutex
	conn *sql.Conn
}

func presenceKey(replicaID string) int64 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(replicaID))
	return int64(h.Sum32() & 0x7fffffff)
}

// hold takes this replica's presence lock, or checks that the session
// holding it still answers and takes it again on a new one when not.
func (d *Directory) hold(ctx context.Context) error {
	if d.dialect != "postgres" {
		return nil
	}
	d.pres.mu.Lock()
	defer d.pres.mu.Unlock()
	if d.pres.conn != nil {
		if d.pres.conn.PingContext(ctx) == nil {
			return nil
		}
		_ = d.pres.conn.Close() // a broken session: the pool drops it
		d.pres.conn = nil
	}
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return err
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1, $2)`, presenceLockClass, presenceKey(d.self.ID)).Scan(&ok); err != nil {
		_ = conn.Close()
		return err
	}
	if !ok {
		// Another session of this process holds it still (an earlier one
		// whose ping timed out): the lock says what it must either way.
		_ = conn.Close()
		return nil
	}
	d.pres.conn = conn
	return nil
}

// Close lets go of this replica's presence lock, as a clean stop does.
func (d *Directory) Close() {
	d.pres.mu.Lock()
	defer d.pres.mu.Unlock()
	if d.pres.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _ = d.pres.conn.ExecContext(ctx, `SELECT pg_advisory_unlock_all()`)
	_ = d.pres.conn.Close()
	d.pres.conn = nil
}

// gone reports whether replica r's process has certainly ended: its
// presence lock is free. False when that cannot be known (SQLite).
func (d *Directory) gone(ctx context.Context, r Replica) (bool, error) {
	if d.dialect != "postgres" {
		return false, nil
	}
	var held int
	err := d.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND classid::bigint = $1 AND objid::bigint = $2 AND objsubid = 2`, presenceLockClass, presenceKey(r.ID)).Scan(&held)
	return err == nil && held == 0, err
}

// TakeOverGone takes over owner's instance id of lab labID after a
// request forwarded to its holder could not reach it, provided the
// directory still names that holder and the holder's process has
// certainly ended. Otherwise: ErrHolderDown (the holder may still run),
// ErrMoving (another replica holds it now) or ErrNotFound.
func (m *Manager) TakeOverGone(ctx context.Context, labID, id string, owner int64, holder Replica) (*Running, error) {
	if m.dir == nil {
		return nil, ErrHolderDown
	}
	m.Forget(id)
	e, found, err := m.dir.lookup(ctx, id)
	switch {
	case err != nil:
		return nil, err
	case !found || e.Owner != owner || e.Lab != labID:
		return nil, ErrNotFound
	case e.Holder.ID != holder.ID:
		return nil, ErrMoving
	}
	if gone, err := m.dir.gone(ctx, e.Holder); err != nil || !gone {
		return nil, errors.Join(ErrHolderDown, err)
	}
	loc, err := m.takeOver(ctx, e)
	if err != nil {
		return nil, err
	}
	return loc.Local, nil
}

// letGo stops r here because another replica holds it now: its background
// work stops, and its keys and rows stay for the holder, which uses them.
func (m *Manager) letGo(ctx context.Context, r *Running) {
	m.mu.Lock()
	if m.instances[r.ID] != r {
		m.mu.Unlock()
		return
	}
	delete(m.instances, r.ID)
	m.mu.Unlock()
	r.Metrics.Eventf("warn", "Another server runs this instance now; this one stopped its copy and left its data to it.")
	if rl, ok := r.Instance().(Releaser); ok {
		if err := rl.Release(ctx); err != nil {
			m.log.Warn("stopping a lab instance held elsewhere", "instance", r.ID, "err", err)
		}
	} else {
		m.log.Warn("a lab instance held elsewhere cannot stop its background work here", "instance", r.ID, "lab", r.Lab.Info().ID)
	}
	r.Metrics.Close()
}
