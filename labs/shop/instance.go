package shop

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labhttp"
)

// errCrashed ends a unit of work whose process the lab crashed: nothing
// after the crash point happens (no publish, no acknowledgement).
var errCrashed = errors.New("crashed")

// instance is a running shop.
type instance struct {
	env labs.Env
	cfg config
	rdb *goredis.Client

	ctx    context.Context // background work; cancelled by Close
	cancel context.CancelFunc
	mu     sync.Mutex // guards closed and wg.Add
	closed bool
	wg     sync.WaitGroup

	router *labhttp.Router // its routes (routes.go)

	pace    *pace      // the clock the shop decides by, and its account of work in flight
	clockMu sync.Mutex // one POST clock/step at a time
	svcs    map[string]*service
	subs    map[string][]*service // stream key → the services consuming it
	relay   *relay                // nil with outbox=false
	prov    *provider
	audit   auditor

	nextOrder        atomic.Int64
	crashAfterCommit atomic.Int64 // order placements left to crash after their commit
	burstMu          sync.Mutex   // one burst at a time

	placed, confirmed, cancelled             atomic.Int64
	processed, claimed, dupSkipped, deadLet  atomic.Int64
	lostPublishes, violations, notifications atomic.Int64
	callbacks, dupCallbacks, charges         atomic.Int64
	inboxSwept                               atomic.Int64

	logMu   sync.Mutex
	lastLog map[string]time.Time

	// With a manual clock, claims are judged by the lab's clock rather
	// than by Redis's idle times: when each pending entry was last
	// delivered, by stream, group and entry id.
	claimMu   sync.Mutex
	delivered map[string]time.Time

	closeOnce sync.Once
	stopOnce  sync.Once
	closeErr  error

	// Test hooks: a wrapper lab sets them to break a step the checks verify
	// and no design can break (see suite_test.go).
	skipRelease, skipSale atomic.Bool
}

func newInstance(ctx context.Context, env labs.Env, cfg config, resume bool) (*instance, error) {
	bctx, cancel := context.WithCancel(context.Background())
	in := &instance{env: env, cfg: cfg, rdb: env.Redis, ctx: bctx, cancel: cancel, lastLog: map[string]time.Time{},
		pace: newPace(env.Clock), delivered: map[string]time.Time{}}
	fail := func(what string, err error) (*instance, error) {
		cancel()
		return nil, fmt.Errorf("shop: %s: %w", what, err)
	}
	// Leftovers of an earlier run under this id (a crash, or the instance
	// this one replaces) would otherwise be delivered to the new consumers.
	if err := labs.DeleteKeys(ctx, env.Redis, env.Prefix); err != nil {
		return fail("clear old keys", err)
	}
	if err := in.migrate(ctx); err != nil {
		return fail("create tables", err)
	}
	if err := in.restore(ctx, resume); err != nil {
		return fail("seed the shop", err)
	}
	in.prov = newProvider(in)
	if err := in.startBus(ctx); err != nil {
		in.cancel()
		in.wg.Wait()
		_ = in.deleteRows(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("shop: start the services: %w", err)
	}
	in.spawn(in.audit.run(in))
	if cfg.idem && cfg.dedupRetention > 0 {
		in.spawn(in.sweepInbox)
	}
	in.router = in.routes()
	return in, nil
}

// spawn runs f in the background until Close; false once closed. f is
// counted as work in flight while it runs (see pace), so it waits only
// through the pace.
func (in *instance) spawn(f func(ctx context.Context)) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.closed {
		return false
	}
	in.wg.Add(1)
	in.pace.hold()
	go func() {
		defer in.wg.Done()
		defer in.pace.idle()
		f(in.ctx)
	}()
	return true
}

func (in *instance) now() time.Time { return in.env.Now() }

func (in *instance) key(s string) string { return in.env.Prefix + s }

// logf writes an event-log line, at most one per kind each second, so a
// failure under load does not drown the log.
func (in *instance) logf(kind, level, format string, args ...any) {
	in.logMu.Lock()
	now := in.pace.now()
	if now.Sub(in.lastLog[kind]) < time.Second {
		in.logMu.Unlock()
		return
	}
	if len(in.lastLog) > 1000 { // kinds named after messages must not grow without end
		clear(in.lastLog)
	}
	in.lastLog[kind] = now
	in.logMu.Unlock()
	in.env.Metrics.Eventf(level, format, args...)
}

// Close stops every service, the relay, the provider and the auditor, and
// removes the instance's keys and rows.
func (in *instance) Close(ctx context.Context) error {
	in.closeOnce.Do(func() {
		in.stopOnce.Do(in.stop)
		in.closeErr = errors.Join(labs.DeleteKeys(ctx, in.env.Redis, in.env.Prefix), in.deleteRows(ctx))
	})
	return in.closeErr
}

// Release stops every service, the relay, the provider and the auditor,
// and leaves the keys and rows to the replica that holds the shop now.
func (in *instance) Release(context.Context) error {
	in.stopOnce.Do(in.stop)
	return nil
}

func (in *instance) stop() {
	in.mu.Lock()
	in.closed = true
	in.mu.Unlock()
	in.cancel()
	in.wg.Wait()
}

// event is a message on the bus: an event (choreography) or a command or
// reply (orchestration).
type event struct {
	Type string `json:"type"`
	// ID is the message's identity: the same for every copy of it, so the
	// consumers' idempotency keys can recognise a redelivery.
	ID        string `json:"id"`
	OrderID   string `json:"order_id"`
	ProductID int    `json:"product_id"`
	Qty       int    `json:"qty"`
	Amount    int64  `json:"amount"`
	Reason    string `json:"reason,omitempty"`
	Release   bool   `json:"release,omitempty"` // OrderCancelled: stock is held and must be released
	AuthID    string `json:"auth_id,omitempty"`
}

// valid says what makes a decoded message unprocessable, or "".
func (e event) valid() string {
	switch {
	case !knownType[e.Type]:
		return fmt.Sprintf("unknown type %q", e.Type)
	case e.ID == "" || e.OrderID == "":
		return "no message or order id"
	case !productOK(e.ProductID) || e.Qty < 1 || e.Qty > MaxQty:
		return fmt.Sprintf("product %d × %d is not an order line", e.ProductID, e.Qty)
	}
	return ""
}

// outMsg is a message a unit of work sends.
type outMsg struct {
	stream string
	ev     event
}

// stepRow is one step of an order's saga timeline.
type stepRow struct {
	order, step, service, outcome string
	at                            time.Time
	compensation                  bool
}

// work is what one local transaction does besides its own writes: the
// timeline steps it records, the messages it sends and what happens once
// it has committed.
type work struct {
	in    *instance
	outs  []outMsg
	steps []stepRow
	after []func()
}

func (w *work) send(typ string, ev event) {
	ev.Type = typ
	ev.ID = ev.OrderID + ":" + typ
	if ev.AuthID != "" && (typ == TPaymentSucceeded || typ == TPaymentFailed) {
		ev.ID += ":" + ev.AuthID
	}
	w.outs = append(w.outs, outMsg{stream: w.in.streamFor(typ), ev: ev})
}

func (w *work) step(order, service, step, outcome string, compensation bool) {
	w.steps = append(w.steps, stepRow{order: order, step: step, service: service, outcome: outcome, at: w.in.now(), compensation: compensation})
}

func (w *work) onCommit(f func()) { w.after = append(w.after, f) }

// crashKey carries, in a context, where the lab should crash the unit of
// work running under it.
type crashKey struct{}

// crashFunc reports whether to crash at a point ("before_commit" or
// "after_commit").
type crashFunc func(point string) bool

func crashAt(ctx context.Context, point string) bool {
	f, ok := ctx.Value(crashKey{}).(crashFunc)
	return ok && f(point)
}

// transact runs one service's local transaction. With idempotency keys, a
// message (dedupe = its id) is recorded as processed by svc in the same
// transaction as its effects, and a second delivery is skipped. With the
// outbox, the messages the work sends are rows of the same transaction and
// the relay publishes them; without it they are published after the commit
// (a dual write), and a crash in between loses them.
func (in *instance) transact(ctx context.Context, svc string, dedupe *event, fn func(tx *sql.Tx, w *work) error) (dup bool, err error) {
	w := &work{in: in}
	tx, err := in.env.DB.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback() }()
	if dedupe != nil && in.cfg.idem {
		res, err := tx.ExecContext(ctx, in.env.Rebind(`INSERT INTO shop_lab_inbox (instance, service, event_id, at_ms) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`),
			in.env.Instance, svc, dedupe.ID, in.now().UnixMilli())
		if err != nil {
			return false, fmt.Errorf("record message %s: %w", dedupe.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return false, err
		} else if n == 0 {
			w.step(dedupe.OrderID, svc, "duplicate delivery", dedupe.Type+" was already processed; skipped", false)
			if err := in.insertSteps(ctx, tx, w.steps); err != nil {
				return false, err
			}
			if err := tx.Commit(); err != nil {
				return false, err
			}
			in.dupSkipped.Add(1)
			in.env.Metrics.Count("duplicates_skipped", 1)
			return true, nil
		}
	}
	if err := fn(tx, w); err != nil {
		return false, err
	}
	if err := in.insertSteps(ctx, tx, w.steps); err != nil {
		return false, err
	}
	if in.cfg.outbox {
		if err := in.insertOutbox(ctx, tx, w.outs); err != nil {
			return false, err
		}
	}
	if crashAt(ctx, "before_commit") {
		return false, errCrashed
	}
	if err := tx.Commit(); err != nil {
		return false, err
	}
	for _, f := range w.after {
		f()
	}
	if crashAt(ctx, "after_commit") {
		if !in.cfg.outbox && len(w.outs) > 0 {
			in.lostPublishes.Add(int64(len(w.outs)))
			in.env.Metrics.Eventf("error", "%s crashed after its commit and before publishing %s for order %s: with outbox=false the message is lost",
				svc, typesOf(w.outs), w.outs[0].ev.OrderID)
		}
		return false, errCrashed
	}
	if in.cfg.outbox {
		if len(w.outs) > 0 {
			in.relay.ring()
		}
		return false, nil
	}
	if err := in.publish(ctx, w.outs); err != nil {
		in.lostPublishes.Add(int64(len(w.outs)))
		in.logf("dual-write", "error", "dual write: %s committed its change but could not publish %s: %v", svc, typesOf(w.outs), err)
		return false, err
	}
	return false, nil
}

func typesOf(outs []outMsg) string {
	s := ""
	for i, o := range outs {
		if i > 0 {
			s += " and "
		}
		s += o.ev.Type
	}
	return s
}

func (in *instance) insertSteps(ctx context.Context, tx *sql.Tx, steps []stepRow) error {
	q := in.env.Rebind(`INSERT INTO shop_lab_steps (instance, order_id, step, service, at_ms, outcome, compensation) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	for _, s := range steps {
		comp := 0
		if s.compensation {
			comp = 1
		}
		if _, err := tx.ExecContext(ctx, q, in.env.Instance, s.order, s.step, s.service, s.at.UnixMilli(), s.outcome, comp); err != nil {
			return fmt.Errorf("record saga step: %w", err)
		}
	}
	return nil
}

// addStep records a step outside any transaction (an attempt that failed).
func (in *instance) addStep(ctx context.Context, s stepRow) {
	comp := 0
	if s.compensation {
		comp = 1
	}
	_, err := in.env.DB.ExecContext(ctx, in.env.Rebind(`INSERT INTO shop_lab_steps (instance, order_id, step, service, at_ms, outcome, compensation) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		in.env.Instance, s.order, s.step, s.service, s.at.UnixMilli(), s.outcome, comp)
	if err != nil && ctx.Err() == nil {
		in.logf("step", "warn", "could not record a saga step of order %s: %v", s.order, err)
	}
}

func (in *instance) insertOutbox(ctx context.Context, tx *sql.Tx, outs []outMsg) error {
	q := in.env.Rebind(`INSERT INTO shop_lab_outbox (instance, stream, type, event_id, order_id, payload, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)`)
	for _, o := range outs {
		raw, err := json.Marshal(o.ev)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, q, in.env.Instance, o.stream, o.ev.Type, o.ev.ID, o.ev.OrderID, string(raw), in.now().UnixMilli()); err != nil {
			return fmt.Errorf("write the outbox: %w", err)
		}
	}
	return nil
}

// State is what GET …/instances/{id} (and GET stats) shows: the design and
// the counters since launch.
type State struct {
	Saga            string `json:"saga"`
	Reservation     string `json:"reservation"`
	IdempotencyKeys bool   `json:"idempotency_keys"`
	Outbox          bool   `json:"outbox"`
	InitialStock    int    `json:"initial_stock"`
	Consumers       int    `json:"consumers"`
	MaxDeliveries   int    `json:"max_deliveries"`
	ClaimIdleMS     int64  `json:"claim_idle_ms"`

	Orders struct {
		Placed    int64 `json:"placed"`
		Confirmed int64 `json:"confirmed"`
		Cancelled int64 `json:"cancelled"`
		Pending   int   `json:"pending"`
	} `json:"orders"`
	Settle   SettleStats `json:"settle"`
	Messages struct {
		Processed         int64 `json:"processed"`
		Claimed           int64 `json:"claimed"`
		DuplicatesSkipped int64 `json:"duplicates_skipped"`
		// InboxRows are the message ids the services remember now (their
		// inboxes); InboxSwept were deleted after dedup_retention_ms.
		InboxRows    int64 `json:"inbox_rows"`
		InboxSwept   int64 `json:"inbox_swept"`
		DeadLettered int64 `json:"dead_lettered"`
		// Pending were delivered and not acknowledged; Lag were published
		// and not delivered yet.
		Pending int64 `json:"pending"`
		Lag     int64 `json:"lag"`
		// LostPublishes are messages committed with outbox=false whose
		// publish never happened (a crash or a Redis error after the commit).
		LostPublishes int64 `json:"lost_publishes"`
	} `json:"messages"`
	Payments            PaymentView      `json:"payments"`
	Notifications       int64            `json:"notifications_sent"`
	InvariantViolations int64            `json:"invariant_violations"`
	Relay               string           `json:"relay"`
	Provider            ProviderSettings `json:"provider"`
}

// State reports the instance's counters.
func (in *instance) State(ctx context.Context) (any, error) {
	s := State{Saga: in.cfg.saga, Reservation: in.cfg.reservation, IdempotencyKeys: in.cfg.idem, Outbox: in.cfg.outbox,
		InitialStock: in.cfg.initialStock, Consumers: in.cfg.consumers, MaxDeliveries: in.cfg.maxDeliver, ClaimIdleMS: in.cfg.claimIdle.Milliseconds()}
	s.Orders.Placed, s.Orders.Confirmed, s.Orders.Cancelled = in.placed.Load(), in.confirmed.Load(), in.cancelled.Load()
	l, err := in.listOrders(ctx, StatusPending, 0)
	if err != nil {
		return nil, err
	}
	s.Orders.Pending, s.Settle = l.Counts[StatusPending], l.Settle
	s.Messages.Processed, s.Messages.Claimed, s.Messages.DuplicatesSkipped = in.processed.Load(), in.claimed.Load(), in.dupSkipped.Load()
	s.Messages.DeadLettered, s.Messages.LostPublishes = in.deadLet.Load(), in.lostPublishes.Load()
	bl, err := in.backlog(ctx)
	if err != nil {
		return nil, err
	}
	s.Messages.Pending, s.Messages.Lag = bl.Pending, bl.Lag
	if s.Messages.InboxRows, err = in.inboxRows(ctx); err != nil {
		return nil, err
	}
	s.Messages.InboxSwept = in.inboxSwept.Load()
	s.Payments = in.prov.view()
	s.Provider = s.Payments.Provider
	s.Notifications, s.InvariantViolations = in.notifications.Load(), in.violations.Load()
	s.Relay = "none (outbox=false)"
	if in.relay != nil {
		s.Relay = "stopped"
		if in.relay.running() {
			s.Relay = "running"
		}
	}
	return s, nil
}
