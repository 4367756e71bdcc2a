package grader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/testcontainers/testcontainers-go"

	"github.com/sdworkbook/workbook/internal/containers"
	"github.com/sdworkbook/workbook/internal/redis"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/labs"
)

// environments hands each job a fresh place to grade in.
type environments struct {
	opts Options
	log  *slog.Logger
}

func newEnvironments(opts Options, log *slog.Logger) *environments {
	return &environments{opts: opts, log: log}
}

// env is one job's environment.
type env struct {
	name string
	// detail is the technical reason behind name (why containers did not
	// start), for the log and staff; "" when there is none.
	detail string
	base   labs.Env
}

// useContainers decides where the next job grades.
func (e *environments) useContainers(ctx context.Context) bool {
	switch e.opts.Environment {
	case EnvContainers:
		return true
	case EnvEmbedded:
		return false
	}
	return containers.Available(ctx)
}

func (e *environments) describe(ctx context.Context) string {
	if e.useContainers(ctx) {
		return "containers"
	}
	return "embedded"
}

func (e *environments) images(ctx context.Context) (pg, rd string) {
	pg, rd = e.opts.PostgresImage, e.opts.RedisImage
	if pg == "" {
		pg = containers.Image(ctx, "WORKBOOK_POSTGRES_IMAGE", containers.DefaultPostgresImage)
	} else {
		pg = containers.Resolve(ctx, pg)
	}
	if rd == "" {
		rd = containers.Image(ctx, "WORKBOOK_REDIS_IMAGE", containers.DefaultRedisImage)
	} else {
		rd = containers.Resolve(ctx, rd)
	}
	return pg, rd
}

// acquire starts an environment; release removes everything it started,
// whatever happened in between. A failure wraps labs.ErrEnvironment.
// In auto mode, containers that fail to start (no image, and no registry
// to pull one from) fall back to the embedded environment, and the result
// names it with the reason.
func (e *environments) acquire(ctx context.Context, needDB bool) (env, func(), error) {
	if !e.useContainers(ctx) {
		return e.embedded(ctx, needDB)
	}
	out, release, err := e.containers(ctx, needDB)
	if err == nil || e.opts.Environment != EnvAuto || ctx.Err() != nil {
		return out, release, err
	}
	e.log.Warn("grading containers did not start; grading embedded", "err", err)
	out, release, err2 := e.embedded(ctx, needDB)
	if err2 != nil {
		return env{}, nil, errors.Join(err, err2)
	}
	out.name += " (containers did not start: " + firstLine(err.Error()) + ")"
	return out, release, nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// containers starts a fresh Redis, and PostgreSQL when the lab needs a
// database, side by side.
func (e *environments) containers(ctx context.Context, needDB bool) (env, func(), error) {
	pgImage, rdImage := e.images(ctx)
	var (
		wg            sync.WaitGroup
		rdC, pgC      testcontainers.Container
		rdAddr, pgURL string
		rdErr, pgErr  error
		cleanups      []func()
		name          = "containers: Redis (" + rdImage + ")"
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, addr, err := containers.StartRedis(ctx, rdImage)
		if c != nil {
			rdC = c
		}
		rdAddr, rdErr = addr, err
	}()
	if needDB {
		name += ", PostgreSQL (" + pgImage + ")"
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, url, err := containers.StartPostgres(ctx, pgImage)
			if c != nil {
				pgC = c
			}
			pgURL, pgErr = url, err
		}()
	}
	wg.Wait()
	release := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
		for _, c := range []testcontainers.Container{rdC, pgC} {
			if c != nil {
				if err := containers.Terminate(c); err != nil {
					e.log.Warn("removing a grading container", "err", err)
				}
			}
		}
	}
	if err := errors.Join(rdErr, pgErr); err != nil {
		release()
		return env{}, nil, fmt.Errorf("%w: starting containers: %w", labs.ErrEnvironment, err)
	}
	rc, err := redis.Open(ctx, "redis://"+rdAddr)
	if err != nil {
		release()
		return env{}, nil, fmt.Errorf("%w: %w", labs.ErrEnvironment, err)
	}
	cleanups = append(cleanups, func() { rc.Close() })
	out := env{name: name, base: labs.Env{Redis: rc.Client, Log: e.log, Now: time.Now}}
	if needDB {
		st, err := store.Open(ctx, store.Options{PostgresURL: pgURL})
		if err != nil {
			release()
			return env{}, nil, fmt.Errorf("%w: %w", labs.ErrEnvironment, err)
		}
		cleanups = append(cleanups, func() { st.Close() })
		out.base.DB, out.base.Dialect = st.SQL(), string(st.Dialect())
	}
	return out, release, nil
}

// embedded grades on an in-process Redis server and a SQLite file of the
// job's own, both gone afterwards.
func (e *environments) embedded(ctx context.Context, needDB bool) (env, func(), error) {
	name := "embedded: in-process Redis"
	rc, err := redis.Open(ctx, "")
	if err != nil {
		return env{}, nil, fmt.Errorf("%w: %w", labs.ErrEnvironment, err)
	}
	out := env{name: name, base: labs.Env{Redis: rc.Client, Log: e.log, Now: time.Now}}
	release := func() { rc.Close() }
	if !needDB {
		return out, release, nil
	}
	dir, err := os.MkdirTemp("", "grade-")
	if err != nil {
		release()
		return env{}, nil, fmt.Errorf("%w: %w", labs.ErrEnvironment, err)
	}
	st, err := store.Open(ctx, store.Options{SQLitePath: filepath.Join(dir, "lab.db")})
	if err != nil {
		release()
		os.RemoveAll(dir)
		return env{}, nil, fmt.Errorf("%w: %w", labs.ErrEnvironment, err)
	}
	out.name = strings.Replace(name, "Redis", "Redis, SQLite", 1)
	out.base.DB, out.base.Dialect = st.SQL(), string(st.Dialect())
	return out, func() {
		st.Close()
		os.RemoveAll(dir)
		rc.Close()
	}, nil
}
