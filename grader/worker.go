package grader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
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

// grade runs one grading of submission id. It returns an error only when
// the job should run again (the worker is stopping, or the environment
// failed and tries are left); every other ending records a terminal result.
func (g *Grader) grade(ctx context.Context, id string, lastTry bool) (err error) {
	sub, ok, err := g.st.StartRun(ctx, id, g.now())
	if apperr.Is(err, apperr.NotFound) {
		return nil // the learner's account, and its submissions, are gone
	}
	if err != nil {
		return err
	}
	if !ok {
		return nil // an earlier run of this job recorded the result
	}
	log := g.log.With("submission", id, "run", sub.Run, "exercise", sub.Exercise)
	g.publish(ctx, id, "running")
	finish := func(o store.Outcome) error {
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
	defer func() {
		if p := recover(); p != nil {
			log.Error("grading panicked", "panic", p, "stack", string(debug.Stack()))
			err = finish(store.Outcome{Status: store.StatusNotGradable, MaxScore: sub.MaxScore,
				Message: "The grader failed with an internal error; this submission does not count as an attempt. Please submit again."})
		}
	}()

	l, ex, found := g.Exercise(sub.Exercise)
	if !found {
		return finish(store.Outcome{Status: store.StatusNotGradable, MaxScore: sub.MaxScore,
			Message: fmt.Sprintf("The exercise %q no longer exists on this server.", sub.Exercise)})
	}
	d, ferrs := labs.ParseDesign(l, []byte(sub.Design))
	if len(ferrs) > 0 {
		return finish(store.Outcome{Status: store.StatusNotGradable, MaxScore: sub.MaxScore,
			Message: "The lab's design fields changed since this was submitted: " + describeFields(ferrs)})
	}

	start := time.Now()
	jctx, cancel := context.WithTimeout(ctx, g.opts.JobTimeout)
	defer cancel()
	env, release, err := g.envs.acquire(jctx, ex.NeedsDB)
	if err != nil {
		return g.infraFailure(ctx, jctx, log, sub, finish, lastTry, "", err)
	}
	defer release()
	env.base.Log = log
	results, err := labs.Run(jctx, l, ex, d, env.base, func(i int, r labs.CheckResult) {
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
		return finish(store.Outcome{Status: store.StatusGraded, Score: &score, MaxScore: max, Environment: env.name})
	case ctx.Err() != nil:
		// The worker is stopping: leave the job to run again elsewhere.
		return ctx.Err()
	case errors.Is(err, context.DeadlineExceeded) && jctx.Err() != nil:
		score, _ := labs.Score(results)
		return finish(store.Outcome{Status: store.StatusTimedOut, Score: &score, MaxScore: sub.MaxScore, Environment: env.name,
			Message: fmt.Sprintf("Grading stopped at the %s limit with %d of %d checks done; the rest score nothing. "+
				"A design whose requests wait a long time (long timeouts, long windows) can make a suite this slow.",
				g.opts.JobTimeout, len(results), len(ex.Checks))})
	default:
		return g.infraFailure(ctx, jctx, log, sub, finish, lastTry, env.name, err)
	}
}

// infraFailure handles an environment that failed: the job runs again while
// tries are left; the last try records not gradable, which does not count
// as an attempt.
func (g *Grader) infraFailure(ctx, jctx context.Context, log interface{ Warn(string, ...any) }, sub store.Submission,
	finish func(store.Outcome) error, lastTry bool, envName string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	log.Warn("grading environment failed", "err", err, "last_try", lastTry)
	if jctx.Err() != nil {
		return finish(store.Outcome{Status: store.StatusTimedOut, MaxScore: sub.MaxScore, Environment: envName,
			Message: fmt.Sprintf("The grading environment was not ready within the %s limit: %v", g.opts.JobTimeout, short(err))})
	}
	if !lastTry {
		return err
	}
	return finish(store.Outcome{Status: store.StatusNotGradable, MaxScore: sub.MaxScore, Environment: envName,
		Message: "The grading environment failed, so the design could not be graded; this does not count as an attempt. " +
			"Reason: " + short(err)})
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
