package limiter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labhttp"
)

// Lab is the rate limiter lab.
var Lab labs.Lab = lab{}

type lab struct{}

// Algorithms, storages and failure modes: the design's enum values.
const (
	FixedWindow   = "fixed_window"
	SlidingLog    = "sliding_log"
	SlidingWindow = "sliding_window"
	TokenBucket   = "token_bucket"
	GCRA          = "gcra"

	StorageRedis  = "redis"
	StorageMemory = "memory"

	FailOpen   = "fail_open"
	FailClosed = "fail_closed"
)

const (
	// maxSlidingLog bounds the sliding log: it keeps one entry per admitted
	// request, so its memory grows with the limit.
	maxSlidingLog = 1000
	// maxBurstWindow bounds the window a boundary burst waits on while
	// the request is open: a longer window's burst runs on a copy of the
	// limiter with time scaled down to it.
	maxBurstWindow = 10000
	// decisionBackstop bounds a decision in real time on a check suite's
	// clock, where timeout_ms does not apply: only a Redis that is truly
	// stuck takes that long, and the grader then reports its environment
	// as failed rather than the design.
	decisionBackstop = 15 * time.Second
)

// suiteClock is the clock a check suite runs an instance on, or nil when
// the instance runs on the machine's clock (a live lab, where Redis TIME
// decides with redis storage).
func suiteClock(env labs.Env) labs.Clock {
	switch env.Clock.(type) {
	case nil, labs.RealClock, *labs.RealClock:
		return nil
	}
	return env.Clock
}

func (lab) Info() labs.Info {
	return labs.Info{
		ID:      "limiter",
		Title:   "Rate limiter",
		Summary: "Fixed window, sliding log, sliding window, token bucket and GCRA as atomic Redis scripts behind simulated replicas, answering 429 with Retry-After and RateLimit headers.",
		Lesson:  "case-rate-limiter",
		Explain: "Every request asks the limiter whether its key (a user, an API key) still has allowance. " +
			"With Redis storage each decision is one Lua script, run with EVALSHA in one round trip: it reads the key's state, " +
			"takes the time from Redis itself (TIME, in milliseconds, so no application server's clock matters), decides, " +
			"writes the new state with a TTL, and returns allowed, remaining, the time until the allowance is fully back, and when refused, " +
			"how long to wait. Because Redis runs a script without interleaving other commands, concurrent requests on any replica can never " +
			"both take the last slot. Requests are spread round-robin over the simulated replicas: with Redis storage they share one state per key, " +
			"so the limit holds globally; with memory storage each replica keeps its own, and a client gets up to replicas × limit through. " +
			"The fixed window allows up to 2 × limit around a window boundary; the sliding log is exact but keeps a timestamp per request; " +
			"the sliding window counter estimates the sliding count from two counters; the token bucket and GCRA allow limit + burst at once, " +
			"then limit per window, and make exactly the same decisions.",
		Try: []string{
			"With the defaults (sliding_window, 10 per 1000 ms), send requests with key alice until one gets 429; read Retry-After and the RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset headers, wait that long and send again.",
			"Set algorithm to fixed_window and press Boundary burst: it sends limit requests just before a window boundary and limit just after, and about 2 × limit pass within a few hundred milliseconds. Repeat with sliding_log and sliding_window: about limit pass.",
			"Set replicas to 3 and storage to memory, then run a load of 300 requests on 1 key: about 3 × limit pass, because each replica counts on its own. Switch storage back to redis and run it again: exactly limit pass.",
			"Set algorithm to token_bucket with burst 5 and run a load of 100 requests at 20/s on 1 key; then do the same with gcra. Both admit limit + burst at once and then one request every window_ms / limit: the same decisions from one timestamp instead of two numbers.",
			"Run a load with 1000 keys and compare the decision latency p50 and p99 of sliding_log with a limit of 1000 against gcra: one grows with the limit, the other does not.",
			"Press Redis fault with down, then send requests: fail_open lets them through (200), fail_closed refuses them (503). Try stall, then ok to recover.",
			"Choose fixed_window_two_commands, press Crash mid-decision, send one request with a new key, then Keys and TTLs: its counter has no TTL and will never expire.",
			"Set timeout_ms to 1 and run a load with concurrency 50: decisions that miss the deadline are let through with fail_open (200) or refused with fail_closed (503), and the event log says so.",
		},
		Key: &labs.KeyNumber{Label: "Allowed / refused", Kind: labs.KeyTotals, Of: []string{"allowed", "rejected"}},
		Charts: []labs.Chart{
			{Title: "Decisions per 100 ms", Series: []string{"allowed", "rejected", "store_errors"}, Kind: "count"},
			{Title: "Decision latency", Series: []string{"decision_p50", "decision_p99"}, Kind: "latency"},
		},
		Pokes: []labs.Poke{
			{Label: "Send one request", Method: "POST", Path: "request?key={key}", Params: []labs.PokeParam{{Name: "key", Value: "alice"}}},
			{Label: "Boundary burst", Method: "POST", Path: "boundary-burst?key={key}", Params: []labs.PokeParam{{Name: "key", Value: "burst"}},
				Help: "Sends the limit just before a window boundary and again just after. A window longer than 10 s runs on a copy of the limiter with time sped up, and the report says how much."},
			{Label: "Redis fault", Method: "POST", Path: "fault?redis={redis}", Params: []labs.PokeParam{{Name: "redis", Value: RedisDown}},
				Help: "down: every Redis command fails at once; stall: every command waits until the decision timeout; ok: Redis answers again."},
			{Label: "Crash mid-decision", Method: "POST", Path: "crash",
				Help: "The next decision's replica crashes in the middle of it: between INCR and EXPIRE with fixed_window_two_commands."},
			{Label: "Keys and TTLs", Method: "GET", Path: "keys", Help: "The instance's keys in Redis with their time to live; -1 never expires."},
		},
	}
}

func (lab) Fields() []labs.Field {
	limitLo, limitHi := labs.Range(1, 10000)
	winLo, winHi := labs.Range(100, 3600000)
	burstLo, burstHi := labs.Range(0, 10000)
	repLo, repHi := labs.Range(1, 5)
	toLo, toHi := labs.Range(1, 5000)
	ipLo, ipHi := labs.Range(0, 10000)
	return []labs.Field{
		{Name: "algorithm", Label: "Algorithm", Type: labs.Enum, Default: SlidingWindow,
			Options: []string{FixedWindow, SlidingLog, SlidingWindow, TokenBucket, GCRA, FixedWindowTwoCommands, TokenBucketWholeSeconds},
			Help: "fixed_window: one counter per window. sliding_log: a timestamp per admitted request, exact. " +
				"sliding_window: weighted two-window counter estimate. token_bucket: tokens refilled continuously. gcra: one theoretical arrival time. " +
				"The module's own flawed code, redis storage only: fixed_window_two_commands (INCR, then EXPIRE as a second command) and " +
				"token_bucket_whole_seconds (refilled a second's worth at a time)."},
		{Name: "limit", Label: "Limit", Type: labs.Int, Default: 10, Min: limitLo, Max: limitHi, Unit: "requests",
			Help: "Requests allowed per window for each key; the token bucket and GCRA refill at limit per window."},
		{Name: "window_ms", Label: "Window", Type: labs.Int, Default: 1000, Min: winLo, Max: winHi, Unit: "ms",
			Help: "The window the limit applies to. Fixed windows start at multiples of it since the Unix epoch."},
		{Name: "burst", Label: "Burst", Type: labs.Int, Default: 0, Min: burstLo, Max: burstHi, Unit: "requests",
			Help: "Extra capacity for token_bucket and gcra: up to limit + burst requests pass at once. " +
				"GCRA's tolerance is (limit + burst − 1) × window_ms / limit, so both admit the same requests."},
		{Name: "ip_limit", Label: "Per-IP limit", Type: labs.Int, Default: 0, Min: ipLo, Max: ipHi, Unit: "requests",
			Help: "A second limit on the request's ip parameter, with the same algorithm; 0 for none. A request must pass both, the IP's first."},
		{Name: "ip_window_ms", Label: "Per-IP window", Type: labs.Int, Default: 60000, Min: winLo, Max: winHi, Unit: "ms",
			Help: "The window of the per-IP limit."},
		{Name: "replicas", Label: "Replicas", Type: labs.Int, Default: 1, Min: repLo, Max: repHi,
			Help: "Simulated application servers; requests go to them round-robin."},
		{Name: "storage", Label: "Storage", Type: labs.Enum, Default: StorageRedis, Options: []string{StorageRedis, StorageMemory},
			Help: "redis: every replica shares one state per key in Redis. memory: each replica keeps its own state in process."},
		{Name: "on_store_error", Label: "When Redis fails", Type: labs.Enum, Default: FailOpen, Options: []string{FailOpen, FailClosed},
			Help: "fail_open lets a request through when the limiter cannot decide (200); fail_closed refuses it (503)."},
		{Name: "timeout_ms", Label: "Decision timeout", Type: labs.Int, Default: 100, Min: toLo, Max: toHi, Unit: "ms",
			Help: "A decision that takes longer counts as a store failure, so a slow Redis cannot add its latency to every request."},
	}
}

func (lab) Check(d labs.Design) labs.FieldErrors {
	errs := labs.FieldErrors{}
	alg := d.String("algorithm")
	if d.Int("burst") > 0 && !bursty(alg) {
		errs["burst"] = fmt.Sprintf("Burst adds capacity only to token_bucket, gcra and token_bucket_whole_seconds; set it to 0 for %s.", alg)
	}
	if alg == SlidingLog && d.Int("limit") > maxSlidingLog {
		errs["limit"] = fmt.Sprintf("sliding_log keeps one entry per admitted request; this lab allows a limit of at most %d with it.", maxSlidingLog)
	}
	if alg == SlidingLog && d.Int("ip_limit") > maxSlidingLog {
		errs["ip_limit"] = fmt.Sprintf("sliding_log keeps one entry per admitted request; this lab allows a per-IP limit of at most %d with it.", maxSlidingLog)
	}
	if redisOnly(alg) && d.String("storage") != StorageRedis {
		errs["storage"] = fmt.Sprintf("%s is the module's Redis code: choose redis storage.", alg)
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// config is a design in the types the limiter computes with.
type config struct {
	algorithm string
	limit     int64
	window    int64 // ms
	burst     int64
	replicas  int
	storage   string
	onError   string
	timeout   time.Duration
	ipLimit   int64 // 0: no per-IP limit
	ipWindow  int64 // ms
}

func configOf(d labs.Design) config {
	return config{
		algorithm: d.String("algorithm"),
		limit:     int64(d.Int("limit")),
		window:    int64(d.Int("window_ms")),
		burst:     int64(d.Int("burst")),
		replicas:  d.Int("replicas"),
		storage:   d.String("storage"),
		onError:   d.String("on_store_error"),
		timeout:   time.Duration(d.Int("timeout_ms")) * time.Millisecond,
		ipLimit:   int64(d.Int("ip_limit")),
		ipWindow:  int64(d.Int("ip_window_ms")),
	}
}

// capacity is how many requests can pass at once: limit + burst for the
// token bucket and GCRA, limit for the window algorithms.
func (c config) capacity() int64 {
	if bursty(c.algorithm) {
		return c.limit + c.burst
	}
	return c.limit
}

// bursty reports whether an algorithm takes a burst beside its limit.
func bursty(alg string) bool {
	return alg == TokenBucket || alg == GCRA || alg == TokenBucketWholeSeconds
}

// ipConfig is the per-IP limit's configuration: the design's with the
// per-IP numbers and no burst.
func (c config) ipConfig() config {
	ip := c
	ip.limit, ip.window, ip.burst = c.ipLimit, c.ipWindow, 0
	return ip
}

// decision is what one check of a key decided, on the deciding store's clock.
type decision struct {
	allowed   bool
	remaining int64 // requests that would still pass right now
	resetMS   int64 // until the allowance is fully back
	retryMS   int64 // when refused: until the next request would pass
	at        int64 // the store's clock at the decision, Unix ms
}

// store decides for a key on one replica.
type store interface {
	decide(ctx context.Context, replica int, key string) (decision, error)
	// now is the clock decisions are made on, Unix ms.
	now(ctx context.Context) (int64, error)
	close()
}

// replicaTotals counts one simulated replica's decisions.
type replicaTotals struct {
	allowed, rejected, storeErrors atomic.Int64
}

type instance struct {
	cfg   config
	env   labs.Env
	store store
	// ipStore decides the per-IP limit; nil without one.
	ipStore store
	faults  *faults
	next    atomic.Uint64 // round-robin over replicas
	totals  []replicaTotals
	refuse  labs.Throttle // event lines about refusals
	fails   labs.Throttle // event lines about store failures
	bursts  atomic.Uint64

	// ctx ends when the instance closes, to stop a boundary burst in flight.
	ctx    context.Context
	cancel context.CancelFunc
	router *labhttp.Router
	mu     sync.Mutex
	closed bool
	busy   bool // a boundary burst is running
	wg     sync.WaitGroup
}

func (lab) New(ctx context.Context, env labs.Env, d labs.Design) (labs.Instance, error) {
	cfg := configOf(d)
	if scripts[cfg.algorithm] == nil {
		return nil, fmt.Errorf("limiter: unknown algorithm %q", cfg.algorithm)
	}
	if cfg.limit < 1 || cfg.window < 1 || cfg.replicas < 1 || cfg.timeout <= 0 {
		return nil, fmt.Errorf("limiter: invalid design %v", d)
	}
	f := newFaults()
	st, err := newStore(ctx, cfg, env, "rl:", f)
	if err != nil {
		return nil, err
	}
	var ipst store
	if cfg.ipLimit > 0 {
		if ipst, err = newStore(ctx, cfg.ipConfig(), env, "rlip:", f); err != nil {
			st.close()
			return nil, err
		}
	}
	ictx, cancel := context.WithCancel(context.Background())
	in := &instance{cfg: cfg, env: env, store: st, ipStore: ipst, faults: f, totals: make([]replicaTotals, cfg.replicas), ctx: ictx, cancel: cancel,
		refuse: labs.Throttle{Every: time.Second}, fails: labs.Throttle{Every: time.Second}}
	in.router = in.routes()
	return in, nil
}

// newStore builds the design's store: in memory, or in Redis under the
// instance's prefix and space.
func newStore(ctx context.Context, cfg config, env labs.Env, space string, f *faults) (store, error) {
	if cfg.storage == StorageMemory {
		if redisOnly(cfg.algorithm) {
			return nil, fmt.Errorf("limiter: %s needs redis storage", cfg.algorithm)
		}
		now := env.Now
		if c := suiteClock(env); c != nil {
			now = c.Now
		}
		return newMemoryStore(cfg, now), nil
	}
	return newRedisStore(ctx, cfg, env, space, f)
}

// result is a decision with where it was made and whether the store failed.
type result struct {
	decision
	replica int
	err     error // the store could not decide; decision follows on_store_error
}

// status is the HTTP status the decision answers with.
func (r result) status(cfg config) int {
	switch {
	case errors.Is(r.err, errCrashed):
		return http.StatusBadGateway
	case r.err != nil && cfg.onError == FailClosed:
		return http.StatusServiceUnavailable
	case r.allowed:
		return http.StatusOK
	default:
		return http.StatusTooManyRequests
	}
}

// decide makes one decision for key on the next replica and records it.
func (in *instance) decide(ctx context.Context, key string) result {
	return in.decideFrom(ctx, key, "")
}

// decideFrom makes one decision for key from address ip ("" for none):
// the per-IP limit first, when the design has one, then the key's.
func (in *instance) decideFrom(ctx context.Context, key, ip string) result {
	return in.decideOn(ctx, in.store, key, ip)
}

// decideOn is decideFrom with the key's limit decided by st: the
// instance's store, or a boundary burst's scaled copy of it.
func (in *instance) decideOn(ctx context.Context, st store, key, ip string) result {
	replica := int((in.next.Add(1) - 1) % uint64(in.cfg.replicas))
	dctx, cancel := in.decisionContext(ctx)
	t0 := time.Now()
	d, err := in.decideBoth(dctx, st, replica, key, ip)
	in.env.Metrics.Latency("decision", time.Since(t0))
	cancel()
	tot := &in.totals[replica]
	res := result{decision: d, replica: replica, err: err}
	if err != nil {
		tot.storeErrors.Add(1)
		in.env.Metrics.Count("store_errors", 1)
		res.decision = decision{allowed: in.cfg.onError == FailOpen}
		verb := "letting it through (fail_open)"
		if !res.allowed {
			verb = "refusing it (fail_closed)"
		}
		if n, ok := in.fails.Ready(); ok {
			in.env.Metrics.Eventf("error", "replica %d could not decide for key %q, %s: %v%s", replica, key, verb, err, labs.Held(n))
		}
	}
	if res.allowed {
		tot.allowed.Add(1)
		in.env.Metrics.Count("allowed", 1)
	} else {
		tot.rejected.Add(1)
		in.env.Metrics.Count("rejected", 1)
		if err == nil {
			if n, ok := in.refuse.Ready(); ok {
				in.env.Metrics.Eventf("warn", "replica %d refused key %q: over %d per %d ms (%s); next allowed in %d ms%s",
					replica, key, in.cfg.limit, in.cfg.window, in.cfg.algorithm, d.retryMS, labs.Held(n))
			}
		}
	}
	return res
}

// decideBoth asks the per-IP limit, then, if it admits, the key's.
func (in *instance) decideBoth(ctx context.Context, st store, replica int, key, ip string) (decision, error) {
	if in.ipStore != nil && ip != "" {
		d, err := in.ipStore.decide(ctx, replica, ip)
		if err != nil || !d.allowed {
			return d, err
		}
	}
	return st.decide(ctx, replica, key)
}

// storeErrorText is what a client reads when the store did not decide;
// the event log and the server's log have the error itself.
func storeErrorText(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "Redis did not decide within the decision timeout."
	}
	return "Redis could not decide."
}

// decisionContext bounds one decision: by timeout_ms on the machine's clock.
// On a check suite's clock a decision takes no time at all (the suite holds
// its clock still while it waits for answers), so timeout_ms could never
// end one there; a timer per decision on that clock would only crowd the
// waits the suite watches for. There a real-time backstop guards against a
// stuck Redis instead.
func (in *instance) decisionContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if suiteClock(in.env) != nil {
		return context.WithTimeout(ctx, decisionBackstop)
	}
	return context.WithTimeout(ctx, in.cfg.timeout)
}

// Hit makes one decision for a load run.
func (in *instance) Hit(ctx context.Context, key string) (int, error) {
	if msg := checkKey(key); msg != "" {
		return http.StatusBadRequest, fmt.Errorf("key: %s", msg)
	}
	res := in.decide(ctx, key)
	return res.status(in.cfg), res.err
}

// State is what GET …/instances/{id} and GET stats show.
type State struct {
	Algorithm    string    `json:"algorithm"`
	Limit        int64     `json:"limit"`
	WindowMS     int64     `json:"window_ms"`
	Burst        int64     `json:"burst"`
	Capacity     int64     `json:"capacity"`
	Replicas     int       `json:"replicas"`
	Storage      string    `json:"storage"`
	OnStoreError string    `json:"on_store_error"`
	TimeoutMS    int64     `json:"timeout_ms"`
	Totals       Totals    `json:"totals"`
	PerReplica   []Replica `json:"per_replica"`
}

// Totals counts decisions.
type Totals struct {
	Allowed     int64 `json:"allowed"`
	Rejected    int64 `json:"rejected"`
	StoreErrors int64 `json:"store_errors"`
}

// Replica is one simulated replica's decisions.
type Replica struct {
	Replica int `json:"replica"`
	Totals
}

// State reports the design and the decisions so far.
func (in *instance) State(context.Context) (any, error) { return in.state(), nil }

func (in *instance) state() State {
	c := in.cfg
	s := State{Algorithm: c.algorithm, Limit: c.limit, WindowMS: c.window, Burst: c.burst, Capacity: c.capacity(),
		Replicas: c.replicas, Storage: c.storage, OnStoreError: c.onError, TimeoutMS: c.timeout.Milliseconds()}
	for i := range in.totals {
		t := Totals{Allowed: in.totals[i].allowed.Load(), Rejected: in.totals[i].rejected.Load(), StoreErrors: in.totals[i].storeErrors.Load()}
		s.PerReplica = append(s.PerReplica, Replica{Replica: i, Totals: t})
		s.Totals.Allowed += t.Allowed
		s.Totals.Rejected += t.Rejected
		s.Totals.StoreErrors += t.StoreErrors
	}
	return s
}

// Close stops a boundary burst in flight and removes the instance's keys.
func (in *instance) Close(ctx context.Context) error {
	_ = in.Release(ctx)
	return labs.DeleteKeys(ctx, in.env.Redis, in.env.Prefix)
}

// Release stops a boundary burst in flight and leaves the counters in
// Redis to the replica that holds the instance now.
func (in *instance) Release(context.Context) error {
	in.mu.Lock()
	in.closed = true
	in.mu.Unlock()
	in.cancel()
	in.wg.Wait()
	in.store.close()
	if in.ipStore != nil {
		in.ipStore.close()
	}
	return nil
}
