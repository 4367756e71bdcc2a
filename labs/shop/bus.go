package shop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Message types.
const (
	// Choreography: events, each published by the service that owns the fact.
	TOrderCreated     = "OrderCreated"
	TOrderConfirmed   = "OrderConfirmed"
	TOrderCancelled   = "OrderCancelled"
	TStockReserved    = "StockReserved"
	TStockRejected    = "StockRejected"
	TPaymentSucceeded = "PaymentSucceeded"
	TPaymentFailed    = "PaymentFailed"
	// Orchestration: the order service's commands; the replies reuse the
	// stock and payment event types.
	TReserveStock     = "ReserveStock"
	TReleaseStock     = "ReleaseStock"
	TCommitStock      = "CommitStock"
	TChargePayment    = "ChargePayment"
	TSendNotification = "SendNotification"
)

var knownType = map[string]bool{TOrderCreated: true, TOrderConfirmed: true, TOrderCancelled: true, TStockReserved: true,
	TStockRejected: true, TPaymentSucceeded: true, TPaymentFailed: true, TReserveStock: true, TReleaseStock: true,
	TCommitStock: true, TChargePayment: true, TSendNotification: true}

// Streams, under the instance's prefix.
const (
	stOrders      = "stream:orders"    // choreography: order events
	stInventory   = "stream:inventory" // choreography: stock events
	stPayments    = "stream:payments"  // choreography: payment events
	stInvCmds     = "stream:inventory-commands"
	stPayCmds     = "stream:payment-commands"
	stNotifyCmds  = "stream:notification-commands"
	stReplies     = "stream:order-replies"
	stDeadLetters = "stream:dead-letters"
)

const (
	streamMaxLen = 20000                  // approximate cap per stream
	readCount    = 1                      // messages per read: consumers are the unit of concurrency
	idlePoll     = 250 * time.Millisecond // an idle consumer looks again at every tick of this, without a doorbell
	relayBatch   = 200
	relayPoll    = 100 * time.Millisecond
	relayRestart = 300 * time.Millisecond // a crashed relay's supervisor restarts it after this
)

// subscriptions lists, per saga style, the streams each service consumes.
func subscriptions(saga string) map[string][]string {
	if saga == SagaOrchestration {
		return map[string][]string{SvcOrder: {stReplies}, SvcInventory: {stInvCmds}, SvcPayment: {stPayCmds}, SvcNotification: {stNotifyCmds}}
	}
	return map[string][]string{SvcOrder: {stInventory, stPayments}, SvcInventory: {stOrders}, SvcPayment: {stInventory}, SvcNotification: {stOrders}}
}

// streamFor is the stream a message type travels on.
func (in *instance) streamFor(typ string) string {
	if in.cfg.saga == SagaOrchestration {
		switch typ {
		case TReserveStock, TReleaseStock, TCommitStock:
			return in.key(stInvCmds)
		case TChargePayment:
			return in.key(stPayCmds)
		case TSendNotification:
			return in.key(stNotifyCmds)
		default:
			return in.key(stReplies)
		}
	}
	switch typ {
	case TStockReserved, TStockRejected:
		return in.key(stInventory)
	case TPaymentSucceeded, TPaymentFailed:
		return in.key(stPayments)
	default:
		return in.key(stOrders)
	}
}

// service is one service's consumer group.
type service struct {
	name      string
	streams   []string // keys
	handle    func(ctx context.Context, ev event) error
	consumers []*consumer
}

// consumer is one member of a consumer group; it can be killed and
// restarted under the same name, which is how a restarted process finds
// the messages it left pending.
type consumer struct {
	svc  *service
	idx  int
	name string
	bell *doorbell

	mu     sync.Mutex
	run    *consumerRun // nil while dead
	last   *consumerRun // the latest life, to wait for before the next
	deaths int
	diedOn string // the message it died in, for GET consumers

	kill atomic.Pointer[string] // armed crash point
}

type consumerRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (c *consumer) alive() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.run != nil
}

// startBus creates the consumer groups and starts the consumers and the relay.
func (in *instance) startBus(ctx context.Context) error {
	in.svcs = map[string]*service{}
	in.subs = map[string][]*service{}
	handlers := map[string]func(context.Context, event) error{
		SvcOrder: in.onOrderMsg, SvcInventory: in.onInventoryMsg, SvcPayment: in.onPaymentMsg, SvcNotification: in.onNotificationMsg,
	}
	for name, streams := range subscriptions(in.cfg.saga) {
		s := &service{name: name, handle: handlers[name]}
		for _, st := range streams {
			k := in.key(st)
			s.streams = append(s.streams, k)
			in.subs[k] = append(in.subs[k], s)
			if err := in.rdb.XGroupCreateMkStream(ctx, k, name, "0").Err(); err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
				return fmt.Errorf("create consumer group %s on %s: %w", name, st, err)
			}
		}
		for i := range in.cfg.consumers {
			s.consumers = append(s.consumers, &consumer{svc: s, idx: i, name: fmt.Sprintf("%s-%d", name, i), bell: newDoorbell(in.pace)})
		}
		in.svcs[name] = s
	}
	for _, s := range in.svcs {
		for _, c := range s.consumers {
			in.startConsumer(c)
		}
	}
	if in.cfg.outbox {
		in.relay = &relay{in: in, bell: newDoorbell(in.pace)}
		in.relay.start()
	}
	return nil
}

// startConsumer starts a life of c; false if it is alive or the instance closed.
func (in *instance) startConsumer(c *consumer) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.run != nil {
		return false
	}
	if c.last != nil {
		<-c.last.done // the previous life has returned (it takes no lock after dying)
	}
	c.kill.Store(nil)
	cctx, cancel := context.WithCancel(in.ctx)
	run := &consumerRun{cancel: cancel, done: make(chan struct{})}
	c.bell.setOpen(true)
	if !in.spawn(func(context.Context) {
		defer close(run.done)
		defer cancel()
		defer c.bell.setOpen(false)
		if in.consume(cctx, c) {
			c.markDead(run)
		}
	}) {
		c.bell.setOpen(false)
		cancel()
		return false
	}
	c.run, c.last = run, run
	return true
}

// markDead records that run ended by crashing.
func (c *consumer) markDead(run *consumerRun) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.run == run {
		c.run = nil
		c.deaths++
	}
}

// killNow stops c at once, wherever it is; false if it was dead.
func (c *consumer) killNow() bool {
	c.mu.Lock()
	run := c.run
	if run != nil {
		c.run = nil
		c.deaths++
		c.diedOn = ""
	}
	c.mu.Unlock()
	if run == nil {
		return false
	}
	run.cancel()
	<-run.done
	return true
}

// ring tells the consumers of a stream that n messages were published
// on it: in each service consuming it, up to n consumers that wait for work
// are woken, one per message, and the others sleep on. Only when fewer
// were waiting than messages came is a ring left for the busy ones too,
// which look for more work before they wait again.
func (in *instance) ring(stream string, n int) {
	for _, s := range in.subs[stream] {
		left := n
		for _, c := range s.consumers {
			if left == 0 {
				break
			}
			if c.bell.wake() {
				left--
			}
		}
		if left > 0 {
			for _, c := range s.consumers {
				c.bell.ring()
			}
		}
	}
}

// consume is a consumer's life: first the messages it left pending in an
// earlier life, then new ones; when idle, it claims messages other
// consumers left pending longer than claim_idle_ms. It reports whether the
// consumer died in a message.
func (in *instance) consume(ctx context.Context, c *consumer) (died bool) {
	ctx = context.WithValue(ctx, crashKey{}, crashFunc(func(point string) bool {
		p := c.kill.Load()
		return p != nil && *p == point
	}))
	if in.replayPending(ctx, c) {
		return true
	}
	claimEvery := min(max(in.cfg.claimIdle/4, 50*time.Millisecond), time.Second)
	lastClaim := in.pace.now()
	for ctx.Err() == nil {
		n, died := in.read(ctx, c)
		if died {
			return true
		}
		if n > 0 {
			continue
		}
		if now := in.pace.now(); now.Sub(lastClaim) >= claimEvery {
			lastClaim = now
			n, died := in.claim(ctx, c)
			if died {
				return true
			}
			if n > 0 {
				continue
			}
		}
		if !in.pace.wait(ctx, c.bell, idlePoll) {
			return false
		}
	}
	return false
}

// replayPending processes, once each, the messages this consumer's name
// holds in its groups' pending lists: what an earlier life read and never
// acknowledged. Reading them again raises their delivery counts. It
// reports whether the consumer died in one.
func (in *instance) replayPending(ctx context.Context, c *consumer) bool {
	for _, st := range c.svc.streams {
		cursor := "0"
		for ctx.Err() == nil {
			res, err := in.rdb.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: c.svc.name, Consumer: c.name,
				Streams: []string{st, cursor}, Count: 50, Block: -1}).Result()
			if err != nil {
				if !errors.Is(err, goredis.Nil) && ctx.Err() == nil {
					in.logf("read", "error", "%s could not read its pending messages: %v", c.name, err)
				}
				break
			}
			if len(res) == 0 || len(res[0].Messages) == 0 {
				break
			}
			for _, m := range res[0].Messages {
				in.markDelivered(st, c.svc.name, m.ID)
				if in.process(ctx, c, st, m, true) {
					return true
				}
				cursor = m.ID // the next read starts after it
			}
		}
	}
	return false
}

// read reads and processes new messages.
func (in *instance) read(ctx context.Context, c *consumer) (n int, died bool) {
	s := c.svc
	args := make([]string, 0, 2*len(s.streams))
	args = append(args, s.streams...)
	for range s.streams {
		args = append(args, ">")
	}
	res, err := in.rdb.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: s.name, Consumer: c.name, Streams: args, Count: readCount, Block: -1}).Result()
	if err != nil {
		if !errors.Is(err, goredis.Nil) && ctx.Err() == nil {
			in.logf("read", "error", "%s could not read its streams: %v", c.name, err)
		}
		return 0, false
	}
	for _, st := range res {
		for _, m := range st.Messages {
			n++
			in.markDelivered(st.Stream, s.name, m.ID)
			if in.process(ctx, c, st.Stream, m, false) {
				return n, true
			}
		}
	}
	return n, false
}

// claimCount bounds the messages one claim takes over.
const claimCount = 5

// claim takes over messages pending longer than claim_idle_ms.
func (in *instance) claim(ctx context.Context, c *consumer) (n int, died bool) {
	for _, st := range c.svc.streams {
		var (
			msgs []goredis.XMessage
			err  error
		)
		if in.pace.manual != nil {
			msgs, err = in.claimByClock(ctx, c, st)
		} else {
			msgs, _, err = in.rdb.XAutoClaim(ctx, &goredis.XAutoClaimArgs{Stream: st, Group: c.svc.name, Consumer: c.name,
				MinIdle: in.cfg.claimIdle, Start: "0-0", Count: claimCount}).Result()
		}
		if err != nil {
			if ctx.Err() == nil {
				in.logf("claim", "error", "%s could not claim pending messages: %v", c.name, err)
			}
			continue
		}
		for _, m := range msgs {
			n++
			in.claimed.Add(1)
			in.env.Metrics.Count("messages_claimed", 1)
			if in.process(ctx, c, st, m, true) {
				return n, true
			}
		}
	}
	return n, false
}

// claimByClock is XAUTOCLAIM with the idle time read on the lab's clock:
// the pending entries delivered claim_idle_ms or longer ago (by the times
// the consumers recorded) are taken over with XCLAIM. Claims are made one
// at a time, so two consumers never take the same entry.
func (in *instance) claimByClock(ctx context.Context, c *consumer, st string) ([]goredis.XMessage, error) {
	in.claimMu.Lock()
	defer in.claimMu.Unlock()
	pend, err := in.rdb.XPendingExt(ctx, &goredis.XPendingExtArgs{Stream: st, Group: c.svc.name, Start: "-", End: "+", Count: 100}).Result()
	if err != nil {
		return nil, err
	}
	cutoff := in.pace.now().Add(-in.cfg.claimIdle)
	var ids []string
	for _, p := range pend {
		// An entry with no delivery time is being delivered right now: a
		// consumer read it and has not noted it yet.
		if at, ok := in.deliveredAt(st, c.svc.name, p.ID); ok && !at.After(cutoff) {
			ids = append(ids, p.ID)
			if len(ids) == claimCount {
				break
			}
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	msgs, err := in.rdb.XClaim(ctx, &goredis.XClaimArgs{Stream: st, Group: c.svc.name, Consumer: c.name, Messages: ids}).Result()
	if err != nil {
		return nil, err
	}
	now := in.pace.now()
	for _, m := range msgs {
		in.delivered[st+" "+c.svc.name+" "+m.ID] = now
	}
	return msgs, nil
}

// markDelivered records, with a manual clock, when an entry was delivered.
func (in *instance) markDelivered(stream, group, id string) {
	if in.pace.manual == nil {
		return
	}
	in.claimMu.Lock()
	in.delivered[stream+" "+group+" "+id] = in.pace.now()
	in.claimMu.Unlock()
}

func (in *instance) deliveredAt(stream, group, id string) (time.Time, bool) {
	at, ok := in.delivered[stream+" "+group+" "+id] // claimMu is held
	return at, ok
}

// forgetDelivered drops an acknowledged entry's delivery time.
func (in *instance) forgetDelivered(stream, group, id string) {
	if in.pace.manual == nil {
		return
	}
	in.claimMu.Lock()
	delete(in.delivered, stream+" "+group+" "+id)
	in.claimMu.Unlock()
}

// process handles one delivery; it reports whether the consumer died in it.
func (in *instance) process(ctx context.Context, c *consumer, stream string, m goredis.XMessage, redelivered bool) bool {
	s := c.svc
	if m.Values == nil { // its entry was trimmed away: nothing to do
		_ = in.rdb.XAck(ctx, stream, s.name, m.ID).Err()
		return false
	}
	deliveries := int64(1)
	if redelivered {
		p, err := in.rdb.XPendingExt(ctx, &goredis.XPendingExtArgs{Stream: stream, Group: s.name, Start: m.ID, End: m.ID, Count: 1}).Result()
		if err == nil && len(p) == 1 {
			deliveries = p[0].RetryCount
		}
	}
	if deliveries > int64(in.cfg.maxDeliver) {
		in.deadLetter(ctx, s, stream, m, deliveries)
		return false
	}
	ev, err := decode(m)
	if err != nil {
		// Not acknowledged: it stays pending and is claimed again until it
		// has used up its deliveries.
		in.logf("poison:"+m.ID, "warn", "%s cannot process message %s (delivery %d of %d): %v", c.name, m.ID, deliveries, in.cfg.maxDeliver, err)
		return false
	}
	err = s.handle(ctx, ev)
	switch {
	case errors.Is(err, errCrashed):
		c.mu.Lock()
		c.diedOn = m.ID
		c.mu.Unlock()
		in.env.Metrics.Eventf("warn", "%s died in the middle of %s for order %s (message %s); the message stays pending", c.name, ev.Type, ev.OrderID, m.ID)
		return true
	case err != nil:
		if ctx.Err() == nil {
			in.logf("handle:"+s.name, "warn", "%s failed on %s for order %s (delivery %d); it stays pending and is tried again: %v",
				c.name, ev.Type, ev.OrderID, deliveries, err)
		}
		return false
	}
	if err := in.rdb.XAck(ctx, stream, s.name, m.ID).Err(); err != nil && ctx.Err() == nil {
		in.logf("ack", "error", "%s could not acknowledge %s: %v", c.name, m.ID, err)
	}
	in.forgetDelivered(stream, s.name, m.ID)
	in.processed.Add(1)
	in.env.Metrics.Count("messages_processed", 1)
	return false
}

func decode(m goredis.XMessage) (event, error) {
	raw, ok := m.Values["e"].(string)
	if !ok {
		return event{}, errors.New("no payload")
	}
	var ev event
	if err := json.Unmarshal([]byte(raw), &ev); err != nil {
		return event{}, fmt.Errorf("undecodable payload: %w", err)
	}
	if why := ev.valid(); why != "" {
		return event{}, errors.New(why)
	}
	return ev, nil
}

// deadLetter moves a message that used up its deliveries to the
// dead-letter stream and acknowledges it, in one MULTI.
func (in *instance) deadLetter(ctx context.Context, s *service, stream string, m goredis.XMessage, deliveries int64) {
	// This delivery is not tried: the message was tried deliveries-1 times.
	tried := deliveries - 1
	vals := map[string]any{"stream": strings.TrimPrefix(stream, in.env.Prefix), "group": s.name, "id": m.ID,
		"deliveries": tried, "at_ms": in.now().UnixMilli()}
	for k, v := range m.Values {
		vals[k] = v
	}
	_, err := in.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.XAdd(ctx, &goredis.XAddArgs{Stream: in.key(stDeadLetters), MaxLen: streamMaxLen, Approx: true, Values: vals})
		p.XAck(ctx, stream, s.name, m.ID)
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			in.logf("dead", "error", "could not dead-letter %s: %v", m.ID, err)
		}
		return
	}
	in.forgetDelivered(stream, s.name, m.ID)
	in.deadLet.Add(1)
	in.env.Metrics.Count("dead_lettered", 1)
	in.env.Metrics.Eventf("error", "%s message %s (%v) dead-lettered after %d deliveries (max_deliveries=%d)",
		s.name, m.ID, m.Values["type"], tried, in.cfg.maxDeliver)
}

// publish XADDs messages and rings their consumers.
func (in *instance) publish(ctx context.Context, outs []outMsg) error {
	if len(outs) == 0 {
		return nil
	}
	_, err := in.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, o := range outs {
			raw, err := json.Marshal(o.ev)
			if err != nil {
				return err
			}
			p.XAdd(ctx, &goredis.XAddArgs{Stream: o.stream, MaxLen: streamMaxLen, Approx: true,
				Values: map[string]any{"type": o.ev.Type, "e": string(raw)}})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, o := range outs {
		in.ring(o.stream, 1)
	}
	return nil
}

// relay publishes outbox rows to the streams and marks them published. It
// is the only relay of its instance, so rows go out in order; a relay that
// dies after publishing and before marking publishes the rows again.
type relay struct {
	in   *instance
	bell *doorbell

	mu      sync.Mutex
	run     *consumerRun
	last    *consumerRun // the latest run, to wait for before the next
	stopped bool         // by POST relay/stop

	crashNext atomic.Bool
	published atomic.Int64
	crashes   atomic.Int64
}

func (r *relay) ring() { r.bell.ring() }

// start starts the relay unless it runs; false if it was running.
func (r *relay) start() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = false
	if r.run != nil {
		return false
	}
	run := &consumerRun{done: make(chan struct{})}
	rctx, cancel := context.WithCancel(r.in.ctx)
	run.cancel = cancel
	if r.last != nil {
		<-r.last.done // the previous run has returned (it takes no lock after stopping)
	}
	r.bell.setOpen(true)
	if !r.in.spawn(func(context.Context) {
		defer close(run.done)
		defer cancel()
		defer r.bell.setOpen(false)
		r.loop(rctx, run)
	}) {
		r.bell.setOpen(false)
		cancel()
		return false
	}
	r.run, r.last = run, run
	return true
}

// stop stops the relay and waits for it; false if it was not running.
func (r *relay) stop() bool {
	r.mu.Lock()
	run := r.run
	r.run = nil
	r.stopped = true
	r.mu.Unlock()
	if run == nil {
		return false
	}
	run.cancel()
	<-run.done
	return true
}

func (r *relay) running() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.run != nil
}

func (r *relay) loop(ctx context.Context, run *consumerRun) {
	for ctx.Err() == nil {
		n, crashed := r.pass(ctx)
		if crashed {
			r.mu.Lock()
			if r.run == run {
				r.run = nil
			}
			r.mu.Unlock()
			// The supervisor restarts it, unless someone stopped it meanwhile.
			r.in.spawn(func(bctx context.Context) {
				if r.in.pace.sleep(bctx, relayRestart) != nil {
					return
				}
				r.mu.Lock()
				stopped := r.stopped
				r.mu.Unlock()
				if !stopped && r.start() {
					r.in.env.Metrics.Eventf("info", "relay restarted; it publishes the rows it had not marked again")
				}
			})
			return
		}
		if n == relayBatch {
			continue
		}
		r.in.pace.wait(ctx, r.bell, relayPoll)
	}
}

type outboxRow struct {
	id      int64
	stream  string
	typ     string
	payload string
}

// pass publishes one batch of unpublished rows.
func (r *relay) pass(ctx context.Context) (n int, crashed bool) {
	in := r.in
	rows, err := in.env.DB.QueryContext(ctx, in.env.Rebind(
		`SELECT id, stream, type, payload FROM shop_lab_outbox WHERE instance = ? AND published_ms IS NULL ORDER BY id LIMIT ?`),
		in.env.Instance, relayBatch)
	if err != nil {
		if ctx.Err() == nil {
			in.logf("relay", "error", "relay could not read the outbox: %v", err)
		}
		return 0, false
	}
	var batch []outboxRow
	for rows.Next() {
		var o outboxRow
		if err := rows.Scan(&o.id, &o.stream, &o.typ, &o.payload); err != nil {
			_ = rows.Close()
			return 0, false
		}
		batch = append(batch, o)
	}
	_ = rows.Close()
	if rows.Err() != nil || len(batch) == 0 {
		return 0, false
	}
	_, err = in.rdb.Pipelined(ctx, func(p goredis.Pipeliner) error {
		for _, o := range batch {
			p.XAdd(ctx, &goredis.XAddArgs{Stream: o.stream, MaxLen: streamMaxLen, Approx: true,
				Values: map[string]any{"type": o.typ, "e": o.payload}})
		}
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			in.logf("relay", "error", "relay could not publish %d outbox rows; they wait for the next pass: %v", len(batch), err)
		}
		return 0, false
	}
	streams := map[string]int{}
	for _, o := range batch {
		streams[o.stream]++
	}
	defer func() {
		for s, n := range streams {
			in.ring(s, n)
		}
	}()
	if r.crashNext.CompareAndSwap(true, false) {
		r.crashes.Add(1)
		in.env.Metrics.Eventf("warn", "relay crashed after publishing %d outbox rows and before marking them published", len(batch))
		return len(batch), true
	}
	ids := make([]any, 0, len(batch)+2)
	ids = append(ids, in.now().UnixMilli(), in.env.Instance)
	ph := make([]string, len(batch))
	for i, o := range batch {
		ph[i] = "?"
		ids = append(ids, o.id)
	}
	if _, err := in.env.DB.ExecContext(ctx, in.env.Rebind(`UPDATE shop_lab_outbox SET published_ms = ? WHERE instance = ? AND id IN (`+
		strings.Join(ph, ", ")+`)`), ids...); err != nil {
		if ctx.Err() == nil {
			in.logf("relay", "error", "relay published %d rows but could not mark them; they will be published again: %v", len(batch), err)
		}
		return 0, false
	}
	r.published.Add(int64(len(batch)))
	return len(batch), false
}

// groupsOf names the consumer groups of a stream.
func (in *instance) groupsOf(stream string) []string {
	var out []string
	for _, s := range in.subs[stream] {
		out = append(out, s.name)
	}
	sort.Strings(out)
	return out
}

// poison publishes a message no consumer can decode to the stream the
// inventory service consumes.
func (in *instance) poison(ctx context.Context) (string, string, error) {
	st := in.svcs[SvcInventory].streams[0]
	id, err := in.rdb.XAdd(ctx, &goredis.XAddArgs{Stream: st, MaxLen: streamMaxLen, Approx: true,
		Values: map[string]any{"type": TOrderCreated, "e": `{"type": "OrderCreated", "order_id": 17, "qty": "two"`}}).Result()
	if err != nil {
		return "", "", err
	}
	in.ring(st, 1)
	return strings.TrimPrefix(st, in.env.Prefix), id, nil
}

// maxLag bounds how far backlog counts the entries a group has not been
// delivered yet.
const maxLag = 1000

// backlogView is the messages the services have not finished, over every
// consumer group: Pending were delivered and not acknowledged (the groups'
// pending entries lists); Lag were published and not delivered yet.
type backlogView struct {
	Pending   int64
	Lag       int64
	ByService map[string]int64 // pending + lag
}

func (in *instance) backlog(ctx context.Context) (backlogView, error) {
	b := backlogView{ByService: map[string]int64{}}
	for _, s := range in.svcs {
		for _, st := range s.streams {
			groups, err := in.rdb.XInfoGroups(ctx, st).Result()
			if err != nil {
				return b, err
			}
			for _, g := range groups {
				if g.Name != s.name {
					continue
				}
				b.Pending += g.Pending
				b.ByService[s.name] += g.Pending
				// Entries after the last delivered one (XRANGE is inclusive).
				msgs, err := in.rdb.XRangeN(ctx, st, g.LastDeliveredID, "+", maxLag+1).Result()
				if err != nil {
					return b, err
				}
				lag := int64(len(msgs))
				if lag > 0 && msgs[0].ID == g.LastDeliveredID {
					lag--
				}
				lag = min(lag, maxLag)
				b.Lag += lag
				b.ByService[s.name] += lag
			}
		}
	}
	return b, nil
}

func itoa(n int) string { return strconv.Itoa(n) }
