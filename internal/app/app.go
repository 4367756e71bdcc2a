// Package app wires the workbook once: configuration, database, Redis,
// the lab registry, the lab manager, the grader and the web site, in that
// order, for the server, the grader-only process and the tests alike.
// Open builds and connects, Run serves until its context ends, Close
// lets go of everything Open took, in the reverse order.
//
// app does not import the web package (whose tests use app); the caller
// hands Open the function that builds the site from the parts.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/sdworkbook/workbook/grader"
	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/metrics"
	"github.com/sdworkbook/workbook/internal/redis"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/all"
	"github.com/sdworkbook/workbook/lessons"
)

// Site is the web application an App serves.
type Site interface {
	http.Handler
	// CleanSessions deletes expired sessions every interval until ctx ends.
	CleanSessions(ctx context.Context, interval time.Duration)
	// FlushMail waits for queued emails to go out until ctx ends.
	FlushMail(ctx context.Context) error
	// SetupLink is the one-time link that creates the first admin, or ""
	// when there is one.
	SetupLink(ctx context.Context, base string) (string, error)
	// EndStreams ends the live event streams, which would otherwise keep a
	// graceful shutdown waiting; their browsers connect again.
	EndStreams()
}

// Options change what Open builds: the commands choose the site, tests
// the clock, the labs and the grader's workers.
type Options struct {
	// Logger receives everything the parts log; required.
	Logger *slog.Logger
	// Now is the clock of the site and the live labs; nil is time.Now.
	Now func() time.Time
	// Registry is the labs served and graded; nil is every lab of this
	// build.
	Registry *labs.Registry
	// Grader edits the grader's options, made from the configuration.
	Grader func(*grader.Options)
	// Hasher hashes passwords; nil is one sized for this machine's cores.
	Hasher *auth.Hasher
	// Site builds the web application from the parts; nil serves no
	// site (a grader-only process), and then no lessons are read.
	Site func(*App) (Site, error)
}

// App is the workbook, wired.
type App struct {
	Config   config.Config
	Log      *slog.Logger
	Now      func() time.Time
	Store    *store.Store
	Redis    *redis.Conn
	Library  *lessons.Library // nil without a site
	Registry *labs.Registry
	Labs     *labs.Manager
	Grader   *grader.Grader
	Hasher   *auth.Hasher
	Site     Site // nil for a grader-only process
	// Metrics is the registry the site serves at /metrics (a grader-only
	// process records into it but serves nothing).
	Metrics *metrics.Metrics

	opened  time.Time
	closers []func() // in the order Open took what they let go of
}

// Open builds the workbook from cfg: it migrates the database, connects
// Redis, reads the lessons, and makes the lab manager, the grader (its
// workers not started) and the site. On an error, whatever was opened is
// closed again.
func Open(ctx context.Context, cfg config.Config, o Options) (a *App, err error) {
	if o.Logger == nil {
		return nil, errors.New("app: Options.Logger is required")
	}
	a = &App{Config: cfg, Log: o.Logger, Now: o.Now, Registry: o.Registry, Hasher: o.Hasher, opened: time.Now(), Metrics: metrics.New()}
	defer func() {
		if err != nil {
			a.Close()
			a = nil
		}
	}()
	if a.Now == nil {
		a.Now = time.Now
	}
	if a.Registry == nil {
		a.Registry = all.Registry()
	}
	if a.Hasher == nil {
		a.Hasher = auth.NewHasher(runtime.GOMAXPROCS(0), 4*runtime.GOMAXPROCS(0))
	}
	if a.Store, err = OpenStore(ctx, cfg, a.Log); err != nil {
		return a, err
	}
	a.closers = append(a.closers, func() { _ = a.Store.Close() })
	if a.Redis, err = redis.Open(ctx, cfg.RedisURL); err != nil {
		return a, err
	}
	a.closers = append(a.closers, func() { _ = a.Redis.Close() })
	if o.Site == nil {
		a.announceScores()
	}
	a.Labs = labs.NewManager(a.Registry, a.Redis.Client, a.Store.SQL(), string(a.Store.Dialect()), a.Log, a.Now, labs.DefaultLimits)
	a.closers = append(a.closers, func() {
		a.Labs.StopAll(context.Background())
		if d := a.Labs.Directory(); d != nil {
			d.Close() // after its instances: they are not taken over while they stop
		}
	})
	if o.Site != nil {
		// Replicas serving the site share the directory of lab instances.
		self := labs.Replica{ID: auth.NewToken()[:16], URL: cfg.ReplicaAddress()}
		a.Labs.Join(labs.NewDirectory(a.Store.SQL(), string(a.Store.Dialect()), self), labs.DefaultClusterOptions)
	}
	if err := a.openGrader(ctx, o.Grader); err != nil {
		return a, err
	}
	a.watch()
	if o.Site == nil {
		return a, nil
	}
	if a.Library, err = openLessons(cfg, a.Log); err != nil {
		return a, err
	}
	if a.Site, err = o.Site(a); err != nil {
		return a, fmt.Errorf("web: %w", err)
	}
	a.closers = append(a.closers, a.flushMail)
	return a, nil
}

// Close lets go of what Open took, the last first: queued emails get 10 s
// to go out, grading jobs 20 s to finish (a job still running then runs
// again elsewhere), every lab instance stops, then Redis and the database
// close.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// OpenStore opens the configured database and applies the migrations
// it lacks.
func OpenStore(ctx context.Context, cfg config.Config, log *slog.Logger) (*store.Store, error) {
	st, err := store.Open(ctx, store.Options{PostgresURL: cfg.DatabaseURL, SQLitePath: cfg.SQLitePath(), Logger: log})
	if err != nil {
		return nil, err
	}
	n, err := st.Migrate(ctx)
	if err != nil {
		st.Close()
		return nil, err
	}
	if n > 0 {
		log.Info("migrations applied", "count", n, "dialect", st.Dialect())
	}
	return st, nil
}

// openLessons reads the lessons, whose links to labs must all resolve
// among the labs of this build.
func openLessons(cfg config.Config, log *slog.Logger) (*lessons.Library, error) {
	lib, err := lessons.OpenLibrary(cfg.Dev, "lessons/content", log)
	if err != nil {
		return nil, err
	}
	if bad := lib.Catalog().UnknownLabs(all.Registry().IDs()); len(bad) > 0 {
		return nil, fmt.Errorf("the lessons link labs this build does not have: %v", bad)
	}
	return lib, nil
}

// openGrader makes the grader from the configuration, edited by edit, and
// when it has workers, looks for the container engine and what a killed
// grader left behind.
func (a *App) openGrader(ctx context.Context, edit func(*grader.Options)) error {
	cfg := a.Config
	opts := grader.Options{Workers: cfg.GraderWorkers, JobTimeout: cfg.GraderTimeout, Environment: cfg.GraderEnv,
		PostgresImage: cfg.PostgresImage, RedisImage: cfg.RedisImage, GoImage: cfg.GoImage, PythonImage: cfg.PythonImage}
	if edit != nil {
		edit(&opts)
	}
	if opts.Hooks.Graded == nil && opts.Hooks.EnvironmentStarted == nil {
		opts.Hooks = grader.Hooks{Graded: a.Metrics.Graded, EnvironmentStarted: a.Metrics.EnvironmentStarted}
	}
	gr, err := grader.New(a.Store, a.Redis.Client, a.Log.With("component", "grader"), opts, a.Registry)
	if err != nil {
		return err
	}
	a.Grader = gr
	if opts.Workers > 0 {
		gr.PrepareContainers(ctx, grader.ContainerOptions{Owner: graderOwner(cfg), Network: cfg.GraderNetwork})
	}
	return nil
}

// watch exports the gauges read at scrape time: this replica's lab
// instances and the database's grading counts.
func (a *App) watch() {
	a.Metrics.Watch(metrics.Sources{
		LabInstances: a.Labs.RunningByLab,
		Grading: func(ctx context.Context) (metrics.GradingCounts, error) {
			subs, jobs, err := a.Grader.Counts(ctx)
			return metrics.GradingCounts{Submissions: subs, Jobs: jobs}, err
		},
		Log: a.Log,
		Now: a.Now,
	})
}

// stopGrader stops grading before the database closes: a job still
// running after 20 s is cancelled and runs again on another worker.
func (a *App) stopGrader() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.Grader.Stop(ctx); err != nil {
		a.Log.Warn("stopping the grader", "err", err)
	}
}

// flushMail gives emails still queued when the server stops 10 s to go
// out; any left then are logged as not sent.
func (a *App) flushMail() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Site.FlushMail(ctx); err != nil {
		a.Log.Warn("stopping with emails unsent", "err", err)
	}
}

// announceScores makes a grader-only process tell the web replicas when
// it records a learner's result: they keep copies of learners' best
// scores. (A site's process announces every change to a learner's record
// itself.)
func (a *App) announceScores() {
	self := "grader-" + auth.NewToken()[:16]
	a.Store.OnLearnerChange(func(ctx context.Context, userID int64) {
		if err := redis.AnnounceLearner(ctx, a.Redis.Client, self, userID); err != nil {
			a.Log.Warn("announcing a learner's result to the web replicas; they show it within 30 s", "err", err, "user_id", userID)
		}
	})
}
