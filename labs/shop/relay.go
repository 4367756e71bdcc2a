package shop

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"
)

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
