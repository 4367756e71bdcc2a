package limiter

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"

	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

// The instance's Redis, as the fault control sets it.
const (
	RedisOK    = "ok"    // commands reach Redis
	RedisDown  = "down"  // every command fails at once, as with a refused connection
	RedisStall = "stall" // every command waits until its deadline, as with a hung server
)

var (
	errRedisDown = errors.New("dial tcp: connection refused (the lab's fault control has Redis down)")
	// errCrashed is a replica dying in the middle of a decision.
	errCrashed = errors.New("the replica crashed in the middle of the decision")
)

// faults is what the lab's fault controls have done to an instance: its
// Redis failing or stalling, and a replica set to crash in the middle of
// its next decision. The instance's Redis clients run every command
// through it.
type faults struct {
	mu      sync.Mutex
	mode    string
	changed chan struct{} // closed when mode changes, to release stalled commands
	crash   atomic.Bool
}

func newFaults() *faults { return &faults{mode: RedisOK, changed: make(chan struct{})} }

// set changes the Redis mode; it reports the previous one.
func (f *faults) set(mode string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	prev := f.mode
	if mode != prev {
		f.mode = mode
		close(f.changed)
		f.changed = make(chan struct{})
	}
	return prev
}

func (f *faults) redisMode() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mode
}

// gate lets a command through, fails it (down), or holds it until its
// context ends or the mode changes (stall).
func (f *faults) gate(ctx context.Context) error {
	for {
		f.mu.Lock()
		mode, changed := f.mode, f.changed
		f.mu.Unlock()
		switch mode {
		case RedisDown:
			return errRedisDown
		case RedisStall:
			select {
			case <-ctx.Done():
				return fmt.Errorf("redis stalled (the lab's fault control): %w", ctx.Err())
			case <-changed:
				continue
			}
		}
		return nil
	}
}

// takeCrash reports whether this decision is the one to crash, once.
func (f *faults) takeCrash() bool { return f.crash.CompareAndSwap(true, false) }

// hook is the go-redis hook that puts commands through the gate.
type faultHook struct{ f *faults }

func (h faultHook) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (h faultHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if err := h.f.gate(ctx); err != nil {
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

func (h faultHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if err := h.f.gate(ctx); err != nil {
			for _, c := range cmds {
				c.SetErr(err)
			}
			return err
		}
		return next(ctx, cmds)
	}
}

// FaultState is the body of POST fault and POST crash.
type FaultState struct {
	Redis       string `json:"redis"`
	CrashArmed  bool   `json:"crash_armed"`
	Description string `json:"description"`
}

func (in *instance) faultState(desc string) FaultState {
	return FaultState{Redis: in.faults.redisMode(), CrashArmed: in.faults.crash.Load(), Description: desc}
}

// handleFault sets the instance's Redis to ok, down or stall.
func (in *instance) handleFault(w http.ResponseWriter, r *http.Request) {
	q, err := labhttp.Query(r)
	if err != nil {
		labhttp.WriteError(w, r, err)
		return
	}
	mode := q.Get("redis")
	if mode != RedisOK && mode != RedisDown && mode != RedisStall {
		labhttp.WriteError(w, r, labhttp.BadRequest("redis", "Choose ok, down (every command fails at once) or stall (every command waits until its deadline)."))
		return
	}
	if in.cfg.storage == StorageMemory {
		labhttp.WriteError(w, r, labhttp.BadRequest("redis", "This instance keeps its state in memory and never calls Redis; launch one with storage redis to see a Redis fault."))
		return
	}
	prev := in.faults.set(mode)
	var desc string
	switch mode {
	case RedisDown:
		desc = "Redis is down: every decision fails at once, and on_store_error (" + in.cfg.onError + ") decides."
	case RedisStall:
		desc = fmt.Sprintf("Redis stalls: every decision waits for its timeout (%d ms), then on_store_error (%s) decides.", in.cfg.timeout.Milliseconds(), in.cfg.onError)
	default:
		desc = "Redis answers again."
	}
	if prev != mode {
		in.env.Metrics.Eventf(map[bool]string{true: "info", false: "error"}[mode == RedisOK], "fault control: %s", desc)
	}
	labhttp.WriteJSON(w, http.StatusOK, in.faultState(desc))
}

// handleCrash sets a replica to crash in the middle of the next decision:
// between its commands when the design sends more than one.
func (in *instance) handleCrash(w http.ResponseWriter, _ *http.Request) {
	in.faults.crash.Store(true)
	desc := "The next decision's replica crashes in the middle of it. A script runs whole or not at all in Redis, so nothing is left half done."
	if in.cfg.algorithm == FixedWindowTwoCommands {
		desc = "The next decision's replica crashes between INCR and PEXPIRE: on a client's first request in a window, its counter is left with no TTL."
	}
	in.env.Metrics.Eventf("warn", "fault control: %s", desc)
	labhttp.WriteJSON(w, http.StatusOK, in.faultState(desc))
}

// KeyTTL is one of the instance's keys in Redis with its time to live.
type KeyTTL struct {
	Key   string `json:"key"`
	TTLMS int64  `json:"ttl_ms"` // -1: the key never expires
}

// Keys is the body of GET keys.
type Keys struct {
	Keys     []KeyTTL `json:"keys"`
	NoTTL    int      `json:"without_ttl"`
	Sampled  bool     `json:"sampled"` // more keys than listed
	Storage  string   `json:"storage"`
	Describe string   `json:"description"`
}

// maxListedKeys bounds GET keys.
const maxListedKeys = 500

// handleKeys lists the instance's keys in Redis with their TTL, so a key
// that will never expire shows.
func (in *instance) handleKeys(w http.ResponseWriter, r *http.Request) {
	out, err := in.keys(r.Context())
	if err != nil {
		labhttp.WriteError(w, r, err)
		return
	}
	labhttp.WriteJSON(w, http.StatusOK, out)
}

func (in *instance) keys(ctx context.Context) (Keys, error) {
	out := Keys{Keys: []KeyTTL{}, Storage: in.cfg.storage}
	if in.cfg.storage == StorageMemory {
		out.Describe = "This instance keeps its state in memory: it has no keys in Redis."
		return out, nil
	}
	var names []string
	iter := in.env.Redis.Scan(ctx, 0, in.env.Prefix+"*", 200).Iterator()
	for iter.Next(ctx) {
		if len(names) == maxListedKeys {
			out.Sampled = true
			break
		}
		names = append(names, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return out, fmt.Errorf("limiter: listing keys: %w", err)
	}
	sort.Strings(names)
	for _, k := range names {
		ttl, err := in.env.Redis.PTTL(ctx, k).Result()
		if err != nil {
			return out, fmt.Errorf("limiter: PTTL: %w", err)
		}
		if ttl == -2 { // go-redis gives PTTL's -2 (no such key) as is: gone meanwhile
			continue
		}
		kt := KeyTTL{Key: k[len(in.env.Prefix):], TTLMS: ttl.Milliseconds()}
		if ttl < 0 {
			kt.TTLMS, out.NoTTL = -1, out.NoTTL+1
		}
		out.Keys = append(out.Keys, kt)
	}
	out.Describe = fmt.Sprintf("%d keys, %d of them with no TTL (they stay in Redis until deleted).", len(out.Keys), out.NoTTL)
	return out, nil
}
