package grader

import (
	"context"
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

// grade runs submission id's suite once and records the outcome; an
// error gives the job back to the queue for another try.
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
	r := g.startRun(ctx, sub)
	defer r.end()
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("grading panicked", "panic", p, "stack", string(debug.Stack()))
			err = r.finish(store.Outcome{Status: store.StatusNotGradable, MaxScore: sub.MaxScore,
				Message:     "The grader failed with an internal error, so this design was not graded. It does not count as an attempt: please submit again.",
				StaffDetail: fmt.Sprintf("grader panic: %v", p)})
		}
	}()
	l, ex, d, refused := g.gradable(sub)
	switch {
	case refused != nil:
		return r.finish(*refused)
	case ex.Build != nil:
		return r.runBuild(l, ex, lastTry)
	}
	return r.runSuite(l, ex, d, lastTry)
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
