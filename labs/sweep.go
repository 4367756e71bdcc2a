package labs

import (
	"context"
	"errors"
	"time"
)

// Purger is a lab that removes an instance nobody holds any more (its
// replica stopped) without building it: it settles what the instance left
// half done, then removes its keys and rows. Labs without it are built
// from their design and closed, which removes them as well.
type Purger interface {
	Purge(ctx context.Context, env Env) error
}

// Heartbeat renews the directory's rows of the instances this replica
// holds. An instance running here whose row another replica took over or
// swept (this one was silent too long) stops here; a row held here whose
// instance is not running here (its removal failed) is removed.
func (m *Manager) Heartbeat(ctx context.Context) error {
	if m.dir == nil {
		return nil
	}
	if err := m.dir.hold(ctx); err != nil {
		m.log.Warn("lab directory: this replica's presence lock", "err", err)
	}
	running := m.snapshot(true) // before the read: each of these had its row already
	held, err := m.dir.heartbeat(ctx, m.now())
	if err != nil {
		return err
	}
	present := m.snapshot(false) // after the read: a row read has its entry here by now, unless removed
	for id, r := range running {
		if !held[id] {
			m.log.Warn("lab instance stopped here: another replica holds it now", "instance", id)
			m.letGo(ctx, r)
		}
	}
	for id := range held {
		if present[id] == nil {
			m.unlist(ctx, id)
		}
	}
	return nil
}

// snapshot copies the instances map; built only: those whose instance
// runs already.
func (m *Manager) snapshot(built bool) map[string]*Running {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]*Running, len(m.instances))
	for id, r := range m.instances {
		if !built || r.Instance() != nil {
			out[id] = r
		}
	}
	return out
}

// Sweep removes the instances whose holder is gone: silent longer than
// OrphanAfter and not answering, or an earlier process at this replica's
// address. Each is removed by one replica only, with its keys and rows;
// it returns how many this replica removed.
func (m *Manager) Sweep(ctx context.Context) (int, error) {
	if m.dir == nil {
		return 0, nil
	}
	es, err := m.dir.orphans(ctx, m.now().Add(-m.copts.OrphanAfter))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range es {
		self := m.dir.self
		if e.Holder.ID == self.ID || (e.Holder.URL != self.URL && m.answers(ctx, e.Holder)) {
			continue // its holder runs: only its heartbeat is late
		}
		dropped, err := m.dir.drop(ctx, e)
		if err != nil {
			return n, err
		}
		if !dropped {
			continue // taken over, renewed or swept by another replica meanwhile
		}
		m.Forget(e.ID)
		if err := m.purge(ctx, e); err != nil {
			m.log.Warn("removing an orphaned lab instance's keys and rows", "instance", e.ID, "lab", e.Lab, "err", err)
		}
		m.log.Info("orphaned lab instance removed", "instance", e.ID, "lab", e.Lab, "holder", e.Holder.URL,
			"silent_for", m.now().Sub(e.Heartbeat).Round(time.Second).String())
		n++
	}
	return n, nil
}

// purge removes what instance e kept in Redis and the database.
func (m *Manager) purge(ctx context.Context, e Entry) error {
	l, ok := m.reg.Lab(e.Lab)
	prefix := "lab:" + e.ID + ":"
	if !ok {
		return DeleteKeys(ctx, m.redis, prefix) // a lab this build does not have: its keys at least
	}
	met := NewMetrics(time.Now, countSeries(l)...)
	defer met.Close()
	env := m.envFor(e.ID, l, met)
	if p, ok := l.(Purger); ok {
		return p.Purge(ctx, env)
	}
	d, ferrs := ParseDesign(l, e.Design)
	if len(ferrs) > 0 {
		return DeleteKeys(ctx, m.redis, prefix)
	}
	inst, err := l.New(ctx, env, d)
	if err != nil {
		return errors.Join(err, DeleteKeys(ctx, m.redis, prefix))
	}
	return inst.Close(ctx)
}
