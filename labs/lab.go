package labs

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Lab is one kind of lab.
type Lab interface {
	// Info describes the lab for pages and GET /api/labs.
	Info() Info
	// Fields are the design's knobs, in the order the form shows them.
	Fields() []Field
	// Check validates a design whose fields already have the right types
	// and ranges, for rules across fields; nil or empty when acceptable.
	Check(d Design) FieldErrors
	// New builds an instance of the design on env.
	New(ctx context.Context, env Env, d Design) (Instance, error)
}

// Info is what a page says about a lab.
type Info struct {
	ID      string   `json:"id"`
	Title   string   `json:"title"`
	Summary string   `json:"summary"`
	Lesson  string   `json:"lesson"`  // slug of the lesson that teaches it
	Explain string   `json:"explain"` // a paragraph: what the lab is
	Try     []string `json:"try"`     // things to try, in order
	Charts  []Chart  `json:"charts"`
	// Pokes are the ready-made requests the lab's page offers.
	Pokes []Poke `json:"pokes,omitempty"`
	// Key is the number that sums up how the instance is doing, shown
	// beside its charts and at the end of a load run.
	Key *KeyNumber `json:"key,omitempty"`
}

// Key number kinds.
const (
	KeyTotals = "totals" // the running totals of Of, "312 / 88"
	KeyRatio  = "ratio"  // the sum of Of over the sum of Of and Rest, as a percent
	KeyLatest = "latest" // the latest value of Of[0] (a state chart's level name, or milliseconds)
)

// KeyNumber is a lab's key number, computed by the page from its charts'
// series.
type KeyNumber struct {
	Label string   `json:"label"`
	Kind  string   `json:"kind"`
	Of    []string `json:"of"`
	Rest  []string `json:"rest,omitempty"`
}

// Poke is a ready-made request to one of an instance's routes: the page
// sends it and shows the raw answer (and a picture, see Pictured).
type Poke struct {
	Label  string `json:"label"`
	Method string `json:"method"`
	// Path is relative to the instance and may carry a query; each {name}
	// in it is filled from Params, which the page lets the learner edit.
	Path   string      `json:"path"`
	Params []PokeParam `json:"params,omitempty"`
	// Body is a JSON body, editable before sending.
	Body string `json:"body,omitempty"`
	Help string `json:"help,omitempty"`
}

// PokeParam is an editable value of a poke's path.
type PokeParam struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Pictured is a lab that draws some answers better than their JSON. Its
// Picture is a script the lab page loads (served at
// /static/labs/{id}.js); it registers one function,
//
//	window.labPictures["shop"] = function (box, answer, el) { … return true; };
//
// which the page calls with an empty element, the decoded JSON answer of
// a poke and a small element helper (el(tag, className, text)). It
// returns true when it drew something.
type Pictured interface {
	Picture() []byte
}

// Chart is one live chart of an instance: series drawn together.
type Chart struct {
	Title  string   `json:"title"`
	Series []string `json:"series"`
	// Kind is "count" (events per 100 ms bucket), "latency" (milliseconds)
	// or "state" (a level, such as a breaker's state as 0, 1, 2).
	Kind string `json:"kind"`
	// Levels names a state chart's levels, lowest first.
	Levels []string `json:"levels,omitempty"`
}

// Env is what an instance is built on. The web app hands it the app's Redis
// and database; the grader hands it fresh containers. An instance keeps all
// its Redis keys under Prefix and its rows under Instance, and removes them
// on Close.
type Env struct {
	Redis    *goredis.Client
	DB       *sql.DB
	Dialect  string // "sqlite" or "postgres"
	Instance string // unique id, safe in SQL and Redis keys: [a-z0-9]+
	Prefix   string // "lab:<instance>:"
	Metrics  *Metrics
	Log      *slog.Logger
	// Now is Clock.Now when a clock is set; labs read time through it.
	Now func() time.Time
	// Clock is the time the instance decides by: its timers, timeouts,
	// windows and expiries. nil means the real clock; a check suite may
	// hand in a ManualClock so a verdict about time does not depend on the
	// machine's speed.
	Clock Clock
}

// Clocked returns e's clock, the real one when none is set.
func (e Env) Clocked() Clock { return ClockOf(e.Clock) }

// Rebind turns ?-placeholders into $1, $2… for PostgreSQL.
func (e Env) Rebind(q string) string {
	if e.Dialect != "postgres" {
		return q
	}
	out := make([]byte, 0, len(q)+8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			out = append(out, '$')
			out = strconv.AppendInt(out, int64(n), 10)
			continue
		}
		out = append(out, q[i])
	}
	return string(out)
}

// Instance is a running lab.
type Instance interface {
	// Hit performs one unit of the lab's work for a load run (one limiter
	// decision, one breaker call, one cache read) for key, and returns the
	// HTTP status the same request would get.
	Hit(ctx context.Context, key string) (int, error)
	// State is the instance's current state for GET …/instances/{id}.
	State(ctx context.Context) (any, error)
	// Close stops background work and removes the instance's keys and rows.
	Close(ctx context.Context) error
	// Handler serves the lab's routes, relative to the instance
	// ("/request", "/items/1"): a *labhttp.Router, which lists the routes
	// it serves. The web app mounts it under
	// /api/labs/{lab}/instances/{id}; checks reach it through a Target.
	Handler() http.Handler
}

// Releaser is an instance that can stop here without removing anything:
// another replica has taken it over and now uses its keys and rows.
// Release stops its background work (saving what it holds in memory
// where the lab keeps such things, as a clean stop would) and leaves its
// state in Redis and the database as it is. Every lab implements it.
type Releaser interface {
	Release(ctx context.Context) error
}

// Resumer is a lab whose instances can start from what an earlier holder
// left in Redis and the database rather than afresh: a replica that takes
// over an instance resumes it. Labs without it are built with New, which
// starts the instance's state afresh wherever New clears it.
type Resumer interface {
	Resume(ctx context.Context, env Env, d Design) (Instance, error)
}

// DeleteKeys removes every Redis key under prefix (an instance's keys when
// it closes). It scans, so it never blocks Redis on a large keyspace.
func DeleteKeys(ctx context.Context, rdb *goredis.Client, prefix string) error {
	iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		return rdb.Unlink(ctx, batch...).Err()
	}
	return nil
}

// schemaLockKey is the advisory lock labs take on PostgreSQL while they
// create their tables.
const schemaLockKey = 7420211

// CreateTables runs a lab's CREATE … IF NOT EXISTS statements in one
// transaction. On PostgreSQL two instances launched at once would race in
// them (both see no table, one fails on the catalogue's unique index), so
// they run under an advisory lock; SQLite's immediate transactions are
// serial already.
func (e Env) CreateTables(ctx context.Context, ddl ...string) error {
	tx, err := e.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // no-op after Commit
	if e.Dialect == "postgres" {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, schemaLockKey); err != nil {
			return fmt.Errorf("schema lock: %w", err)
		}
	}
	for _, q := range ddl {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create tables: %w", err)
		}
	}
	return tx.Commit()
}
