package cache

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// crashCase is one instance of TestWriteBehindCrash.
type crashCase struct {
	in      *instance
	mc      *labs.ManualClock
	queue   string
	when    string
	holding chan struct{} // closed once the flusher holds a batch it will never write
}

// newCrashCase launches write-behind with queue on a manual clock; for
// "mid-batch" its flusher will die holding the first batch it takes.
func newCrashCase(t *testing.T, env labs.Env, queue, when string) *crashCase {
	env, mc := onManualClock(withTag(env, queue+when))
	c := &crashCase{queue: queue, when: when, mc: mc, holding: make(chan struct{})}
	c.in = mustLaunch(t, env, map[string]any{"strategy": "write_behind", "write_behind_queue": queue,
		"flush_interval_ms": 50, "db_latency_ms": 0})
	if when == "mid-batch" {
		var blocked atomic.Bool
		hook := func(ctx context.Context) {
			if blocked.CompareAndSwap(false, true) {
				close(c.holding)
				<-ctx.Done() // die holding the batch
			}
		}
		c.in.wb.beforeApply.Store(&hook)
	}
	return c
}

// writeAndCrash writes 12 prices to 8 items, lets the flusher take them
// for "mid-batch", crashes it and returns the newest version of each item
// and the report.
func (c *crashCase) writeAndCrash(t *testing.T) (map[int]int64, CrashReport) {
	written := map[int]int64{}
	for n := range 12 {
		id := 1 + n%8
		written[id] = mustPut(t, c.in, id, int64(500+n)).Version
	}
	if c.when == "mid-batch" {
		c.mc.Advance(50 * time.Millisecond) // the flusher's tick
		<-c.holding
	}
	rec := serve(c.in, http.MethodPost, "crash-flusher", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("crash-flusher: %d %s", rec.Code, rec.Body)
	}
	rep := mustDecode[CrashReport](t, rec)
	if rep.Pending == 0 {
		t.Fatalf("nothing was pending at the crash: %+v", rep)
	}
	return written, rep
}

// verify compares the report and the database with what was written.
func (c *crashCase) verify(t *testing.T, written map[int]int64, rep CrashReport) {
	committed, err := c.in.dbVersions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.queue == QueueStream {
		if rep.LostCount != 0 {
			t.Errorf("durable queue lost %d writes: %+v", rep.LostCount, rep.Lost)
		}
		for id, v := range written {
			if committed[id] != v {
				t.Errorf("item %d: database version %d, acknowledged %d", id, committed[id], v)
			}
		}
		return
	}
	lost := map[int]int64{}
	for _, l := range rep.Lost {
		lost[l.ID] = max(lost[l.ID], l.Version)
	}
	for id, v := range written {
		if committed[id] >= v {
			t.Errorf("item %d: the database has version %d although the memory queue died", id, committed[id])
		}
		if lost[id] != v {
			t.Errorf("item %d: the report lists version %d as lost, want %d", id, lost[id], v)
		}
	}
	if !strings.Contains(rep.Message, "lost") {
		t.Errorf("message: %q", rep.Message)
	}
}

// flushesAfter checks that the restarted flusher keeps working: a write
// after the crash reaches the database on the next tick.
func (c *crashCase) flushesAfter(t *testing.T) {
	v := mustPut(t, c.in, 100, 1).Version
	tg := (&labs.Probe{Instance: c.in, Env: c.in.env}).Target()
	if err := flushPass(context.Background(), tg, c.in.cfg.flush); err != nil {
		t.Fatal(err)
	}
	if c, err := c.in.dbVersions(context.Background()); err != nil || c[100] != v {
		t.Errorf("a write after the crash is not in the database after the next flush: version %d, want %d (%v)", c[100], v, err)
	}
}

// Write-behind durability: with the in-process queue a flusher crash loses
// acknowledged writes and says which; with the Redis stream it loses none,
// whether the writes were still queued or in the batch the flusher was
// writing when it died. The flusher ticks on a manual clock, so a flush
// happens exactly when the test moves it.
func TestWriteBehindCrash(t *testing.T) {
	for _, e := range labtest.Envs(t, "wbcrash") {
		for _, queue := range []string{QueueMemory, QueueStream} {
			for _, when := range []string{"queued", "mid-batch"} {
				t.Run(e.Name+"/"+queue+"/"+when, func(t *testing.T) {
					c := newCrashCase(t, e.Env, queue, when)
					written, rep := c.writeAndCrash(t)
					c.verify(t, written, rep)
					if when == "mid-batch" {
						c.flushesAfter(t)
					}
				})
			}
		}
	}
}

// An instance started under the id of a halted one takes over its rows and
// Redis keys, as a restarted process finds its database and cache: the
// durable queue's writes reach the database on the new flusher's first
// pass, the memory queue's are gone, and the cache still serves what was
// written. Once an instance is closed, the next one seeds a fresh
// catalogue.
func TestRestartTakesOverTheCatalogue(t *testing.T) {
	for _, e := range labtest.Envs(t, "restart") {
		for _, queue := range []string{QueueMemory, QueueStream} {
			t.Run(e.Name+"/"+queue, func(t *testing.T) {
				env, _ := onManualClock(withTag(e.Env, queue))
				d := mustDesign(t, map[string]any{"strategy": "write_behind", "write_behind_queue": queue, "db_latency_ms": 0})
				first, err := Lab.New(context.Background(), env, d)
				if err != nil {
					t.Fatal(err)
				}
				w := mustPut(t, first.(*instance), 9, 4321)
				if err := first.(labs.Halter).Halt(context.Background()); err != nil {
					t.Fatal(err)
				}
				next := mustLaunch(t, env, d)
				row, err := next.dbRow(context.Background(), 9)
				switch {
				case err != nil:
					t.Fatal(err)
				case queue == QueueStream && row.Version != w.Version:
					t.Errorf("durable queue: the database has version %d after the restart, want %d", row.Version, w.Version)
				case queue == QueueMemory && row.Version != 1:
					t.Errorf("memory queue: the database has version %d after the restart, want the seeded 1", row.Version)
				}
				if r := mustGet(t, next, 9); r.Version != w.Version || r.Source != srcCache || r.Stale {
					t.Errorf("read after the restart: %+v, want version %d from the cache", r, w.Version)
				}
				if err := next.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				fresh := mustLaunch(t, env, d)
				if r := mustGet(t, fresh, 9); r.Version != 1 {
					t.Errorf("after a close, the next instance reads version %d, want a fresh catalogue", r.Version)
				}
			})
		}
	}
}

// Close removes every key under the prefix and every row of the instance.
func TestCloseCleansUp(t *testing.T) {
	for _, e := range labtest.Envs(t, "cleanup") {
		t.Run(e.Name, func(t *testing.T) {
			d, _ := labs.Validate(Lab, map[string]any{"strategy": "write_behind", "write_behind_queue": "redis_stream", "db_latency_ms": 0})
			inst, err := Lab.New(context.Background(), e.Env, d)
			if err != nil {
				t.Fatal(err)
			}
			in := inst.(*instance)
			mustGet(t, in, 1)
			mustPut(t, in, 2, 3)
			if err := in.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			keys, err := e.Env.Redis.Keys(context.Background(), e.Env.Prefix+"*").Result()
			if err != nil || len(keys) > 0 {
				t.Errorf("keys left: %v %v", keys, err)
			}
			var n int
			if err := e.Env.DB.QueryRow(e.Env.Rebind(`SELECT COUNT(*) FROM cache_lab_items WHERE instance = ?`), e.Env.Instance).Scan(&n); err != nil || n != 0 {
				t.Errorf("rows left: %d %v", n, err)
			}
		})
	}
}
