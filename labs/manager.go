package labs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"database/sql"
	goredis "github.com/redis/go-redis/v9"
)

// Limits bound what one learner can make the server do.
type Limits struct {
	PerOwner    int           // running instances per learner
	Total       int           // running instances on this server
	Idle        time.Duration // an instance untouched this long is stopped
	MaxRequests int           // per load run
	MaxConc     int           // concurrency of a load run
	MaxRate     int           // requests per second of a load run
	MaxKeys     int           // distinct keys of a load run
	MaxLoadTime time.Duration // a load run stops after this long
}

// DefaultLimits are the limits a server runs with.
var DefaultLimits = Limits{PerOwner: 3, Total: 200, Idle: 30 * time.Minute,
	MaxRequests: 5000, MaxConc: 200, MaxRate: 5000, MaxKeys: 1000, MaxLoadTime: 30 * time.Second}

// Errors the manager returns; the web layer maps them to statuses.
var (
	ErrNotFound   = errors.New("no such instance")
	ErrTooMany    = errors.New("too many running instances")
	ErrBusy       = errors.New("a load run is already going on this instance")
	ErrUnknownLab = errors.New("no such lab")
	// ErrReconfiguring: a reconfigure is replacing the instance right now.
	ErrReconfiguring = errors.New("the instance is being reconfigured")
)

// Running is one live instance and what the manager knows of it.
type Running struct {
	ID       string
	Lab      Lab
	Owner    int64
	Design   Design
	Created  time.Time
	Metrics  *Metrics
	inst     Instance
	handler  http.Handler // inst's routes
	env      Env
	mu       sync.Mutex
	lastUsed time.Time
	loading  bool
	swapping bool   // a reconfigure is replacing inst
	gen      uint64 // counts reconfigures, for Replaced
	labID    string // Lab.Info().ID, which labs build on every call
	resume   bool   // taken over: start from what the last holder left
}

// LabID is the id of the instance's lab.
func (r *Running) LabID() string { return r.labID }

// Instance returns the lab instance (it changes on Reconfigure).
func (r *Running) Instance() Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.inst
}

// Serving returns the handler of the instance's own routes (paths
// relative to the instance: "/request") to serve one request, and its
// generation, for Replaced; while a reconfigure replaces the instance,
// ErrReconfiguring.
func (r *Running) Serving() (http.Handler, uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.swapping {
		return nil, 0, ErrReconfiguring
	}
	return r.handler, r.gen, nil
}

// Replaced reports whether a reconfigure has begun since Serving returned
// gen: the instance that served may have been closed under the request.
func (r *Running) Replaced(gen uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.swapping || r.gen != gen
}

// CurrentDesign returns the design the instance runs now.
func (r *Running) CurrentDesign() Design {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.Design
}

// Manager owns the running instances of one server process.
type Manager struct {
	reg     *Registry
	redis   *goredis.Client
	db      *sql.DB
	dialect string
	log     *slog.Logger
	now     func() time.Time
	limits  Limits

	mu        sync.Mutex
	instances map[string]*Running
	stop      chan struct{}
	stopOnce  sync.Once

	// With several replicas (Join): the shared directory, its periods,
	// where other replicas' instances are, and the client that asks a
	// silent replica whether it still runs.
	dir   *Directory
	copts ClusterOptions
	locs  *locations
	probe *http.Client
}

// NewManager serves the labs of reg on the given Redis and database.
func NewManager(reg *Registry, rdb *goredis.Client, db *sql.DB, dialect string, log *slog.Logger, now func() time.Time, limits Limits) *Manager {
	if now == nil {
		now = time.Now
	}
	return &Manager{reg: reg, redis: rdb, db: db, dialect: dialect, log: log, now: now, limits: limits,
		instances: map[string]*Running{}, stop: make(chan struct{})}
}

// Registry is the list of labs the manager serves.
func (m *Manager) Registry() *Registry { return m.reg }

// Limits returns the manager's limits.
func (m *Manager) Limits() Limits { return m.limits }

// Labs lists the labs in registration order.
func (m *Manager) Labs() []Lab { return m.reg.Labs() }

// Lab returns a lab by id.
func (m *Manager) Lab(id string) (Lab, bool) { return m.reg.Lab(id) }

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Launch builds an instance of a validated design for owner.
func (m *Manager) Launch(ctx context.Context, labID string, owner int64, d Design) (*Running, error) {
	l, ok := m.reg.Lab(labID)
	if !ok {
		return nil, ErrUnknownLab
	}
	r := &Running{ID: newID(), Lab: l, Owner: owner, Design: d, Created: m.now(), lastUsed: m.now(), labID: l.Info().ID}
	if err := m.reserve(ctx, r); err != nil {
		return nil, err
	}
	if err := m.build(ctx, r); err != nil {
		return nil, err
	}
	r.Metrics.Eventf("info", "launched %s with %s", labID, describe(d))
	return r, nil
}

// reserve takes r's place within the limits: in this replica's memory
// while it is built, and in the directory when replicas share one, where
// the limits are counted across them.
func (m *Manager) reserve(ctx context.Context, r *Running) error {
	m.mu.Lock()
	if m.dir == nil {
		n := 0
		for _, o := range m.instances {
			if o.Owner == r.Owner {
				n++
			}
		}
		if n >= m.limits.PerOwner || len(m.instances) >= m.limits.Total {
			m.mu.Unlock()
			return ErrTooMany
		}
	}
	m.instances[r.ID] = r // reserve the slot while building
	m.mu.Unlock()
	if m.dir == nil {
		return nil
	}
	e := Entry{ID: r.ID, Lab: r.Lab.Info().ID, Owner: r.Owner, Design: designJSON(r.Design), Heartbeat: m.now(), Created: r.Created}
	if err := m.dir.hold(ctx); err != nil {
		m.log.Warn("lab directory: this replica's presence lock", "err", err)
	}
	if err := m.dir.reserve(ctx, e, m.limits.PerOwner, m.limits.Total); err != nil {
		m.unreserve(r.ID)
		return err
	}
	return nil
}

func (m *Manager) unreserve(id string) {
	m.mu.Lock()
	delete(m.instances, id)
	m.mu.Unlock()
}

// envFor is what instance id of lab l is built on.
func (m *Manager) envFor(id string, l Lab, met *Metrics) Env {
	return Env{Redis: m.redis, DB: m.db, Dialect: m.dialect, Instance: id, Prefix: "lab:" + id + ":",
		Metrics: met, Log: m.log.With("lab", l.Info().ID, "instance", id), Now: m.now}
}

// build starts the instance of r, which is reserved; when it cannot, the
// reservation is given back.
func (m *Manager) build(ctx context.Context, r *Running) error {
	r.Metrics = NewMetrics(time.Now, countSeries(r.Lab)...) // charts plot wall-clock time, whatever clock the manager reaps by
	r.env = m.envFor(r.ID, r.Lab, r.Metrics)
	inst, err := m.start(ctx, r)
	if err != nil {
		r.Metrics.Close()
		m.unreserve(r.ID)
		m.unlist(ctx, r.ID)
		return err
	}
	r.mu.Lock()
	r.inst, r.handler = inst, inst.Handler()
	r.mu.Unlock()
	return nil
}

// start builds r's instance: resumed from its state when it was taken
// over and its lab can, afresh otherwise.
func (m *Manager) start(ctx context.Context, r *Running) (Instance, error) {
	if rs, ok := r.Lab.(Resumer); ok && r.resume {
		return rs.Resume(ctx, r.env, r.Design)
	}
	return r.Lab.New(ctx, r.env, r.Design)
}

// unlist removes this replica's instance id from the directory; when that
// fails, the next heartbeat removes it (it is held here but not running).
func (m *Manager) unlist(ctx context.Context, id string) {
	if m.dir == nil {
		return
	}
	if err := m.dir.remove(context.WithoutCancel(ctx), id); err != nil {
		m.log.Warn("removing a lab instance from the directory", "instance", id, "err", err)
	}
}

func describe(d Design) string {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += ", "
		}
		s += k + "=" + fmt.Sprint(d[k])
	}
	return s
}

// Get returns owner's instance id of lab labID; another owner's, an
// unknown id, or a lab mismatch are all ErrNotFound.
func (m *Manager) Get(labID, id string, owner int64) (*Running, error) {
	m.mu.Lock()
	r, ok := m.instances[id]
	m.mu.Unlock()
	if !ok || r.Owner != owner || r.labID != labID || r.Instance() == nil {
		return nil, ErrNotFound
	}
	r.mu.Lock()
	r.lastUsed = m.now()
	r.mu.Unlock()
	return r, nil
}

// ownedHere lists owner's instances of a lab ("" for every lab) that this
// replica holds, oldest first.
func (m *Manager) ownedHere(labID string, owner int64) []*Running {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Running
	for _, r := range m.instances {
		if r.Owner == owner && r.Instance() != nil && (labID == "" || r.labID == labID) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}

// Stop stops owner's instance.
func (m *Manager) Stop(ctx context.Context, labID, id string, owner int64) error {
	r, err := m.Get(labID, id, owner)
	if err != nil {
		return err
	}
	if _, _, err := r.Serving(); err != nil {
		return err // stopping now would close the old instance twice and leave the new one running
	}
	return m.remove(ctx, r)
}

func (m *Manager) remove(ctx context.Context, r *Running) error {
	m.mu.Lock()
	if m.instances[r.ID] != r {
		m.mu.Unlock()
		return nil
	}
	delete(m.instances, r.ID)
	m.mu.Unlock()
	m.unlist(ctx, r.ID)
	r.Metrics.Eventf("info", "stopped")
	err := r.Instance().Close(ctx)
	r.Metrics.Close()
	return err
}

// Reconfigure replaces an instance's design: the old instance stops and a
// new one with the same id starts on the new design.
func (m *Manager) Reconfigure(ctx context.Context, labID, id string, owner int64, d Design) (*Running, error) {
	r, err := m.Get(labID, id, owner)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	switch {
	case r.swapping:
		r.mu.Unlock()
		return nil, ErrReconfiguring
	case r.loading:
		r.mu.Unlock()
		return nil, ErrBusy
	}
	// No load run may start and no request is served while the instance
	// is swapped; requests in flight on the old one learn of it by gen.
	r.loading, r.swapping = true, true
	r.gen++
	old := r.inst
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.loading, r.swapping = false, false
		r.mu.Unlock()
	}()
	if err := old.Close(ctx); err != nil {
		m.log.Warn("closing instance for reconfigure", "err", err)
	}
	inst, err := r.Lab.New(ctx, r.env, d)
	if err != nil {
		// The old instance is closed already: drop the entry without
		// closing it twice.
		m.unreserve(r.ID)
		m.unlist(ctx, r.ID)
		m.log.Error("reconfigure failed", "request_id", RequestID(ctx), "instance", r.ID, "err", err)
		r.Metrics.Eventf("error", "reconfigure failed, so the instance stopped; the server log has the reason")
		r.Metrics.Close()
		return nil, err
	}
	r.mu.Lock()
	r.inst, r.handler, r.Design = inst, inst.Handler(), d
	r.mu.Unlock()
	if m.dir != nil {
		// A replica that takes the instance over starts the design it runs now.
		if err := m.dir.setDesign(ctx, r.ID, designJSON(d)); err != nil {
			m.log.Warn("recording a reconfigured design in the directory", "instance", r.ID, "err", err)
		}
	}
	r.Metrics.Eventf("info", "reconfigured: %s", describe(d))
	return r, nil
}

// Reap stops instances idle longer than the limit; it returns how many.
func (m *Manager) Reap(ctx context.Context) int {
	cutoff := m.now().Add(-m.limits.Idle)
	m.mu.Lock()
	var idle []*Running
	for _, r := range m.instances {
		r.mu.Lock()
		if r.inst != nil && !r.loading && r.lastUsed.Before(cutoff) { // r.mu held
			idle = append(idle, r)
		}
		r.mu.Unlock()
	}
	m.mu.Unlock()
	for _, r := range idle {
		if err := m.remove(ctx, r); err != nil {
			m.log.Warn("reaping instance", "instance", r.ID, "err", err)
		}
	}
	return len(idle)
}

// RunReaper reaps every interval until ctx ends, then stops every instance.
func (m *Manager) RunReaper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			m.StopAll(context.Background())
			return
		case <-t.C:
			if n := m.Reap(ctx); n > 0 {
				m.log.Info("idle lab instances stopped", "count", n)
			}
		}
	}
}

// StopAll stops every instance (at shutdown).
func (m *Manager) StopAll(ctx context.Context) {
	m.mu.Lock()
	all := make([]*Running, 0, len(m.instances))
	for _, r := range m.instances {
		if r.Instance() != nil {
			all = append(all, r)
		}
	}
	m.mu.Unlock()
	for _, r := range all {
		_ = m.remove(ctx, r)
	}
}

// RunningByLab counts the instances running on this replica by lab, every
// lab of the registry included (at zero), for the operator's metrics.
func (m *Manager) RunningByLab() map[string]int {
	out := make(map[string]int, len(m.reg.Labs()))
	for _, l := range m.reg.Labs() {
		out[l.Info().ID] = 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.instances {
		if r.Instance() != nil {
			out[r.labID]++
		}
	}
	return out
}
