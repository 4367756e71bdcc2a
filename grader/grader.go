// Package grader grades submitted lab designs. Submitting inserts the
// submission and its grading job in one database transaction (a River
// queue in the same database, SQLite or PostgreSQL); workers, in the web
// server or in separate `server grader` processes, take jobs, start a fresh
// environment (Redis and PostgreSQL containers through testcontainers-go
// when a Docker engine answers, else an in-process Redis and a SQLite
// file), build the lab from the design, run the exercise's check suite and
// record exactly one result. Progress is published on Redis so any replica
// can stream it to the learner's browser.
package grader

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/labs"
)

// Limits on what one learner can make the grader do.
const (
	// MaxPending is how many of a learner's submissions may wait or run at
	// once; each costs a worker and fresh containers.
	MaxPending = 3
	// MaxNotes bounds the written justification, in characters.
	MaxNotes = 4000
	// queue is the River queue grading jobs go to.
	queue = "grading"
	// maxAttempts is how often a job runs: a worker killed mid-job or an
	// environment that failed to start gets more tries.
	maxAttempts = 3
)

// Options configure a Grader.
type Options struct {
	// Workers is how many jobs this process grades at once; 0 only
	// enqueues (the web server when separate grader processes work).
	Workers int
	// JobTimeout bounds one grading, environment start included.
	JobTimeout time.Duration
	// Environment is auto (containers when Docker answers, else
	// embedded), containers or embedded.
	Environment string
	// PostgresImage and RedisImage name the containers' images.
	PostgresImage, RedisImage string
	// RescueAfter is when a job still marked running (its worker died) is
	// run again; 0 means JobTimeout plus a minute.
	RescueAfter time.Duration
	// PollInterval is how often idle workers look for jobs.
	PollInterval time.Duration
	// SweepEvery is how often workers look for submissions whose job
	// ended without a result; 0 means 30 s.
	SweepEvery time.Duration
	// ID names this worker process in the queue's tables and on the
	// leases it holds; "" picks one from the host name and process id.
	ID string
	// Lease is how long a run's worker is presumed alive without renewing
	// its lease (it renews every third of it); a run whose lease runs out
	// is handed to another worker. 0 means 10 s.
	Lease time.Duration
	// RecoverEvery is how often workers look for runs whose lease ran
	// out; 0 means 2 s.
	RecoverEvery time.Duration
	// BuildTimeout bounds one grading of a build exercise (the learner's
	// own service built, started and checked); 0 means
	// DefaultBuildTimeout.
	BuildTimeout time.Duration
	// GoImage, PythonImage and RelayImage are the sandbox's images (see
	// internal/sandbox); "" takes its defaults.
	GoImage, PythonImage, RelayImage string
	// Hooks report what the workers do, for the operator's metrics.
	Hooks Hooks
}

// Hooks are told what the workers do; a nil one is skipped. They run on
// the worker's goroutine, so they must be quick.
type Hooks struct {
	// Graded: a run of exercise recorded its result with status, took
	// after the run started.
	Graded func(exercise, status string, took time.Duration)
	// EnvironmentStarted: an environment of kind (EnvContainers or
	// EnvEmbedded) started in took.
	EnvironmentStarted func(kind string, took time.Duration)
}

// Environment modes.
const (
	EnvAuto       = "auto"
	EnvContainers = "containers"
	EnvEmbedded   = "embedded"
)

// Grader enqueues submissions and, with workers, grades them.
type Grader struct {
	st    *store.Store
	rdb   *goredis.Client
	log   *slog.Logger
	opts  Options
	reg   *labs.Registry
	river *river.Client[*sql.Tx]
	envs  *environments
	boxes sandboxes
	now   func() time.Time

	stopSweep context.CancelFunc
	sweepDone chan struct{}
}

// New builds a grader of the exercises of reg's labs over the store's
// database and rdb (for progress events). Workers do not run until Start.
func New(st *store.Store, rdb *goredis.Client, log *slog.Logger, opts Options, reg *labs.Registry) (*Grader, error) {
	if opts.JobTimeout <= 0 {
		opts.JobTimeout = 90 * time.Second
	}
	if opts.BuildTimeout <= 0 {
		opts.BuildTimeout = DefaultBuildTimeout
	}
	// The queue's own job deadline is a backstop behind the worker's.
	queueTimeout := max(opts.JobTimeout, opts.BuildTimeout) + 5*time.Second
	if opts.RescueAfter <= 0 {
		opts.RescueAfter = max(opts.JobTimeout, opts.BuildTimeout) + time.Minute
	}
	opts.RescueAfter = max(opts.RescueAfter, queueTimeout)
	if opts.SweepEvery <= 0 {
		opts.SweepEvery = 30 * time.Second
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 500 * time.Millisecond
	}
	if opts.Environment == "" {
		opts.Environment = EnvAuto
	}
	if opts.Lease <= 0 {
		opts.Lease = 10 * time.Second
	}
	if opts.RecoverEvery <= 0 {
		opts.RecoverEvery = 2 * time.Second
	}
	if opts.ID == "" {
		host, _ := os.Hostname()
		opts.ID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), store.NewSubmissionID()[:6])
	}
	g := &Grader{st: st, rdb: rdb, log: log, opts: opts, reg: reg, now: time.Now}
	g.envs = newEnvironments(opts, log)
	cfg := &river.Config{
		Logger:               log.With("subsystem", "queue"), // log names the component already
		MaxAttempts:          maxAttempts,
		FetchPollInterval:    opts.PollInterval,
		FetchCooldown:        min(100*time.Millisecond, opts.PollInterval),
		RescueStuckJobsAfter: opts.RescueAfter,
		// The worker keeps its own deadline (JobTimeout) and records a
		// timeout as a result; the queue's is only a backstop.
		JobTimeout: queueTimeout,
		ID:         opts.ID,
		PollOnly:   true,
	}
	if opts.Workers > 0 {
		w := river.NewWorkers()
		if err := river.AddWorkerSafely(w, &worker{g: g}); err != nil {
			return nil, err
		}
		cfg.Workers = w
		cfg.Queues = map[string]river.QueueConfig{queue: {MaxWorkers: opts.Workers}}
	}
	var err error
	if st.Dialect() == "postgres" {
		g.river, err = river.NewClient(riverdatabasesql.New(st.SQL()), cfg)
	} else {
		g.river, err = river.NewClient(riversqlite.New(st.SQL()), cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("grader: queue: %w", err)
	}
	return g, nil
}

// Start starts the workers, if any, and the sweep for lost submissions.
func (g *Grader) Start(ctx context.Context) error {
	if g.opts.Workers == 0 {
		return nil
	}
	if err := g.river.Start(ctx); err != nil {
		return err
	}
	sweepCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	g.stopSweep = stop
	g.sweepDone = make(chan struct{})
	// Runs a killed worker left are handed on as soon as their leases run
	// out, the first look right away: after a restart of the only process
	// its interrupted submission is graded again within seconds.
	g.recover(sweepCtx)
	go func() {
		defer close(g.sweepDone)
		t := time.NewTicker(g.opts.SweepEvery)
		defer t.Stop()
		r := time.NewTicker(g.opts.RecoverEvery)
		defer r.Stop()
		for {
			select {
			case <-sweepCtx.Done():
				return
			case <-t.C:
				g.sweep(sweepCtx)
			case <-r.C:
				g.recover(sweepCtx)
			}
		}
	}()
	return nil
}

// recover queues again the runs whose worker stopped renewing its lease.
func (g *Grader) recover(ctx context.Context) {
	got, err := g.st.RecoverRuns(ctx, g.now(), maxAttempts, interruptedMessage,
		func(ctx context.Context, tx *sql.Tx, id string) (int64, error) { return g.enqueue(id)(ctx, tx) })
	if err != nil && ctx.Err() == nil {
		g.log.Warn("looking for runs of lost workers", "err", err)
	}
	for _, r := range got {
		if r.GivenUp {
			g.log.Warn("submission given up: its workers were lost too often", "submission", r.ID)
			g.publish(ctx, r.ID, store.StatusNotGradable)
			continue
		}
		g.log.Warn("submission queued again: its worker stopped renewing the lease", "submission", r.ID)
		g.publish(ctx, r.ID, store.StatusQueued)
	}
}

// interruptedMessage is what a learner reads when grading kept being cut
// short by workers that stopped.
var interruptedMessage = fmt.Sprintf("Grading was interrupted %d times (the grading server stopped in the middle), so it was given up. "+
	"This does not count as an attempt: please submit again.", maxAttempts)

// sweep ends submissions whose job the queue gave up on (a job interrupted
// on its every try, as when workers keep being stopped mid-job), so every
// submission reaches a terminal state.
func (g *Grader) sweep(ctx context.Context) {
	lost, err := g.st.LostSubmissions(ctx, 100)
	if err != nil {
		if ctx.Err() == nil {
			g.log.Warn("looking for lost submissions", "err", err)
		}
		return
	}
	for _, sub := range lost {
		ok, err := g.st.GiveUp(ctx, sub.ID, interruptedMessage, g.now())
		if err != nil {
			g.log.Warn("giving up a lost submission", "submission", sub.ID, "err", err)
			continue
		}
		if ok {
			g.log.Warn("submission given up: its grading job ended without a result", "submission", sub.ID)
			g.publish(ctx, sub.ID, store.StatusNotGradable)
		}
	}
}

// Stop lets running jobs finish until ctx ends, then cancels them; a
// cancelled job is run again later by some worker.
func (g *Grader) Stop(ctx context.Context) error {
	if g.opts.Workers == 0 {
		return nil
	}
	if g.stopSweep != nil {
		g.stopSweep()
		<-g.sweepDone
	}
	soft, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- g.river.Stop(soft) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		hard, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel2()
		return g.river.StopAndCancel(hard)
	}
}

// Environment names the environment this process grades in right now.
func (g *Grader) Environment(ctx context.Context) string { return g.envs.describe(ctx) }

// Labs are the labs with exercises, in the registry's order.
func (g *Grader) Labs() []labs.Lab { return g.reg.Graded() }

// Exercises returns a lab's exercises.
func (g *Grader) Exercises(labID string) []labs.Exercise { return g.reg.Exercises(labID) }

// Exercise finds an exercise by id.
func (g *Grader) Exercise(id string) (labs.Lab, labs.Exercise, bool) { return g.reg.Exercise(id) }

// Counts are the submissions by status and the grading queue's jobs by
// state, read from the database.
func (g *Grader) Counts(ctx context.Context) (submissions, jobs map[string]int64, err error) {
	return g.st.GradingCounts(ctx, queue)
}
