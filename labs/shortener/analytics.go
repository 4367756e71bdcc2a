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
// path never waits for a write: a click is added to a map in process;
// every 100 ms the map is added to a Redis hash in one pipeline (what
// several redirect servers would share); every second the hash is taken
// whole and added to the database's clicks table in one transaction. A
// crash loses at most the clicks of the last 100 ms in process; a failed
// database write puts its counts back in Redis for the next flush.
type clickCounter struct {
	in      *instance
	mu      sync.Mutex
	pending map[string]int64

	cancel   context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once

	toRedis, toDB atomic.Int64
}

// takeClicks reads and deletes the hash in one step, so clicks added
// meanwhile wait for the next flush instead of being lost.
var takeClicks = goredis.NewScript(`
local v = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return v
`)

func newClickCounter(in *instance) *clickCounter {
	ctx, cancel := context.WithCancel(context.Background())
	c := &clickCounter{in: in, pending: map[string]int64{}, cancel: cancel, done: make(chan struct{})}
	go c.run(ctx)
	return c
}

func (c *clickCounter) key() string { return c.in.env.Prefix + "clicks" }

func (c *clickCounter) add(code string) {
	c.mu.Lock()
	c.pending[code]++
	c.mu.Unlock()
}

// run pushes and flushes on the instance's clock, so a check that moves
// the clock by hand decides when clicks move.
func (c *clickCounter) run(ctx context.Context) {
	defer close(c.done)
	clock := c.in.env.Clocked()
	t := clock.NewTicker(pushEvery)
	defer t.Stop()
	last := clock.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			c.push(ctx)
			if now := clock.Now(); now.Sub(last) >= flushEvery {
				last = now
				c.flush(ctx)
			}
		}
	}
}

// push adds the clicks counted in process to Redis.
func (c *clickCounter) push(ctx context.Context) {
	c.mu.Lock()
	batch := c.pending
	if len(batch) == 0 {
		c.mu.Unlock()
		return
	}
	c.pending = map[string]int64{}
	c.mu.Unlock()
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
