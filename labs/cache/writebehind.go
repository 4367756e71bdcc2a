package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

const (
	// maxQueued bounds the write-behind queue (either kind): beyond it
	// writes are refused with 503 rather than growing memory without end.
	maxQueued = 10000
	// flushBatch is how many stream entries the flusher reads at a time.
	flushBatch = 500
	group      = "flushers"
	consumer   = "flusher"
)

// queuedWrite is one acknowledged write-behind write: the whole new row, so
// applying it twice, or late, is harmless (see dbApply).
type queuedWrite struct {
	ID      int    `json:"id"`
	Name    string `json:"name"`
	Price   int64  `json:"price"`
	Version int64  `json:"version"`
}

// writeBehind is the write-behind path and its flusher.
//
// With the memory queue, writes wait in a slice in this process and the
// flusher takes them from there: the naive design, whose window of
// acknowledged-but-unflushed writes dies with the flusher. With the Redis
// stream, the cache update and the stream entry are one atomic script, the
// flusher reads entries through a consumer group and acknowledges them only
// after the database commit, and a restarted flusher first replays what was
// delivered but never acknowledged. (The stream is as durable as Redis
// itself: persistence and replicas decide what survives a Redis crash.)
//
// Writes to one item are serialised by a striped in-process lock, because a
// write that changes only the price keeps the cached name, a
// read-modify-write of the entry. This lab runs one app process per
// instance; several processes would need a Redis lock or a script instead.
type writeBehind struct {
	in      *instance
	durable bool
	stripes [lockStripes]sync.Mutex

	mu      sync.Mutex
	queue   []queuedWrite // memory queue only
	flusher *flusherRun
	closed  bool

	crashMu sync.Mutex // one crash (or close) at a time

	pending                atomic.Int64 // memory queue: written, not yet flushed or discarded
	flushed, crashes, lost atomic.Int64
	// passes counts the flusher's passes, whatever they found to do, so a
	// check can tell a pass has happened after it moved the clock.
	passes atomic.Int64

	// beforeApply, when set by a test, runs before each database batch with
	// the flusher's context: it lets a test crash a flusher mid-batch.
	beforeApply atomic.Pointer[func(ctx context.Context)]
}

// flusherRun is one life of the flusher goroutine.
type flusherRun struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine has returned
	ready  chan struct{} // closed after its first pass
	held   []queuedWrite // memory queue: taken but not committed; read after done
}

func newWriteBehind(ctx context.Context, in *instance) (*writeBehind, error) {
	wb := &writeBehind{in: in, durable: in.cfg.queue == QueueStream}
	if wb.durable {
		err := in.redis().XGroupCreateMkStream(ctx, in.streamKey(), group, "0").Err()
		if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
			return nil, fmt.Errorf("cache: create write-behind stream: %w", err)
		}
	}
	wb.mu.Lock()
	fr := wb.start()
	wb.flusher = fr
	wb.mu.Unlock()
	// The instance is ready once the flusher's first pass is done, so that
	// pass never races the first writes (it would flush some of them at a
	// moment only the machine's speed decides).
	select {
	case <-fr.ready:
	case <-ctx.Done():
		wb.close()
		return nil, ctx.Err()
	}
	return wb, nil
}

// start launches a flusher; the caller holds wb.mu.
func (wb *writeBehind) start() *flusherRun {
	ctx, cancel := context.WithCancel(context.Background())
	fr := &flusherRun{cancel: cancel, done: make(chan struct{}), ready: make(chan struct{})}
	go wb.run(ctx, fr)
	return fr
}

func (wb *writeBehind) run(ctx context.Context, fr *flusherRun) {
	defer close(fr.done)
	// The ticker starts with the flusher, before its first pass, so a
	// manual clock moved right after ready is seen by it.
	t := wb.in.clock.NewTicker(wb.in.cfg.flush)
	defer t.Stop()
	wb.flushOnce(ctx, fr) // a new flusher first replays what its predecessor left
	wb.passes.Add(1)
	close(fr.ready)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			wb.flushOnce(ctx, fr)
			wb.passes.Add(1)
		}
	}
}

func (wb *writeBehind) flushOnce(ctx context.Context, fr *flusherRun) {
	if wb.durable {
		wb.flushStream(ctx)
		return
	}
	wb.mu.Lock()
	fr.held = append(fr.held, wb.queue...)
	wb.queue = nil
	wb.mu.Unlock()
	if len(fr.held) == 0 {
		return
	}
	if f := wb.beforeApply.Load(); f != nil {
		(*f)(ctx)
	}
	if err := wb.in.dbApply(ctx, fr.held); err != nil {
		if ctx.Err() == nil {
			wb.in.env.Metrics.Eventf("warn", "write-behind flush of %d writes failed, retrying next interval: %v", len(fr.held), err)
		}
		return // keep them held and retry
	}
	wb.flushed.Add(int64(len(fr.held)))
	wb.pending.Add(-int64(len(fr.held)))
	fr.held = nil
}

// flushStream writes stream entries to the database: first those delivered
// to this consumer but never acknowledged (a crashed flusher's batch, or a
// failed one), then new ones. An entry is acknowledged and deleted only
// after the transaction holding it commits.
func (wb *writeBehind) flushStream(ctx context.Context) {
	in := wb.in
	for _, start := range []string{"0", ">"} {
		for range maxQueued / flushBatch {
			res, err := in.redis().XReadGroup(ctx, &goredis.XReadGroupArgs{Group: group, Consumer: consumer,
				Streams: []string{in.streamKey(), start}, Count: flushBatch, Block: -1}).Result()
			if errors.Is(err, goredis.Nil) {
				break
			}
			if err != nil {
				if ctx.Err() == nil {
					in.redisError("write-behind stream read", err)
				}
				return
			}
			if len(res) == 0 || len(res[0].Messages) == 0 {
				break
			}
			msgs := res[0].Messages
			ws, ids := make([]queuedWrite, 0, len(msgs)), make([]string, 0, len(msgs))
			for _, m := range msgs {
				ids = append(ids, m.ID)
				w, err := decodeWrite(m)
				if err != nil {
					// A poison entry would block the queue forever: drop it loudly.
					in.env.Metrics.Eventf("error", "write-behind: dropping undecodable stream entry %s: %v", m.ID, err)
					continue
				}
				ws = append(ws, w)
			}
			if f := wb.beforeApply.Load(); f != nil {
				(*f)(ctx)
			}
			if err := in.dbApply(ctx, ws); err != nil {
				if ctx.Err() == nil {
					in.env.Metrics.Eventf("warn", "write-behind flush of %d writes failed; they stay in the stream: %v", len(ws), err)
				}
				return
			}
			if _, err := in.redis().TxPipelined(ctx, func(p goredis.Pipeliner) error {
				p.XAck(ctx, in.streamKey(), group, ids...)
				p.XDel(ctx, in.streamKey(), ids...)
				return nil
			}); err != nil {
				// Committed but not acknowledged: replayed next pass, harmlessly.
				in.redisError("write-behind stream ack", err)
				return
			}
			wb.flushed.Add(int64(len(ws)))
			if len(msgs) < flushBatch {
				break
			}
		}
	}
}

func decodeWrite(m goredis.XMessage) (queuedWrite, error) {
	raw, ok := m.Values["w"].(string)
	if !ok {
		return queuedWrite{}, errors.New("no write field")
	}
	var w queuedWrite
	if err := json.Unmarshal([]byte(raw), &w); err != nil {
		return queuedWrite{}, err
	}
	if w.ID < 1 || w.ID > CatalogueSize || w.Version < 1 {
		return queuedWrite{}, fmt.Errorf("bad write %+v", w)
	}
	return w, nil
}

// write updates the cached item and queues the write; it returns as soon
// as the cache holds it, before the database does.
func (wb *writeBehind) write(ctx context.Context, id int, price int64, name *string) (Item, error) {
	in := wb.in
	l := &wb.stripes[id%lockStripes]
	l.Lock()
	defer l.Unlock()
	if !wb.durable && wb.pending.Load() >= maxQueued {
		return Item{}, errQueueFull
	}
	cur, err := wb.current(ctx, id)
	if err != nil {
		return Item{}, err
	}
	// Versions come from a Redis counter, not from the cached entry, so they
	// keep rising even after a crash lost writes the cache had seen.
	n, err := in.redis().HIncrBy(ctx, in.versionsKey(), fmt.Sprint(id), 1).Result()
	if err != nil {
		in.redisError("write-behind version", err)
		return Item{}, errCacheDown
	}
	it := Item{ID: id, Name: cur.Name, Price: price, Version: max(n+1, cur.Version+1)}
	if name != nil {
		it.Name = *name
	}
	e := in.newEntry(it, time.Duration(cur.DeltaMS*float64(time.Millisecond)))
	rawEntry, err := json.Marshal(e)
	if err != nil {
		return Item{}, err
	}
	w := queuedWrite{ID: id, Name: it.Name, Price: price, Version: it.Version}
	rawWrite, err := json.Marshal(w)
	if err != nil {
		return Item{}, err
	}
	durable := "0"
	if wb.durable {
		durable = "1"
	}
	res, err := queueWriteScript.Run(ctx, in.redis(), []string{in.itemKey(id), in.floorsKey(), in.streamKey()},
		id, it.Version, rawEntry, in.redisTTL(in.cfg.ttl).Milliseconds(), rawWrite, durable, maxQueued).Int()
	if err != nil {
		in.redisError("write-behind write", err)
		return Item{}, errCacheDown
	}
	if res < 0 {
		return Item{}, errQueueFull
	}
	if !wb.durable {
		wb.mu.Lock()
		wb.queue = append(wb.queue, w)
		wb.mu.Unlock()
		wb.pending.Add(1)
	}
	return it, nil
}

// current is the item as the cache holds it, loaded from the database on a
// miss (the entry is the newest copy while writes wait to be flushed).
func (wb *writeBehind) current(ctx context.Context, id int) (entry, error) {
	in := wb.in
	e, err := in.cacheGet(ctx, id)
	switch {
	case err == nil:
		return e, nil
	case errors.Is(err, goredis.Nil), errors.Is(err, errCorrupt):
		start := in.now()
		it, err := in.dbRead(ctx, id)
		if err != nil {
			return entry{}, err
		}
		return in.newEntry(it, in.now().Sub(start)), nil
	default:
		in.redisError("write-behind read", err)
		return entry{}, errCacheDown
	}
}

// WriteBehindState is the write-behind part of State.
type WriteBehindState struct {
	Queue           string `json:"queue"`
	FlushIntervalMS int64  `json:"flush_interval_ms"`
	Pending         int64  `json:"pending"`
	Flushed         int64  `json:"flushed"`
	Crashes         int64  `json:"crashes"`
	LostInCrashes   int64  `json:"lost_in_crashes"`
	// FlushPasses counts the flusher's passes since the instance started,
	// whatever they found to do: a check that moved the clock past a tick
	// reads here that the pass it brought has happened.
	FlushPasses int64 `json:"flush_passes"`
}

func (wb *writeBehind) state(ctx context.Context) (WriteBehindState, error) {
	s := WriteBehindState{Queue: wb.in.cfg.queue, FlushIntervalMS: wb.in.cfg.flush.Milliseconds(),
		Pending: wb.pending.Load(), Flushed: wb.flushed.Load(), Crashes: wb.crashes.Load(), LostInCrashes: wb.lost.Load(),
		FlushPasses: wb.passes.Load()}
	if wb.durable {
		n, err := wb.in.redis().XLen(ctx, wb.in.streamKey()).Result()
		if err != nil {
			return s, fmt.Errorf("write-behind stream length: %w", err)
		}
		s.Pending = n
	}
	return s, nil
}

// close stops the flusher for good.
func (wb *writeBehind) close() {
	wb.crashMu.Lock()
	defer wb.crashMu.Unlock()
	wb.mu.Lock()
	wb.closed = true
	fr := wb.flusher
	wb.mu.Unlock()
	fr.cancel()
	<-fr.done
}
