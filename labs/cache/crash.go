package cache

import (
	"context"
	"errors"
	"fmt"
	"sort"
)

// LostWrite is an acknowledged write the database never received.
type LostWrite struct {
	ID      int   `json:"id"`
	Version int64 `json:"version"`
}

// CrashReport is the answer to POST crash-flusher.
type CrashReport struct {
	Queue string `json:"queue"`
	// Pending is how many acknowledged writes had not reached the database
	// when the flusher died.
	Pending   int         `json:"pending"`
	Lost      []LostWrite `json:"lost"`
	LostCount int         `json:"lost_count"`
	Message   string      `json:"message"`
}

// crash kills the flusher as a process crash would: its context ends
// mid-whatever, and everything it held in memory is gone. A new flusher
// starts; once its first pass is done, every write that was pending at the
// crash is checked against the database.
func (wb *writeBehind) crash(ctx context.Context) (CrashReport, error) {
	wb.crashMu.Lock()
	defer wb.crashMu.Unlock()
	pending, next, err := wb.kill(ctx)
	if err != nil {
		return CrashReport{}, err
	}
	wb.crashes.Add(1)
	select {
	case <-next.ready:
	case <-ctx.Done():
		return CrashReport{}, ctx.Err()
	}
	committed, err := wb.in.dbVersions(ctx)
	if err != nil {
		return CrashReport{}, fmt.Errorf("read committed versions: %w", err)
	}
	rep := wb.report(pending, committed)
	wb.lost.Add(int64(rep.LostCount))
	return rep, nil
}

// kill stops the running flusher, gathers the acknowledged writes that
// had not reached the database (the stream's entries, or the memory that
// died with it) and starts the next flusher. wb.crashMu is held.
func (wb *writeBehind) kill(ctx context.Context) ([]queuedWrite, *flusherRun, error) {
	in := wb.in
	wb.mu.Lock()
	if wb.closed {
		wb.mu.Unlock()
		return nil, nil, errors.New("the instance is stopped")
	}
	old := wb.flusher
	wb.mu.Unlock()
	old.cancel()
	<-old.done

	var pending []queuedWrite
	if wb.durable {
		// Everything still in the stream is unacknowledged: delivered to
		// the dead flusher or not yet read. It survives in Redis.
		msgs, err := in.redis().XRange(ctx, in.streamKey(), "-", "+").Result()
		if err != nil {
			in.redisError("write-behind stream range", err)
			wb.mu.Lock()
			wb.flusher = wb.start() // the crash happened; only the report failed
			wb.mu.Unlock()
			return nil, nil, fmt.Errorf("read the stream: %w", err)
		}
		for _, m := range msgs {
			if w, err := decodeWrite(m); err == nil {
				pending = append(pending, w)
			}
		}
	}
	wb.mu.Lock()
	defer wb.mu.Unlock()
	if !wb.durable {
		// The process's memory is gone: the batch the flusher was writing
		// and the queue behind it.
		pending = append(old.held, wb.queue...)
		wb.queue = nil
		wb.pending.Add(-int64(len(pending)))
	}
	wb.flusher = wb.start()
	return pending, wb.flusher, nil
}

// report lists the pending writes the database lacks and says what that
// means.
func (wb *writeBehind) report(pending []queuedWrite, committed map[int]int64) CrashReport {
	in := wb.in
	rep := CrashReport{Queue: in.cfg.queue, Pending: len(pending), Lost: []LostWrite{}}
	for _, w := range pending {
		if committed[w.ID] < w.Version {
			rep.Lost = append(rep.Lost, LostWrite{ID: w.ID, Version: w.Version})
		}
	}
	sort.Slice(rep.Lost, func(i, j int) bool {
		if rep.Lost[i].ID != rep.Lost[j].ID {
			return rep.Lost[i].ID < rep.Lost[j].ID
		}
		return rep.Lost[i].Version < rep.Lost[j].Version
	})
	rep.LostCount = len(rep.Lost)
	switch {
	case rep.Pending == 0:
		rep.Message = "The flusher crashed with nothing pending: every acknowledged write had already reached the database."
	case rep.LostCount > 0:
		rep.Message = fmt.Sprintf("%d of %d acknowledged writes were lost: they lived only in the flusher's in-process queue, "+
			"which died with it, so the database never received them. The cache still shows them until their TTL; "+
			"then readers get the older database row. A durable queue (write_behind_queue=redis_stream) keeps them.",
			rep.LostCount, rep.Pending)
		in.env.Metrics.Eventf("error", "flusher crashed: %d acknowledged writes lost", rep.LostCount)
	default:
		rep.Message = fmt.Sprintf("None lost: %d acknowledged writes were pending in the Redis stream, unacknowledged, "+
			"and the restarted flusher replayed them into the database.", rep.Pending)
		in.env.Metrics.Eventf("info", "flusher crashed and restarted: %d pending writes replayed, none lost", rep.Pending)
	}
	return rep
}
