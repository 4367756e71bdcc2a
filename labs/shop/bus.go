package shop

import (
	"context"
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
