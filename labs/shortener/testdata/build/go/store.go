package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"math/big"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

const (
	alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	codeLen  = 7
	// attempts is how many codes are drawn for one link before giving up.
	attempts = 8
	cacheTTL = time.Hour
	// redisTimeout bounds every Redis call: Redis is a cache, and a
	// redirect that waits for it longer should ask the database.
	redisTimeout = 250 * time.Millisecond
	// redisRest is how long redirects leave Redis alone after it failed.
	redisRest = 5 * time.Second
)

const schema = `CREATE TABLE IF NOT EXISTS links (
	code          text PRIMARY KEY,
	url           text NOT NULL,
	expires_at_ms bigint,
	created_at_ms bigint NOT NULL
)`

// store keeps links in PostgreSQL, the source of truth, and caches them
// in Redis.
type store struct {
	db        *pgxpool.Pool
	rdb       *redis.Client
	restUntil atomic.Int64 // Unix ns until which Redis is left alone
}

// link is a stored link.
type link struct {
	URL       string `json:"u"`
	ExpiresAt *int64 `json:"e"` // Unix ms; nil: never
}

func nowMS() int64 { return time.Now().UnixMilli() }

// openStore connects to both, waiting up to 15 s for the database, and
// creates the table.
func openStore(ctx context.Context, databaseURL, redisURL string) (*store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	cfg.MaxConns = 10
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(15 * time.Second)
	for err = db.Ping(ctx); err != nil && time.Now().Before(deadline); err = db.Ping(ctx) {
		log.Printf("database not reachable yet: %v", err)
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		return nil, err
	}
	// Replicas start together: one creates the table at a time.
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(7262)"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, schema)
		return err
	})
	if err != nil {
		return nil, err
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = redisTimeout, redisTimeout, redisTimeout, redisTimeout
	opt.MaxRetries = -1
	return &store{db: db, rdb: redis.NewClient(opt)}, nil
}

// newCode draws 7 base62 characters from a cryptographic source.
func newCode() string {
	b := make([]byte, codeLen)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			panic(err)
		}
		b[i] = alphabet[n.Int64()]
	}
	return string(b)
}

// errTaken: no free code was found, or the alias is taken.
var errTaken = errors.New("taken")

// insert stores one link in tx under alias, or under a fresh code, drawn
// again while taken. It answers the code and how many were taken.
func insert(ctx context.Context, tx pgx.Tx, url, alias string, expires *int64) (string, int, error) {
	tries := attempts
	if alias != "" {
		tries = 1
	}
	for taken := 0; taken < tries; taken++ {
		code := alias
		if code == "" {
			code = newCode()
		}
		err := tx.QueryRow(ctx, `INSERT INTO links (code, url, expires_at_ms, created_at_ms) VALUES ($1, $2, $3, $4)
			ON CONFLICT (code) DO NOTHING RETURNING code`, code, url, expires, nowMS()).Scan(&code)
		if err == nil {
			return code, taken, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return "", taken, err
		}
	}
	return "", tries, errTaken
}

// lookup finds a link in Redis, or in the database (and keeps it in
// Redis); nil when no link has the code.
func (s *store) lookup(ctx context.Context, code string) (*link, error) {
	if l := s.cached(ctx, code); l != nil {
		return l, nil
	}
	var l link
	err := s.db.QueryRow(ctx, "SELECT url, expires_at_ms FROM links WHERE code = $1", code).Scan(&l.URL, &l.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.cache(ctx, code, l)
	return &l, nil
}

func (s *store) resting() bool { return time.Now().UnixNano() < s.restUntil.Load() }

// redisFailed leaves Redis alone for a while: while it is away, every
// redirect would otherwise wait for its timeout first.
func (s *store) redisFailed(err error) {
	if !s.resting() {
		log.Printf("redis failed, using the database alone for %s: %v", redisRest, err)
	}
	s.restUntil.Store(time.Now().Add(redisRest).UnixNano())
}

func (s *store) cached(ctx context.Context, code string) *link {
	if s.resting() {
		return nil
	}
	b, err := s.rdb.Get(ctx, "link:"+code).Bytes()
	if err != nil {
		if !errors.Is(err, redis.Nil) {
			s.redisFailed(err)
		}
		return nil
	}
	var l link
	if json.Unmarshal(b, &l) != nil {
		return nil
	}
	return &l
}

// cache keeps l in Redis, never longer than the link lives.
func (s *store) cache(ctx context.Context, code string, l link) {
	ttl := cacheTTL
	if l.ExpiresAt != nil {
		ttl = min(ttl, time.Duration(*l.ExpiresAt-nowMS())*time.Millisecond)
	}
	if ttl <= 0 || s.resting() {
		return
	}
	b, _ := json.Marshal(l)
	if err := s.rdb.Set(ctx, "link:"+code, b, ttl).Err(); err != nil {
		s.redisFailed(err)
	}
}

// stored is one link as GET /links lists it.
type stored struct {
	Code      string `json:"code"`
	URL       string `json:"url"`
	ExpiresAt *int64 `json:"expires_at_ms,omitempty"`
}

// page lists up to limit links after the code after, ordered by code.
func (s *store) page(ctx context.Context, after string, limit int) ([]stored, error) {
	rows, err := s.db.Query(ctx, "SELECT code, url, expires_at_ms FROM links WHERE code > $1 ORDER BY code LIMIT $2", after, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (stored, error) {
		var l stored
		err := r.Scan(&l.Code, &l.URL, &l.ExpiresAt)
		return l, err
	})
}
