package grader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/labs"
)

// gradeArgs is a grading job: which submission to grade.
type gradeArgs struct {
	Submission string `json:"submission"`
}

// Kind names the job in the queue's table.
func (gradeArgs) Kind() string { return "grade_submission" }

type worker struct {
	river.WorkerDefaults[gradeArgs]
	g *Grader
}

// NextRetry runs a failed job again soon: the usual reasons (a worker that
// was stopped, an environment that did not start) are brief.
func (w *worker) NextRetry(job *river.Job[gradeArgs]) time.Time {
	return time.Now().Add(time.Duration(job.Attempt) * 2 * time.Second)
}

func (w *worker) Work(ctx context.Context, job *river.Job[gradeArgs]) error {
	return w.g.grade(ctx, job.Args.Submission, job.Attempt >= job.MaxAttempts)
}

// errLeaseLost ends a run whose lease was handed to another worker.
var errLeaseLost = errors.New("the run's lease was taken over by another worker")

// grade runs one grading of submission id. It returns an error only when
// the job should run again (the worker is stopping, or the environment
// failed and tries are left); every other ending records a terminal result.
func (g *Grader) grade(ctx context.Context, id string, lastTry bool) (err error) {
	sub, ok, err := g.st.StartRun(ctx, id, g.opts.ID, g.now(), g.opts.Lease)
	if apperr.Is(err, apperr.NotFound) {
		return nil // the learner's account, and its submissions, are gone
	}
	if err != nil {
		return err
	}
	if !ok {
		// An earlier run recorded the result, or another worker holds a
		// live lease on it (it was queued again after this job's worker
		// was presumed lost): nothing to do here.
		return nil
	}
	log := g.log.With("submission", id, "run", sub.Run, "exercise", sub.Exercise)
	g.publish(ctx, id, "running")

	// The lease is renewed while the run lasts; losing it (this worker was
	// presumed dead and the run handed on) stops the run without a result.
	leaseCtx, loseLease := context.WithCancelCause(ctx)
	defer loseLease(nil)
	stopRenew := g.renewLease(leaseCtx, log, id, sub.Run, loseLease)
	defer stopRenew()

	finish := func(o store.Outcome) error {
		stopRenew()
		if errors.Is(context.Cause(leaseCtx), errLeaseLost) {
			return nil
		}
		o.At = g.now()
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		done, err := g.st.FinishRun(fctx, id, sub.Run, o)
		if err != nil {
			return err
		}
		if done {
			log.Info("submission graded", "status", o.Status, "score", o.Score, "max", o.MaxScore, "environment", o.Environment)
			g.publish(fctx, id, o.Status)
		}
		return nil
	}
	// again gives the run back for the job's next try.
	again := func(cause error) error {
		stopRenew()
		if !errors.Is(context.Cause(leaseCtx), errLeaseLost) {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if err := g.st.ReleaseRun(rctx, id, sub.Run, g.opts.ID); err != nil {
				log.Warn("giving the run back", "err", err)
			}
		}
		return cause
	}
	defer func() {
		if p := recover(); p != nil {
			log.Error("grading panicked", "panic", p, "stack", string(debug.Stack()))
			err = finish(store.Outcome{Status: store.StatusNotGradable, MaxScore: sub.MaxScore,
				Message:     "The grader failed with an internal error, so this design was not graded. It does not count as an attempt: please submit again.",
				StaffDetail: fmt.Sprintf("grader panic: %v", p)})
		}
	}()

	l, ex, found := g.Exercise(sub.Exercise)
	if !found {
		return finish(store.Outcome{Status: store.StatusNotGradable, MaxScore: sub.MaxScore,
			Message: fmt.Sprintf("The exercise %q no longer exists on this server, so this design cannot be graded. It does not count as an attempt.", sub.Exercise)})
	}
	d, ferrs := labs.ParseDesign(l, []byte(sub.Design))
	if len(ferrs) > 0 {
		return finish(store.Outcome{Status: store.StatusNotGradable, MaxScore: sub.MaxScore,
			Message: "The lab's design form changed since this was submitted, so it cannot be graded as it is; it does not count as an attempt. " +
				"Open the exercise and submit your design again.",
			StaffDetail: "design no longer valid: " + describeFields(ferrs)})
	}

	start := time.Now()
	jctx, cancel := context.WithTimeout(leaseCtx, g.opts.JobTimeout)
	defer cancel()
	env, release, err := g.envs.acquire(jctx, id, ex.NeedsDB)
	if err != nil {
		return g.infraFailure(ctx, jctx, log, sub, finish, again, lastTry, env, err)
	}
	defer release()
	if env.detail != "" {
		log.Warn("grading environment", "environment", env.name, "detail", env.detail)
	}
	env.base.Log = log
	current := ""
	if len(ex.Checks) > 0 {
		current = ex.Checks[0].Name
	}
	results, err := labs.Run(jctx, l, ex, d, env.base, func(i int, r labs.CheckResult) {
		if i+1 < len(ex.Checks) {
			current = ex.Checks[i+1].Name
		}
		row := store.SubmissionCheck{SubmissionID: id, Run: sub.Run, Seq: i, Name: r.Name, Requirement: r.Requirement,
			Passed: r.Passed, Points: r.Points, MaxPoints: r.MaxPoints, Message: r.Message, DurationMS: r.DurationMS}
		if r.Chart != nil {
			if b, err := json.Marshal(r.Chart); err == nil {
				row.Chart = string(b)
			}
		}
		if err := g.st.AddCheck(context.WithoutCancel(jctx), row); err != nil {
			log.Warn("recording a check", "err", err)
			return
		}
		g.publish(jctx, id, "check")
	})
	took := time.Since(start)
	switch {
	case err == nil:
		score, max := labs.Score(results)
		log.Info("suite finished", "took", took.Round(time.Millisecond), "checks", len(results))
		return finish(store.Outcome{Status: store.StatusGraded, Score: &score, MaxScore: max, Environment: env.name, StaffDetail: env.detail})
	case errors.Is(context.Cause(leaseCtx), errLeaseLost):
		log.Warn("run stopped: another worker took it over")
		return nil
	case ctx.Err() != nil:
		// The worker is stopping: leave the job to run again elsewhere.
		return again(ctx.Err())
	case errors.Is(err, context.DeadlineExceeded) && jctx.Err() != nil:
		score, _ := labs.Score(results)
		return finish(store.Outcome{Status: store.StatusTimedOut, Score: &score, MaxScore: sub.MaxScore, Environment: env.name,
			Message: fmt.Sprintf("Grading stopped at the time limit (%s) with %d of %d checks done; the checks not done score nothing. "+
				"It stopped during %q. A design that keeps requests waiting (long timeouts, long windows, slow retries) makes a suite this slow: "+
				"shorten those waits and submit again.", humanDuration(g.opts.JobTimeout), len(results), len(ex.Checks), current),
			StaffDetail: joinDetail(env.detail, fmt.Sprintf("job timeout %s during check %q", g.opts.JobTimeout, current))})
	default:
		return g.infraFailure(ctx, jctx, log, sub, finish, again, lastTry, env, err)
	}
}

// renewLease renews the run's lease every third of its length until the
// returned stop is called (safe to call twice); when the run turns out to
// be someone else's, it calls lose.
func (g *Grader) renewLease(ctx context.Context, log interface{ Warn(string, ...any) }, id string, run int, lose context.CancelCauseFunc) (stop func()) {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(g.opts.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			uctx, ucancel := context.WithTimeout(rctx, g.opts.Lease/3)
			ok, err := g.st.RenewLease(uctx, id, run, g.opts.ID, g.now().Add(g.opts.Lease))
			ucancel()
			switch {
			case err != nil:
				if rctx.Err() == nil {
					log.Warn("renewing the grading lease", "err", err)
				}
			case !ok:
				log.Warn("the grading lease was lost: another worker has the run")
				lose(errLeaseLost)
				return
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done }) }
}

// infraFailure handles an environment that failed: the job runs again while
// tries are left; the last try records not gradable, which does not count
// as an attempt.
func (g *Grader) infraFailure(ctx, jctx context.Context, log interface{ Warn(string, ...any) }, sub store.Submission,
	finish func(store.Outcome) error, again func(error) error, lastTry bool, e env, err error) error {
	if ctx.Err() != nil {
		return again(ctx.Err())
	}
	log.Warn("grading environment failed", "err", err, "last_try", lastTry)
	detail := joinDetail(e.detail, short(err))
	if jctx.Err() != nil {
		return finish(store.Outcome{Status: store.StatusTimedOut, MaxScore: sub.MaxScore, Environment: e.name,
			Message: fmt.Sprintf("The grading environment (a fresh Redis and database) was not ready within the time limit (%s), "+
				"so your design was not graded. This is the server's trouble, not your design's: please submit again later.",
				humanDuration(g.opts.JobTimeout)),
			StaffDetail: detail})
	}
	if !lastTry {
		return again(err)
	}
	return finish(store.Outcome{Status: store.StatusNotGradable, MaxScore: sub.MaxScore, Environment: e.name,
		Message: "The grading environment failed three times, so your design could not be graded. This is the server's trouble, not your design's, " +
			"and it does not count as an attempt: please submit again later, and tell your instructor if it keeps happening.",
		StaffDetail: detail})
}

func joinDetail(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

// humanDuration writes a limit as people say it: "90 seconds", "2 minutes".
func humanDuration(d time.Duration) string {
	switch {
	case d >= time.Minute && d%time.Minute == 0:
		if d == time.Minute {
			return "1 minute"
		}
		return fmt.Sprintf("%d minutes", int(d/time.Minute))
	case d >= time.Second:
		return fmt.Sprintf("%d seconds", int(d.Round(time.Second)/time.Second))
	}
	return d.String()
}

func short(err error) string {
	s := err.Error()
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}

func describeFields(f labs.FieldErrors) string {
	s := ""
	for k, v := range f {
		if s != "" {
			s += "; "
		}
		s += k + ": " + v
	}
	return s
}
