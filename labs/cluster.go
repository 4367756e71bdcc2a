package labs

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"
)

// Errors of instances held by other replicas; the web layer maps them to
// statuses.
var (
	// ErrMoving: another replica was asked for the instance, and this one
	// does not hold it (it was taken over or is being started elsewhere).
	ErrMoving = errors.New("the instance is moving to another replica")
	// ErrHolderDown: the replica holding the instance does not answer, and
	// has not been silent long enough to take the instance over.
	ErrHolderDown = errors.New("the replica holding the instance does not answer")
)

// ReplicaHeader names the replica that answers (on /healthz) or that a
// forwarded request expects to find the instance on.
const ReplicaHeader = "X-Workbook-Replica"

// ClusterOptions are the directory's periods.
type ClusterOptions struct {
	// HeartbeatEvery is how often a replica renews what it holds.
	HeartbeatEvery time.Duration
	// StaleAfter: an instance whose holder has been silent this long, and
	// does not answer as itself either, is taken over by the replica a
	// request for it reaches.
	StaleAfter time.Duration
	// OrphanAfter: an instance whose holder has been silent this long is
	// removed by the sweep, its rows and keys with it.
	OrphanAfter time.Duration
	// CacheFor is how long a replica reuses where another replica's
	// instance is, before reading the directory again.
	CacheFor time.Duration
}

// DefaultClusterOptions are the periods a server runs with.
var DefaultClusterOptions = ClusterOptions{HeartbeatEvery: 5 * time.Second, StaleAfter: 20 * time.Second,
	OrphanAfter: 2 * time.Minute, CacheFor: 2 * time.Second}

// locations caches where other replicas' instances are. An entry past
// its time is still used while the directory cannot be read.
type locations struct {
	mu      sync.Mutex
	entries map[string]cachedEntry
}

type cachedEntry struct {
	e     Entry
	until time.Time
}

const maxCachedLocations = 10_000

// Join makes the manager one of several replicas sharing dir: launches
// are counted in it, and instances held elsewhere are found in it.
func (m *Manager) Join(dir *Directory, o ClusterOptions) {
	m.dir, m.copts = dir, o
	m.locs = &locations{entries: map[string]cachedEntry{}}
	m.probe = &http.Client{Timeout: time.Second}
}

// Directory is the shared directory, or nil when the manager runs alone.
func (m *Manager) Directory() *Directory { return m.dir }

// Located is where an instance that is not in this replica's memory is:
// on this replica after all (taken over), or on another.
type Located struct {
	Local  *Running
	Remote Replica
}

// Locate finds owner's instance id of lab labID when Get did not: it may
// be held by another replica (Remote), or its holder may be gone, and
// then this replica takes it over (Local). forwardedTo is the replica id
// another replica forwarded the request to ("" for a request from a
// client): such a request is never forwarded again.
func (m *Manager) Locate(ctx context.Context, labID, id string, owner int64, forwardedTo string) (Located, error) {
	if m.dir == nil {
		return Located{}, ErrNotFound
	}
	e, ok, err := m.cachedLookup(ctx, id)
	if err != nil {
		return Located{}, err
	}
	self := m.dir.self
	switch {
	case !ok || e.Owner != owner || e.Lab != labID || e.Holder.ID == self.ID:
		return Located{}, ErrNotFound
	case e.Holder.URL == self.URL:
		// An earlier process at this address: it is gone.
		return m.takeOver(ctx, e)
	case forwardedTo != "":
		m.Forget(id)
		return Located{}, ErrMoving
	case m.now().Sub(e.Heartbeat) >= m.copts.StaleAfter && !m.answers(ctx, e.Holder):
		return m.takeOver(ctx, e)
	}
	return Located{Remote: e.Holder}, nil
}

// Forget drops what this replica remembers of where instance id is (its
// holder did not answer, or answered that it does not hold it).
func (m *Manager) Forget(id string) {
	if m.locs == nil {
		return
	}
	m.locs.mu.Lock()
	delete(m.locs.entries, id)
	m.locs.mu.Unlock()
}

func (m *Manager) cachedLookup(ctx context.Context, id string) (Entry, bool, error) {
	now := time.Now() // the cache's own time, not the labs' clock
	m.locs.mu.Lock()
	c, ok := m.locs.entries[id]
	m.locs.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.e, true, nil
	}
	e, found, err := m.dir.lookup(ctx, id)
	if err != nil && ok {
		// The database is out of reach: where the instance was a moment
		// ago is the best guess, and its holder checks the owner again.
		return c.e, true, nil
	}
	if err != nil || !found {
		m.Forget(id)
		return e, found, err
	}
	m.locs.mu.Lock()
	if len(m.locs.entries) >= maxCachedLocations {
		clear(m.locs.entries)
	}
	m.locs.entries[id] = cachedEntry{e: e, until: now.Add(m.copts.CacheFor)}
	m.locs.mu.Unlock()
	return e, true, nil
}

// answers reports whether replica r answers as itself: a replica whose
// heartbeat is late but which still runs keeps its instances.
func (m *Manager) answers(ctx context.Context, r Replica) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := m.probe.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.Header.Get(ReplicaHeader) == r.ID
}

// takeOverMessage is the event log's line on an instance started again
// on another replica.
const takeOverMessage = "The server that ran this instance stopped answering, so this server started it again from its design. " +
	"Its in-process parts (background work, timers, the charts so far) start fresh; what the lab keeps in Redis and the database carries on."

// takeOver claims e for this replica and starts it from its design. When
// another replica claimed it first, the instance is found again.
func (m *Manager) takeOver(ctx context.Context, e Entry) (Located, error) {
	l, ok := m.reg.Lab(e.Lab)
	if !ok {
		return Located{}, ErrNotFound
	}
	d, ferrs := ParseDesign(l, e.Design)
	if len(ferrs) > 0 {
		return Located{}, ErrNotFound
	}
	r := &Running{ID: e.ID, Lab: l, Owner: e.Owner, Design: d, Created: e.Created, lastUsed: m.now(), labID: l.Info().ID, resume: true}
	m.mu.Lock()
	if m.instances[e.ID] != nil {
		m.mu.Unlock()
		return Located{}, ErrMoving // being taken over by another request right now
	}
	m.instances[e.ID] = r
	m.mu.Unlock()
	claimed, err := m.dir.claim(ctx, e, m.now())
	m.Forget(e.ID)
	if err != nil || !claimed {
		m.mu.Lock()
		delete(m.instances, e.ID)
		m.mu.Unlock()
		if err != nil {
			return Located{}, err
		}
		return Located{}, ErrMoving
	}
	if err := m.build(ctx, r); err != nil {
		return Located{}, err
	}
	m.log.Warn("lab instance taken over from a replica that stopped answering", "instance", e.ID, "lab", e.Lab,
		"from", e.Holder.URL, "silent_for", m.now().Sub(e.Heartbeat).Round(time.Second).String())
	r.Metrics.Eventf("warn", "%s", takeOverMessage)
	return Located{Local: r}, nil
}

// Listed is an instance as a list of them shows it.
type Listed struct {
	ID      string
	Lab     string
	Design  Design
	Created time.Time
}

// Owned lists owner's instances of a lab ("" for every lab), oldest
// first, on every replica.
func (m *Manager) Owned(ctx context.Context, labID string, owner int64) ([]Listed, error) {
	if m.dir == nil {
		var out []Listed
		for _, r := range m.ownedHere(labID, owner) {
			out = append(out, Listed{ID: r.ID, Lab: r.Lab.Info().ID, Design: r.CurrentDesign(), Created: r.Created})
		}
		return out, nil
	}
	es, err := m.dir.list(ctx, labID, owner)
	if err != nil {
		return nil, err
	}
	out := make([]Listed, 0, len(es))
	for _, e := range es {
		var d Design
		_ = json.Unmarshal(e.Design, &d) // written by this code from a Design
		out = append(out, Listed{ID: e.ID, Lab: e.Lab, Design: d, Created: e.Created})
	}
	return out, nil
}

// RunDirectory renews this replica's heartbeat and sweeps orphans until
// ctx ends.
func (m *Manager) RunDirectory(ctx context.Context) {
	if m.dir == nil {
		return
	}
	if err := m.dir.hold(ctx); err != nil && ctx.Err() == nil {
		m.log.Warn("lab directory: this replica's presence lock", "err", err)
	}
	beat := time.NewTicker(m.copts.HeartbeatEvery)
	defer beat.Stop()
	sweep := time.NewTicker(m.copts.OrphanAfter / 4)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			if err := m.Heartbeat(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("lab directory heartbeat failed", "err", err)
			}
		case <-sweep.C:
			if n, err := m.Sweep(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("lab directory sweep failed", "err", err)
			} else if n > 0 {
				m.log.Info("orphaned lab instances removed", "count", n)
			}
		}
	}
}

// Held counts the instances running on this replica.
func (m *Manager) Held() int { return len(m.snapshot(true)) }
