package limiter

import (
	"context"
	"errors"
	"sync"
	"time"
)

// maxMemoryKeys bounds each replica's map: a load run uses at most 1000 keys.
const maxMemoryKeys = 2000

var errMemoryFull = errors.New("limiter: this replica's memory store holds the most keys it allows")

// memoryStore keeps the same algorithms' state in process, one map per
// simulated replica, as a limiter inside each application server would.
// Replicas do not see each other's counts: that is the point.
type memoryStore struct {
	cfg      config
	clock    func() time.Time
	epoch    int64 // GCRA's tick origin, as in Redis
	replicas []*memReplica
}

type memReplica struct {
	mu   sync.Mutex
	keys map[string]*memState
}

// memState is one key's state; each algorithm uses its own fields, the
// same state its Redis script keeps.
type memState struct {
	window    int64   // fixed and sliding window: index of the current window
	cur, prev int64   // their counts
	log       []int64 // sliding log: admitted times, oldest first
	tokens    int64   // token bucket level, in 1/window of a token
	ts        int64   // token bucket: when tokens was computed
	tat       int64   // GCRA: theoretical arrival time, in ticks of 1/limit ms since epoch
	expires   int64   // Unix ms after which the state is the same as none
}

func newMemoryStore(cfg config, clock func() time.Time) *memoryStore {
	if clock == nil {
		clock = time.Now
	}
	s := &memoryStore{cfg: cfg, clock: clock, epoch: clock().UnixMilli()}
	for range cfg.replicas {
		s.replicas = append(s.replicas, &memReplica{keys: map[string]*memState{}})
	}
	return s
}

func (s *memoryStore) now(context.Context) (int64, error) { return s.clock().UnixMilli(), nil }

func (s *memoryStore) close() {
	for _, r := range s.replicas {
		r.mu.Lock()
		clear(r.keys)
		r.mu.Unlock()
	}
}

func (s *memoryStore) decide(ctx context.Context, replica int, key string) (decision, error) {
	if err := ctx.Err(); err != nil {
		return decision{}, err
	}
	now := s.clock().UnixMilli()
	r := s.replicas[replica]
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.keys[key]
	if st != nil && now >= st.expires {
		// Expired, like a Redis key past its TTL.
		st = nil
	}
	if st == nil {
		if _, ok := r.keys[key]; !ok && len(r.keys) >= maxMemoryKeys {
			r.sweep(now)
			if len(r.keys) >= maxMemoryKeys {
				return decision{}, errMemoryFull
			}
		}
		st = &memState{}
		s.init(st, now)
		r.keys[key] = st
	}
	return s.apply(st, now), nil
}

// sweep drops expired states.
func (r *memReplica) sweep(now int64) {
	for k, st := range r.keys {
		if now >= st.expires {
			delete(r.keys, k)
		}
	}
}

// init is a missing key's state, as the scripts read a missing key.
func (s *memoryStore) init(st *memState, now int64) {
	c := s.cfg
	st.window = now / c.window
	st.tokens = c.capacity() * c.window
	st.ts = now
	st.tat = (now - s.epoch) * c.limit
}

// apply is one decision; each algorithm mirrors its Lua script in redis.go.
func (s *memoryStore) apply(st *memState, now int64) decision {
	switch s.cfg.algorithm {
	case FixedWindow:
		return s.fixedWindow(st, now)
	case SlidingLog:
		return s.slidingLog(st, now)
	case SlidingWindow:
		return s.slidingWindow(st, now)
	case TokenBucket:
		return s.tokenBucket(st, now)
	case GCRA:
		return s.gcra(st, now)
	}
	panic("limiter: unknown algorithm " + s.cfg.algorithm) // the design's enum rules it out
}

func (s *memoryStore) fixedWindow(st *memState, now int64) decision {
	L, W := s.cfg.limit, s.cfg.window
	idx := now / W
	if st.window != idx {
		st.window, st.cur = idx, 0
	}
	reset := (idx+1)*W - now
	st.expires = now + reset
	if st.cur >= L {
		return decision{resetMS: reset, retryMS: reset, at: now}
	}
	st.cur++
	return decision{allowed: true, remaining: L - st.cur, resetMS: reset, at: now}
}

func (s *memoryStore) slidingLog(st *memState, now int64) decision {
	L, W := s.cfg.limit, s.cfg.window
	i := 0
	for i < len(st.log) && st.log[i] <= now-W {
		i++
	}
	st.log = st.log[i:]
	if n := int64(len(st.log)); n < L {
		st.log = append(st.log, now)
		st.expires = now + W
		return decision{allowed: true, remaining: L - n - 1, resetMS: W, at: now}
	}
	oldest, newest := st.log[0], st.log[len(st.log)-1]
	return decision{resetMS: newest + W - now, retryMS: oldest + W - now, at: now}
}

func (s *memoryStore) slidingWindow(st *memState, now int64) decision {
	L, W := s.cfg.limit, s.cfg.window
	idx := now / W
	switch st.window {
	case idx:
	case idx - 1:
		st.prev, st.cur = st.cur, 0
	default:
		st.prev, st.cur = 0, 0
	}
	st.window = idx
	elapsed := now - idx*W
	weighted := st.prev * (W - elapsed)
	if weighted+(st.cur+1)*W <= L*W {
		st.cur++
		st.expires = now + 2*W - elapsed
		return decision{allowed: true, remaining: floorDiv(L*W-weighted-st.cur*W, W), resetMS: 2*W - elapsed, at: now}
	}
	var retry int64
	if st.cur < L {
		retry = W - floorDiv((L-st.cur-1)*W, st.prev) - elapsed
	} else {
		retry = W - elapsed + W - floorDiv((L-1)*W, st.cur)
	}
	reset := W - elapsed
	if st.cur > 0 {
		reset += W
	}
	return decision{resetMS: reset, retryMS: retry, at: now}
}

func (s *memoryStore) tokenBucket(st *memState, now int64) decision {
	L, W := s.cfg.limit, s.cfg.window
	full := s.cfg.capacity() * W
	elapsed := min(max(0, now-st.ts), full)
	st.tokens = min(full, st.tokens+elapsed*L)
	st.ts = now
	d := decision{at: now}
	if st.tokens >= W {
		st.tokens -= W
		d.allowed = true
	} else {
		d.retryMS = ceilDiv(W-st.tokens, L)
	}
	d.resetMS = ceilDiv(full-st.tokens, L)
	d.remaining = floorDiv(st.tokens, W)
	st.expires = now + max(1, d.resetMS)
	return d
}

func (s *memoryStore) gcra(st *memState, now int64) decision {
	L, W := s.cfg.limit, s.cfg.window
	nowt := (now - s.epoch) * L
	newTAT := max(st.tat, nowt) + W
	allowAt := newTAT - s.cfg.capacity()*W
	if nowt < allowAt {
		return decision{resetMS: ceilDiv(max(st.tat-nowt, 0), L), retryMS: ceilDiv(allowAt-nowt, L), at: now}
	}
	st.tat = newTAT
	reset := ceilDiv(newTAT-nowt, L)
	st.expires = now + reset
	return decision{allowed: true, remaining: floorDiv(nowt-allowAt, W), resetMS: reset, at: now}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }
