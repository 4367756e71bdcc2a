package shop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

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
