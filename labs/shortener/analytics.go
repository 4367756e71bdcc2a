package shortener

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// clickCounter counts redirects per code in three steps, so the redirect
// path rarely waits for a write: a click is added to a map in process;
// every click_push_ms the map is added to a Redis hash in one pipeline
// (what several redirect servers would share); every second the hash is
// taken whole and added to the database's clicks table in one transaction.
// A crash loses the clicks of the current push interval, still in process;
// a failed database write puts its counts back in Redis for the next flush.
//
// A push is due once click_push_ms has passed on the instance's clock
// since the last one. Whichever comes first when it is due takes the map:
// the ticker, or the first click after that moment (which pushes before it
// counts itself). So the same clicks at the same times of a clock a check
// moves make the same pushes, however the ticker's goroutine is scheduled.
type clickCounter struct {
	in       *instance
	every    time.Duration
	mu       sync.Mutex
	pending  map[string]int64
	held     int64 // the sum of pending
	lastPush time.Time

	lifeMu   sync.Mutex // a crash or stop at a time
	cancel   context.CancelFunc
	done     chan struct{}
	stopped  bool
	stopOnce sync.Once

	toRedis, toDB, pushes, lost atomic.Int64
}

// takeClicks reads and deletes the hash in one step, so clicks added
// meanwhile wait for the next flush instead of being lost.
var takeClicks = goredis.NewScript(`
local v = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return v
`)

func newClickCounter(in *instance) *clickCounter {
	c := &clickCounter{in: in, every: in.cfg.pushEvery, pending: map[string]int64{}, lastPush: in.env.Now()}
	c.start()
	return c
}

// start starts the ticker's goroutine. lifeMu is held or not yet needed.
func (c *clickCounter) start() {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	go c.run(ctx, c.done)
}

func (c *clickCounter) key() string { return c.in.env.Prefix + "clicks" }

// add counts a click of code, pushing the clicks before it first when a
// push is due.
func (c *clickCounter) add(ctx context.Context, code string) {
	c.mu.Lock()
	batch := c.takeDue(c.in.env.Now())
	c.pending[code]++
	c.held++
	c.mu.Unlock()
	if batch != nil {
		c.send(ctx, batch)
	}
}

// takeDue takes the pending clicks when a push is due at now (nil when
// none is, or nothing is pending). c.mu is held.
func (c *clickCounter) takeDue(now time.Time) map[string]int64 {
	if now.Sub(c.lastPush) < c.every {
		return nil
	}
	c.lastPush = now
	if len(c.pending) == 0 {
		return nil
	}
	batch := c.pending
	c.pending, c.held = map[string]int64{}, 0
	c.pushes.Add(1) // counted when taken, so a reader never sees it late
	return batch
}

// pendingClicks is how many clicks are counted in process only.
func (c *clickCounter) pendingClicks() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held
}

// run pushes and flushes on the instance's clock, so a check that moves
// the clock by hand decides when clicks move.
func (c *clickCounter) run(ctx context.Context, done chan struct{}) {
	defer close(done)
	clock := c.in.env.Clocked()
	t := clock.NewTicker(c.every)
	defer t.Stop()
	last := clock.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			now := clock.Now()
			c.mu.Lock()
			batch := c.takeDue(now)
			c.mu.Unlock()
			if batch != nil {
				// A push taken is sent even when a crash comes meanwhile:
				// the crash waits for it, as the clicks left the process.
				c.send(context.WithoutCancel(ctx), batch)
			}
			if now.Sub(last) >= flushEvery {
				last = now
				// A flush started finishes even when a stop or crash comes
				// meanwhile, which waits for it: cut between the database's
				// commit and its answer, the clicks would go back to Redis
				// and be counted twice.
				fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
				c.flush(fctx)
				cancel()
			}
		}
	}
}

// push adds every click counted in process to Redis at once (a graceful
// stop's last push).
func (c *clickCounter) push(ctx context.Context) {
	c.mu.Lock()
	batch := c.pending
	c.pending, c.held = map[string]int64{}, 0
	c.mu.Unlock()
	if len(batch) > 0 {
		c.pushes.Add(1)
		c.send(ctx, batch)
	}
}

// send adds batch to the Redis hash in one pipeline; on a failure the
// clicks go back to the map for the next push.
func (c *clickCounter) send(ctx context.Context, batch map[string]int64) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second) // a Redis that stopped answering, on the machine's clock
	defer cancel()
	pipe := c.in.rdb.Pipeline()
	var n int64
	for code, k := range batch {
		pipe.HIncrBy(ctx, c.key(), code, k)
		n += k
	}
	if _, err := pipe.Exec(ctx); err != nil {
		if ctx.Err() != nil {
			return
		}
		c.in.redisError("adding clicks", err)
		c.mu.Lock()
		for code, k := range batch {
			c.pending[code] += k
			c.held += k
		}
		c.mu.Unlock()
		return
	}
	c.toRedis.Add(n)
	c.in.env.Metrics.Count("clicks_to_redis", float64(n))
}

// flush moves the counts in Redis to the database.
func (c *clickCounter) flush(ctx context.Context) {
	v, err := takeClicks.Run(ctx, c.in.rdb, []string{c.key()}).StringSlice()
	if err != nil {
		if ctx.Err() == nil {
			c.in.redisError("taking clicks to flush", err)
		}
		return
	}
	counts := make(map[string]int64, len(v)/2)
	var n int64
	for i := 0; i+1 < len(v); i += 2 {
		k, err := strconv.ParseInt(v[i+1], 10, 64)
		if err != nil {
			continue
		}
		counts[v[i]] += k
		n += k
	}
	if len(counts) == 0 {
		return
	}
	if err := c.in.addClicks(ctx, counts); err != nil {
		// Put them back for the next flush. The timeout bounds a Redis
		// that stopped answering, on the machine's clock.
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		pipe := c.in.rdb.Pipeline()
		for code, k := range counts {
			pipe.HIncrBy(bctx, c.key(), code, k)
		}
		_, perr := pipe.Exec(bctx)
		switch {
		case ctx.Err() != nil:
		case perr != nil:
			c.in.env.Metrics.Eventf("error", "flushing %d clicks to the database failed (%v), and putting them back in Redis failed too: %v", n, err, perr)
		default:
			c.in.env.Metrics.Eventf("error", "flushing %d clicks to the database failed (%v); they are back in Redis for the next flush", n, err)
		}
		return
	}
	c.toDB.Add(n)
	c.in.env.Metrics.Count("clicks_to_db", float64(n))
}

// stop ends the counter; with final it first pushes and flushes what it
// holds (a graceful shutdown), without it they are lost (a crash).
func (c *clickCounter) stop(final bool) {
	c.stopOnce.Do(func() {
		c.lifeMu.Lock()
		defer c.lifeMu.Unlock()
		c.stopped = true
		c.cancel()
		<-c.done
		if final {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c.push(ctx)
			c.flush(ctx)
		}
	})
}

// counts reports code's clicks at each step: still in process, in Redis,
// and in the database.
func (c *clickCounter) counts(ctx context.Context, code string) (ClickCounts, error) {
	c.mu.Lock()
	p := c.pending[code]
	c.mu.Unlock()
	r, err := c.in.rdb.HGet(ctx, c.key(), code).Int64()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return ClickCounts{}, err
	}
	d, err := c.in.dbClicks(ctx, code)
	if err != nil {
		return ClickCounts{}, err
	}
	return ClickCounts{InProcess: p, InRedis: r, InDatabase: d, Total: p + r + d}, nil
}

// ClickCounts are a link's clicks at each step of counting.
type ClickCounts struct {
	InProcess  int64 `json:"in_process"`
	InRedis    int64 `json:"in_redis"`
	InDatabase int64 `json:"in_database"`
	Total      int64 `json:"total"`
}

// crash ends the counting process as a crash would and starts the next
// one: the clicks still in process are lost (it returns how many); what
// was pushed to Redis stays there for the next flush. A push already
// taken is sent first, as it had left the process.
func (c *clickCounter) crash() int64 {
	c.lifeMu.Lock()
	defer c.lifeMu.Unlock()
	if c.stopped {
		return 0
	}
	c.cancel()
	<-c.done
	c.mu.Lock()
	n := c.held
	c.pending, c.held = map[string]int64{}, 0
	c.lastPush = c.in.env.Now()
	c.mu.Unlock()
	c.lost.Add(n)
	c.start()
	return n
}
