package shortener

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labhttp"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// Errors a creation can end with; the handler maps them to statuses.
var (
	errAliasTaken = errors.New("alias taken")
	errSpaceFull  = errors.New("code space used up")
	errNoFreeCode = errors.New("no free code")
)

// instance is a running shortener.
type instance struct {
	env    labs.Env
	cfg    config
	router *labhttp.Router
	rdb    *goredis.Client
	tab    tables
	limit  *limiter.Limiter

	layoutMu sync.RWMutex // read: a database lookup or insert; write: a reshard
	layout   layout

	seqMu            sync.Mutex
	seqNext, seqEnd  uint64
	seqFull          bool
	space            uint64
	local            *localCache // redis_and_local only
	codes            *codeSource
	flights          singleflight.Group
	hot              []string // the demo links' codes, by number
	rebuilt          bool     // built on existing tables
	clicks           *clickCounter
	reshardMu        sync.Mutex
	batchMu          sync.Mutex
	batches          atomic.Int64
	lastReshard      atomic.Pointer[ReshardResult]
	warnSpace, warnR labs.Throttle

	created, existing, collisions, exhausted, rejected, rateLimited atomic.Int64
	redirects, notFound, gone, localHits, redisHits, dbHits         atomic.Int64
	redisErrors, keysMoved, crashes                                 atomic.Int64

	closeOnce sync.Once
	stopOnce  sync.Once
	closeErr  error
	halted    atomic.Bool
}

func newInstance(ctx context.Context, env labs.Env, cfg config) (*instance, error) {
	in := &instance{env: env, cfg: cfg, rdb: env.Redis, tab: tablesFor(env.Instance), space: space(cfg.codeLen), codes: newCodeSource(env),
		warnSpace: labs.Throttle{Every: time.Second}, warnR: labs.Throttle{Every: time.Second}}
	if cfg.cache == CacheLocal {
		in.local = newLocalCache(cfg.localCap)
	}
	if err := in.createBaseTables(ctx); err != nil {
		return nil, fmt.Errorf("shortener: %w", err)
	}
	l, found, err := in.readLayout(ctx)
	if err != nil {
		return nil, fmt.Errorf("shortener: %w", err)
	}
	ok := false
	defer func() {
		if !ok && !found {
			_ = in.dropTables(context.WithoutCancel(ctx))
		}
	}()
	if found {
		// A restart on the same database: the tables say where links live.
		// Its codes are drawn from the cryptographic source: a seeded one
		// would draw again the codes taken before the restart.
		in.layout, in.rebuilt = l, true
		in.codes = &codeSource{}
		if err := in.createShardTables(ctx, env.DB, l.shards); err != nil {
			return nil, fmt.Errorf("shortener: %w", err)
		}
		if in.hot, err = in.seedCodes(ctx, l.shards); err != nil {
			return nil, fmt.Errorf("shortener: %w", err)
		}
	} else {
		in.layout = newRingLayout(cfg.shards, cfg.sharding, cfg.vnodes)
		if err := in.seed(ctx); err != nil {
			return nil, fmt.Errorf("shortener: seed demo links: %w", err)
		}
	}
	// The creation limiter keeps its keys under the instance's prefix, so
	// Close removes them with the rest.
	lenv := env
	lenv.Prefix = env.Prefix + "create:"
	if in.limit, err = limiter.New(ctx, lenv, createAlgorithm, createLimit, createWindowMS); err != nil {
		return nil, fmt.Errorf("shortener: creation limiter: %w", err)
	}
	if cfg.analytics {
		in.clicks = newClickCounter(in)
	}
	in.router = in.routes()
	ok = true
	if in.rebuilt {
		counts, err := in.countLinks(ctx, in.layout.shards)
		total := int64(0)
		for _, n := range counts {
			total += n
		}
		if err == nil {
			env.Metrics.Eventf("info", "rebuilt from the database: %d links in %d shards (%s); the caches start empty", total, in.layout.shards, in.layout.sharding)
		}
	} else {
		env.Metrics.Eventf("info", "created %d shard tables and %d demo links (codes %s…%s for load keys k0…k%d)",
			in.layout.shards, len(in.hot), in.hot[0], in.hot[len(in.hot)-1], len(in.hot)-1)
	}
	return in, nil
}

// seed creates the shard tables, writes the layout and adds the demo
// links, all in one transaction.
func (in *instance) seed(ctx context.Context) error {
	now := in.nowMS()
	rows := make([]link, seedLinks)
	taken := make(map[string]bool, seedLinks)
	var first uint64
	if in.cfg.codegen == GenSequence {
		var err error
		if first, err = in.allocateIDs(ctx, seedLinks); err != nil {
			return err
		}
	}
	for i := range rows {
		u := demoURL(i)
		var code string
		switch in.cfg.codegen {
		case GenSequence:
			code = encode(first+uint64(i), in.cfg.codeLen)
		case GenRandom:
			for code = in.codes.code(in.cfg.codeLen); taken[code]; code = in.codes.code(in.cfg.codeLen) {
			}
		default:
			attempt := 0
			for code = hashCode(u, 0, in.cfg.codeLen); taken[code]; code = hashCode(u, attempt, in.cfg.codeLen) {
				attempt++
			}
		}
		taken[code] = true
		rows[i] = link{Code: code, URL: u, CreatedMS: now, Seed: i}
	}
	byShard := make([][]link, in.layout.shards)
	for _, r := range rows {
		s := in.layout.shardOf(r.Code)
		byShard[s] = append(byShard[s], r)
	}
	tx, err := in.env.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := in.createShardTables(ctx, tx, in.layout.shards); err != nil {
		return err
	}
	for s, part := range byShard {
		if err := in.insertBatch(ctx, tx, s, part); err != nil {
			return err
		}
	}
	if err := in.writeLayout(ctx, tx, in.layout); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	in.hot = make([]string, seedLinks)
	for i, r := range rows {
		in.hot[i] = r.Code
	}
	return nil
}

func demoURL(i int) string { return "https://example.com/demo/" + strconv.Itoa(i) }

func (in *instance) nowMS() int64 { return in.env.Now().UnixMilli() }

// nextCode is the code to try for a link on the given attempt.
func (in *instance) nextCode(ctx context.Context, url string, attempt int) (string, error) {
	switch in.cfg.codegen {
	case GenSequence:
		id, err := in.nextID(ctx)
		if err != nil {
			return "", err
		}
		return encode(id, in.cfg.codeLen), nil
	case GenHash:
		return hashCode(url, attempt, in.cfg.codeLen), nil
	default:
		return in.codes.code(in.cfg.codeLen), nil
	}
}

// nextID issues the counter's next id from the block in hand, taking a
// new block from the database when it is used up.
func (in *instance) nextID(ctx context.Context) (uint64, error) {
	in.seqMu.Lock()
	defer in.seqMu.Unlock()
	if in.seqFull {
		return 0, errSpaceFull
	}
	if in.seqNext == in.seqEnd {
		first, err := in.allocateIDs(ctx, seqBlock)
		if err != nil {
			return 0, err
		}
		in.seqNext, in.seqEnd = first, first+seqBlock
	}
	id := in.seqNext
	if id >= in.space {
		in.seqFull = true
		return 0, errSpaceFull
	}
	in.seqNext++
	return id, nil
}

// insert stores l in the shard that owns its code.
func (in *instance) insert(ctx context.Context, l link) (bool, error) {
	in.layoutMu.RLock()
	defer in.layoutMu.RUnlock()
	return in.insertLink(ctx, in.layout.shardOf(l.Code), l)
}

// read reads code from the shard that owns it.
func (in *instance) read(ctx context.Context, code string) (link, bool, error) {
	in.layoutMu.RLock()
	defer in.layoutMu.RUnlock()
	return in.readLink(ctx, in.layout.shardOf(code), code)
}

// create stores a validated link under its alias or a generated code.
// existing is true when hash_prefix found the same URL already shortened
// (and it never expires): that link is returned instead of a new one.
func (in *instance) create(ctx context.Context, req createRequest) (l link, existing bool, err error) {
	now := in.nowMS()
	l = link{URL: req.URL, CreatedMS: now, Seed: -1}
	if req.TTLS > 0 {
		l.ExpiresMS = now + req.TTLS*1000
	}
	if req.Alias != "" {
		l.Code = req.Alias
		ok, err := in.insert(ctx, l)
		switch {
		case err != nil:
			return link{}, false, err
		case !ok:
			return link{}, false, errAliasTaken
		}
		in.afterCreate(ctx, l)
		return l, false, nil
	}
	for attempt := range maxAttempts {
		if l.Code, err = in.nextCode(ctx, req.URL, attempt); err != nil {
			if errors.Is(err, errSpaceFull) {
				in.exhausted.Add(1)
				in.warnFull("the counter has handed out all %s codes of length %d; creation fails from now on", labs.Thousands(in.space), in.cfg.codeLen)
			}
			return link{}, false, err
		}
		ok, err := in.insert(ctx, l)
		if err != nil {
			return link{}, false, err
		}
		if ok {
			in.afterCreate(ctx, l)
			return l, false, nil
		}
		if in.cfg.codegen == GenHash && l.ExpiresMS == 0 {
			old, found, err := in.read(ctx, l.Code)
			if err != nil {
				return link{}, false, err
			}
			if found && old.URL == l.URL && old.ExpiresMS == 0 {
				in.existing.Add(1)
				return old, true, nil
			}
		}
		in.collisions.Add(1)
		in.env.Metrics.Count("collisions", 1)
	}
	in.exhausted.Add(1)
	in.warnFull("%d codes in a row were taken for one link: the %s codes of length %d are nearly used up", maxAttempts, labs.Thousands(in.space), in.cfg.codeLen)
	return link{}, false, errNoFreeCode
}

func (in *instance) warnFull(format string, args ...any) {
	if n, ok := in.warnSpace.Ready(); ok {
		in.env.Metrics.Eventf("warn", format+"%s", append(args, labs.Held(n))...)
	}
}

// afterCreate counts a new link and drops any cached "no such code" for it.
func (in *instance) afterCreate(ctx context.Context, l link) {
	in.created.Add(1)
	in.env.Metrics.Count("created", 1)
	if in.local != nil {
		in.local.del(l.Code)
	}
	if in.cfg.cache != CacheNone {
		if err := in.rdb.Del(ctx, in.cacheKey(l.Code)).Err(); err != nil {
			in.redisError("dropping a cached 404 for a new code", err)
		}
	}
}

// Hit is one redirect for a load run.
func (in *instance) Hit(ctx context.Context, key string) (int, error) {
	o, err := in.redirect(ctx, in.codeForKey(key), true)
	return o.status, err
}

// Halt stops the instance as a crashed process would stop, and empties
// Redis as a Redis restarted without persistence would be: background work
// ends without a last flush, the process's caches and counters are gone,
// every key under the prefix is deleted. The tables stay for an instance
// built after it on the same env; Close then does nothing. It makes the
// instance a labs.Halter, so a check can restart it (Target.Restart).
func (in *instance) Halt(ctx context.Context) error {
	var err error
	in.closeOnce.Do(func() {
		in.halted.Store(true)
		in.stopWork(false)
		if in.local != nil {
			in.local.clear()
		}
		err = labs.DeleteKeys(ctx, in.rdb, in.env.Prefix)
	})
	return err
}

// Release stops background work, passing on the clicks counted in memory,
// and leaves the keys and tables to the replica that holds the instance
// now.
func (in *instance) Release(context.Context) error {
	in.stopWork(true)
	return nil
}

// stopWork stops the click counter (passing on what it holds when final)
// and the creation limiter, once.
func (in *instance) stopWork(final bool) {
	in.stopOnce.Do(func() {
		if in.clicks != nil {
			in.clicks.stop(final)
		}
		in.limit.Close()
	})
}

// Close stops background work and removes the instance's keys and tables.
func (in *instance) Close(ctx context.Context) error {
	in.closeOnce.Do(func() {
		in.stopWork(false)
		in.closeErr = errors.Join(labs.DeleteKeys(ctx, in.rdb, in.env.Prefix), in.dropTables(ctx))
	})
	return in.closeErr
}
