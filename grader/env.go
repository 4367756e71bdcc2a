package grader

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/internal/containers"
	"github.com/sdworkbook/workbook/internal/redis"
	"github.com/sdworkbook/workbook/internal/sqlopen"
	"github.com/sdworkbook/workbook/labs"
)

// environments hands each job a fresh place to grade in.
type environments struct {
	opts   Options
	log    *slog.Logger
	engine containers.Engine // whether Docker answers, asked at most every 30 s
	// owner and network: see ContainerOptions.
	owner   string
	network string
}

func newEnvironments(opts Options, log *slog.Logger) *environments {
	return &environments{opts: opts, log: log, owner: "grader-" + containers.Password()[:12]}
}

// ContainerOptions say how a grader's containers are labelled and reached.
type ContainerOptions struct {
	// Owner names the grader on the labels of the containers it starts. A
	// grader that starts again under the same name (the same host and
	// database) removes what it left behind when it was killed. "" keeps a
	// name of this grader's own.
	Owner string
	// Network is a Docker network the containers join, for a grader that
	// runs in a container on it: it reaches them by their address there.
	// "" reaches them on 127.0.0.1, where they publish their ports.
	Network string
}

// leftoverMargin is how long after its job's deadline a grading container
// is certainly left over: its grader would have removed it by then.
const leftoverMargin = 2 * time.Minute

// PrepareContainers sets how this grader's containers are labelled and
// reached; call it before Start. In the background it then removes the
// grading containers no job uses any more: what an earlier grader of the
// same owner left when it was killed, and anyone's whose job deadline is
// long past (safe while jobs run: see containers.RemoveLeftovers). The
// channel closes when that is done. Without a Docker engine, or grading
// embedded, there is nothing to do.
func (g *Grader) PrepareContainers(ctx context.Context, o ContainerOptions) <-chan struct{} {
	if o.Owner != "" {
		g.envs.owner = o.Owner
	}
	g.envs.network = o.Network
	done := make(chan struct{})
	if g.opts.Environment == EnvEmbedded {
		close(done)
		return done
	}
	owner := g.envs.owner
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := g.envs.engine.Check(ctx); err != nil {
			g.log.Info("no container engine answers; grading containers start once one does", "err", err)
			return
		}
		reaper, why := containers.PrepareReaper(ctx)
		g.log.Info("grading in containers", "owner", owner, "network", o.Network, "reaper", reaper, "reaper_reason", why)
		if o.Network != "" {
			if err := containers.CheckNetwork(ctx, o.Network); err != nil {
				g.log.Error("the grading network is not there: grading containers cannot start", "network", o.Network, "err", err)
			}
		}
		left, err := containers.RemoveLeftovers(ctx, owner, leftoverMargin, time.Now())
		for _, l := range left {
			g.log.Info("removed a grading "+l.Kind+" left behind", l.Kind, l.ID[:min(12, len(l.ID))],
				"owner", l.Owner, "submission", l.Job, "why", l.Why)
		}
		if err != nil {
			g.log.Warn("removing grading containers, networks and images left behind", "err", err)
		}
	}()
	return done
}

// env is one job's environment.
type env struct {
	// name is the sentence a learner reads about where the design was
	// graded.
	name string
	// detail is the technical reason the job fell back to the built-in
	// environment, for staff; "" otherwise.
	detail string
	base   labs.Env
	// kind is EnvContainers or EnvEmbedded, for the metrics.
	kind string
}

// Why a job grades on the built-in Redis and SQLite, as learners read it.
const (
	whyConfigured = "this server is set to grade without containers"
	whyNoEngine   = "this server has no container engine"
	whyNoImages   = "the container images for grading are not on this server"
)

// useContainers decides where the next job grades.
func (e *environments) useContainers(ctx context.Context) bool {
	switch e.opts.Environment {
	case EnvContainers:
		return true
	case EnvEmbedded:
		return false
	}
	return e.engine.Available(ctx)
}

func (e *environments) describe(ctx context.Context) string {
	if e.useContainers(ctx) {
		return "containers"
	}
	return "embedded"
}

func (e *environments) images(ctx context.Context) (pg, rd string) {
	pg = containers.Resolve(ctx, cmp.Or(e.opts.PostgresImage, containers.DefaultPostgresImage))
	rd = containers.Resolve(ctx, cmp.Or(e.opts.RedisImage, containers.DefaultRedisImage))
	return pg, rd
}

// acquire starts an environment for grading submission job; release
// removes everything it started, whatever happened in between. A failure
// wraps labs.ErrEnvironment.
//
// In auto mode a job grades in containers whenever a Docker engine
// answers; it falls back to the built-in environment only when none
// answers, or when the engine has no image to start and cannot pull one
// (no registry). Any other failure to start containers is an environment
// failure, and the job runs again.
func (e *environments) acquire(ctx context.Context, job string, needDB bool) (env, func(), error) {
	switch e.opts.Environment {
	case EnvEmbedded:
		return e.embedded(ctx, needDB, whyConfigured, "")
	case EnvAuto:
		if err := e.engine.Check(ctx); err != nil {
			detail := "no container engine answered: " + err.Error()
			e.log.Info("grading on the built-in Redis and SQLite", "reason", detail)
			return e.embedded(ctx, needDB, whyNoEngine, detail)
		}
	}
	out, release, err := e.containers(ctx, job, needDB)
	if err == nil || e.opts.Environment != EnvAuto || ctx.Err() != nil {
		return out, release, err
	}
	missing := e.missingImages(ctx, needDB)
	if len(missing) == 0 {
		return env{}, nil, err
	}
	detail := fmt.Sprintf("image %s is not on the Docker host and could not be pulled: %v", strings.Join(missing, " and "), err)
	e.log.Warn("grading on the built-in Redis and SQLite", "reason", detail)
	out, release, err2 := e.embedded(ctx, needDB, whyNoImages, detail)
	if err2 != nil {
		return env{}, nil, errors.Join(err, err2)
	}
	return out, release, nil
}

// missingImages lists the images a job needs that the engine lacks.
func (e *environments) missingImages(ctx context.Context, needDB bool) []string {
	pg, rd := e.images(ctx)
	var out []string
	if !containers.HasImage(ctx, rd) {
		out = append(out, rd)
	}
	if needDB && !containers.HasImage(ctx, pg) {
		out = append(out, pg)
	}
	return out
}

// containers starts a fresh Redis, and PostgreSQL when the lab needs a
// database, side by side, each with a password of its own, labelled as
// job's.
func (e *environments) containers(ctx context.Context, job string, needDB bool) (env, func(), error) {
	pgImage, rdImage := e.images(ctx)
	deadline, _ := ctx.Deadline()
	opts := []containers.Option{
		containers.WithLabels(containers.GradingLabels(e.owner, job, time.Now(), deadline)),
		containers.WithNetwork(e.network),
		containers.WithLog(e.log),
	}
	var (
		wg           sync.WaitGroup
		rd, pg       *containers.Service
		rdErr, pgErr error
		cleanups     []func()
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		rd, rdErr = containers.StartRedis(ctx, rdImage, append(opts, containers.WithPassword(containers.Password()))...)
	}()
	if needDB {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pg, pgErr = containers.StartPostgres(ctx, pgImage, append(opts, containers.WithPassword(containers.Password()))...)
		}()
	}
	wg.Wait()
	release := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
		for _, s := range []*containers.Service{rd, pg} {
			if s != nil {
				if err := containers.Terminate(s.Container); err != nil {
					e.log.Warn("removing a grading container", "err", err)
				}
			}
		}
	}
	if err := errors.Join(rdErr, pgErr); err != nil {
		release()
		return env{}, nil, fmt.Errorf("%w: starting containers: %w", labs.ErrEnvironment, err)
	}
	rc, err := redis.Open(ctx, rd.URL)
	if err != nil {
		release()
		return env{}, nil, fmt.Errorf("%w: %w", labs.ErrEnvironment, err)
	}
	cleanups = append(cleanups, func() { rc.Close() })
	name := "Graded in containers: " + product("Redis", rdImage) + "."
	if needDB {
		name = "Graded in containers: " + product("Redis", rdImage) + " and " + product("PostgreSQL", pgImage) + "."
	}
	e.log.Debug("grading containers started", "redis", rdImage, "postgres", pgImage, "network", e.network)
	out := env{name: name, kind: EnvContainers, base: labs.Env{Redis: rc.Client, Log: e.log, Now: time.Now}}
	if needDB {
		db, dialect, err := sqlopen.Open(ctx, sqlopen.Options{PostgresURL: pg.URL, ConnectTimeout: sqlopen.GradingConnectTimeout})
		if err != nil {
			release()
			return env{}, nil, fmt.Errorf("%w: %w", labs.ErrEnvironment, err)
		}
		cleanups = append(cleanups, func() { db.Close() })
		out.base.DB, out.base.Dialect = db, string(dialect)
	}
	return out, release, nil
}

// product names the software an image runs, for a learner: "Redis 7" for
// redis:7, workbook-local/redis:7 or redis:7-alpine; "Redis" when the tag
// says no version.
func product(name, image string) string {
	ref, _, _ := strings.Cut(image, "@")
	i := strings.LastIndexByte(ref, ':')
	if i < 0 || strings.Contains(ref[i:], "/") {
		return name
	}
	tag, _, _ := strings.Cut(ref[i+1:], "-")
	if tag == "" || tag[0] < '0' || tag[0] > '9' {
		return name
	}
	return name + " " + tag
}

// embedded grades on an in-process Redis server and a SQLite file of the
// job's own, both gone afterwards; why tells the learner why, detail the
// staff.
func (e *environments) embedded(ctx context.Context, needDB bool, why, detail string) (env, func(), error) {
	rc, err := redis.Open(ctx, "")
	if err != nil {
		return env{}, nil, fmt.Errorf("%w: %w", labs.ErrEnvironment, err)
	}
	out := env{name: "Graded on the built-in Redis: " + why + ".", detail: detail, kind: EnvEmbedded,
		base: labs.Env{Redis: rc.Client, Log: e.log, Now: time.Now}}
	release := func() { rc.Close() }
	if !needDB {
		return out, release, nil
	}
	dir, err := os.MkdirTemp("", "grade-")
	if err != nil {
		release()
		return env{}, nil, fmt.Errorf("%w: %w", labs.ErrEnvironment, err)
	}
	db, dialect, err := sqlopen.Open(ctx, sqlopen.Options{SQLitePath: filepath.Join(dir, "lab.db")})
	if err != nil {
		release()
		os.RemoveAll(dir)
		return env{}, nil, fmt.Errorf("%w: %w", labs.ErrEnvironment, err)
	}
	out.name = "Graded on the built-in Redis and SQLite: " + why + "."
	out.base.DB, out.base.Dialect = db, string(dialect)
	return out, func() {
		db.Close()
		os.RemoveAll(dir)
		rc.Close()
	}, nil
}
