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
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	goredis "github.com/redis/go-redis/v9"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/sdworkbook/workbook/internal/apperr"
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
	if opts.RescueAfter <= 0 {
		opts.RescueAfter = opts.JobTimeout + time.Minute
	}
	// The queue's own job deadline is a backstop behind the worker's.
	queueTimeout := opts.JobTimeout + 5*time.Second
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
		Logger:               log.With("component", "queue"),
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

// Request is a submission as the learner sends it.
type Request struct {
	Exercise string          `json:"exercise"`
	Design   json.RawMessage `json:"design"`
	Notes    string          `json:"notes"`
}

// Submit validates a submission and commits it with its grading job. An
// invalid design or note is an apperr with field errors; nothing is stored.
func (g *Grader) Submit(ctx context.Context, userID int64, labID string, req Request) (store.Submission, error) {
	l, ok := g.reg.Lab(labID)
	if !ok {
		return store.Submission{}, apperr.New(apperr.NotFound, "no lab %q", labID)
	}
	ex, d, notes, err := Validate(l, req)
	if err != nil {
		return store.Submission{}, err
	}
	pending, err := g.st.PendingSubmissions(ctx, userID)
	if err != nil {
		return store.Submission{}, err
	}
	if pending >= MaxPending {
		return store.Submission{}, apperr.New(apperr.TooMany,
			"You have %d submissions waiting to be graded; submit again when one has finished.", pending)
	}
	design, err := json.Marshal(d)
	if err != nil {
		return store.Submission{}, err
	}
	sub := store.Submission{ID: store.NewSubmissionID(), UserID: userID, Lab: labID, Exercise: ex.ID,
		Design: string(design), Notes: notes, Status: store.StatusQueued, MaxScore: ex.MaxScore(), CreatedAt: g.now()}
	err = g.st.CreateSubmission(ctx, &sub, g.enqueue(sub.ID))
	if err != nil {
		return store.Submission{}, err
	}
	g.log.Info("submission queued", "submission", sub.ID, "user", userID, "exercise", ex.ID, "number", sub.Number)
	return sub, nil
}

// ParseRequest decodes a submission's JSON body; anything but one object
// of the known fields is an apperr naming "body".
func ParseRequest(body []byte) (Request, error) {
	var req Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil {
		if _, tail := dec.Token(); tail != io.EOF {
			err = errors.New("one JSON object with nothing after it")
		}
	}
	if err != nil {
		return Request{}, apperr.Fields(map[string]string{"body": `The body must be a JSON object {"exercise": "…", "design": {…}, "notes": "…"}: ` + err.Error()})
	}
	return req, nil
}

// Validate checks a submission for lab l: the exercise (default the lab's
// first), the design and the notes. It returns them ready to store, or an
// apperr naming the fields at fault.
func Validate(l labs.Lab, req Request) (labs.Exercise, labs.Design, string, error) {
	labID := l.Info().ID
	exs := labs.ExercisesOf(l)
	if len(exs) == 0 {
		return labs.Exercise{}, nil, "", apperr.New(apperr.NotFound, "lab %q has no exercises", labID)
	}
	ex := exs[0]
	if req.Exercise != "" {
		found := false
		for _, e := range exs {
			if e.ID == req.Exercise {
				ex, found = e, true
			}
		}
		if !found {
			return labs.Exercise{}, nil, "", apperr.Fields(map[string]string{"exercise": fmt.Sprintf(
				"No exercise %q in the %s lab; it has %s.", req.Exercise, labID, exerciseIDs(exs))})
		}
	}
	d, ferrs := labs.ParseDesign(l, req.Design)
	notes := strings.TrimSpace(req.Notes)
	if !utf8.ValidString(notes) {
		ferrs = addField(ferrs, "notes", "The notes must be text (UTF-8).")
	} else if n := utf8.RuneCountInString(notes); n > MaxNotes {
		ferrs = addField(ferrs, "notes", fmt.Sprintf("At most %d characters; these notes have %d.", MaxNotes, n))
	}
	if len(ferrs) > 0 {
		return labs.Exercise{}, nil, "", apperr.Fields(ferrs)
	}
	return ex, d, notes, nil
}

// enqueue inserts submission id's grading job in a transaction.
func (g *Grader) enqueue(id string) func(ctx context.Context, tx *sql.Tx) (int64, error) {
	return func(ctx context.Context, tx *sql.Tx) (int64, error) {
		res, err := g.river.InsertTx(ctx, tx, gradeArgs{Submission: id}, &river.InsertOpts{Queue: queue, MaxAttempts: maxAttempts})
		if err != nil {
			return 0, err
		}
		return res.Job.ID, nil
	}
}

// Regrade grades a finished submission again, replacing its result; a
// submission still queued or running is left alone (ok false).
func (g *Grader) Regrade(ctx context.Context, id string) (bool, error) {
	ok, err := g.st.Requeue(ctx, id, g.enqueue(id))
	if ok {
		g.log.Info("submission requeued", "submission", id)
		g.publish(ctx, id, store.StatusQueued)
	}
	return ok, err
}

func addField(f labs.FieldErrors, k, v string) labs.FieldErrors {
	if f == nil {
		f = labs.FieldErrors{}
	}
	f[k] = v
	return f
}

func exerciseIDs(exs []labs.Exercise) string {
	ids := make([]string, len(exs))
	for i, e := range exs {
		ids[i] = e.ID
	}
	return strings.Join(ids, ", ")
}

// Result is a submission with its checks, as the API and pages show it.
type Result struct {
	ID          string             `json:"id"`
	Lab         string             `json:"lab"`
	Exercise    string             `json:"exercise"`
	Number      int                `json:"number"`
	Status      string             `json:"status"`
	Score       *int               `json:"score"`
	MaxScore    int                `json:"max_score"`
	Environment string             `json:"environment"`
	Message     string             `json:"message,omitempty"`
	Counts      bool               `json:"counts_as_attempt"`
	Design      labs.Design        `json:"design"`
	Notes       string             `json:"notes"`
	CreatedAt   time.Time          `json:"created_at"`
	StartedAt   *time.Time         `json:"started_at,omitempty"`
	FinishedAt  *time.Time         `json:"finished_at,omitempty"`
	Checks      []labs.CheckResult `json:"checks"`
	Pending     []PendingCheck     `json:"pending_checks,omitempty"`
	// StaffDetail is the technical side of the result, for instructors
	// and admins; it never goes to the learner.
	StaffDetail string           `json:"-"`
	raw         store.Submission `json:"-"`
}

// PendingCheck is a check that has not reported yet.
type PendingCheck struct {
	Name        string `json:"name"`
	Requirement string `json:"requirement"`
	MaxPoints   int    `json:"max_points"`
}

// Submission returns the result of a learner's submission; another
// learner's is not found.
func (g *Grader) Submission(ctx context.Context, id string, userID int64) (Result, error) {
	sub, err := g.st.SubmissionOf(ctx, id, userID)
	if err != nil {
		return Result{}, err
	}
	return g.result(ctx, sub)
}

// Submissions lists a learner's submissions of an exercise, newest first.
func (g *Grader) Submissions(ctx context.Context, userID int64, exerciseID string) ([]store.Submission, error) {
	return g.st.Submissions(ctx, userID, exerciseID)
}

func (g *Grader) result(ctx context.Context, sub store.Submission) (Result, error) {
	r := Result{ID: sub.ID, Lab: sub.Lab, Exercise: sub.Exercise, Number: sub.Number, Status: sub.Status, Score: sub.Score,
		MaxScore: sub.MaxScore, Environment: sub.Environment, Message: sub.Message, StaffDetail: sub.StaffDetail, Counts: sub.Counts(), Notes: sub.Notes,
		CreatedAt: sub.CreatedAt, StartedAt: sub.StartedAt, FinishedAt: sub.FinishedAt, Checks: []labs.CheckResult{}, raw: sub}
	if err := json.Unmarshal([]byte(sub.Design), &r.Design); err != nil {
		return Result{}, fmt.Errorf("grader: submission %s design: %w", sub.ID, err)
	}
	if sub.Run > 0 {
		rows, err := g.st.Checks(ctx, sub.ID, sub.Run)
		if err != nil {
			return Result{}, err
		}
		for _, c := range rows {
			cr := labs.CheckResult{Name: c.Name, Requirement: c.Requirement, Passed: c.Passed, Points: c.Points,
				MaxPoints: c.MaxPoints, Message: c.Message, DurationMS: c.DurationMS}
			if c.Chart != "" {
				var ch labs.CheckChart
				if json.Unmarshal([]byte(c.Chart), &ch) == nil {
					cr.Chart = &ch
				}
			}
			r.Checks = append(r.Checks, cr)
		}
	}
	if _, ex, ok := g.Exercise(sub.Exercise); ok {
		if !sub.Terminal() {
			for _, c := range ex.Checks[min(len(r.Checks), len(ex.Checks)):] {
				r.Pending = append(r.Pending, PendingCheck{Name: c.Name, Requirement: c.Requirement, MaxPoints: c.Points})
			}
		}
	}
	return r, nil
}

// Terminal reports whether grading is over.
func (r Result) Terminal() bool { return r.raw.Terminal() }

// BestScores returns a learner's best score per exercise.
func (g *Grader) BestScores(ctx context.Context, userID int64) ([]store.BestScore, error) {
	return g.st.BestScores(ctx, userID)
}

// LabEvidence reports the labs a learner has a graded submission for, for
// the progress checklist.
func (g *Grader) LabEvidence(ctx context.Context, userID int64) (map[string]bool, error) {
	rows, err := g.st.BestScores(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, r := range rows {
		if r.Graded > 0 {
			out[r.Lab] = true
		}
	}
	return out, nil
}
