package grader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/labs"
)

// run is one grading run of a submission: the lease it holds while it
// lasts, and the two ways it ends, with an outcome or given back.
type run struct {
	g   *Grader
	ctx context.Context // the worker's
	// leaseCtx ends when the lease is lost: this worker was presumed dead
	// and the run handed on, so it stops without a result.
	leaseCtx  context.Context
	loseLease context.CancelCauseFunc
	stopRenew func()
	sub       store.Submission
	log       *slog.Logger
	started   time.Time
}

// startRun announces the run and keeps its lease renewed until end.
func (g *Grader) startRun(ctx context.Context, sub store.Submission) *run {
	r := &run{g: g, ctx: ctx, sub: sub, started: time.Now(),
		log: g.log.With("submission", sub.ID, "run", sub.Run, "exercise", sub.Exercise)}
	g.publish(ctx, sub.ID, "running")
	r.leaseCtx, r.loseLease = context.WithCancelCause(ctx)
	r.stopRenew = g.renewLease(r.leaseCtx, r.log, sub.ID, sub.Run, r.loseLease)
	return r
}

// end stops renewing the lease.
func (r *run) end() {
	r.stopRenew()
	r.loseLease(nil)
}

// leaseLost reports whether another worker took the run over.
func (r *run) leaseLost() bool { return errors.Is(context.Cause(r.leaseCtx), errLeaseLost) }

// finish records the run's outcome, unless the lease was lost.
func (r *run) finish(o store.Outcome) error {
	r.stopRenew()
	if r.leaseLost() {
		return nil
	}
	o.At = r.g.now()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 10*time.Second)
	defer cancel()
	done, err := r.g.st.FinishRun(fctx, r.sub.ID, r.sub.Run, o)
	if err != nil {
		return err
	}
	if done {
		attrs := []any{"status", o.Status, "max", o.MaxScore, "environment", o.Environment}
		if o.Score != nil {
			attrs = append(attrs, "score", *o.Score)
		}
		r.log.Info("submission graded", attrs...)
		r.g.publish(fctx, r.sub.ID, o.Status)
		if h := r.g.opts.Hooks.Graded; h != nil {
			h(r.sub.Exercise, o.Status, time.Since(r.started))
		}
	}
	return nil
}

// again gives the run back for the job's next try.
func (r *run) again(cause error) error {
	r.stopRenew()
	if !r.leaseLost() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), 10*time.Second)
		defer cancel()
		if err := r.g.st.ReleaseRun(rctx, r.sub.ID, r.sub.Run, r.g.opts.ID); err != nil {
			r.log.Warn("giving the run back", "err", err)
		}
	}
	return cause
}

// gradable finds the submission's exercise and reads its design; when
// either cannot be, the outcome that says so.
func (g *Grader) gradable(sub store.Submission) (labs.Lab, labs.Exercise, labs.Design, *store.Outcome) {
	l, ex, found := g.Exercise(sub.Exercise)
	if !found {
		return l, ex, nil, &store.Outcome{Status: store.StatusNotGradable, MaxScore: sub.MaxScore,
			Message: fmt.Sprintf("The exercise %q no longer exists on this server, so this design cannot be graded. It does not count as an attempt.", sub.Exercise)}
	}
	if ex.Build != nil {
		return l, ex, nil, nil // the learner's own service: no design to read
	}
	d, ferrs := labs.ParseDesign(l, []byte(sub.Design))
	if len(ferrs) > 0 {
		return l, ex, nil, &store.Outcome{Status: store.StatusNotGradable, MaxScore: sub.MaxScore,
			Message: "The lab's design form changed since this was submitted, so it cannot be graded as it is; it does not count as an attempt. " +
				"Open the exercise and submit your design again.",
			StaffDetail: "design no longer valid: " + describeFields(ferrs)}
	}
	return l, ex, d, nil
}

// runSuite grades the design in a fresh environment within the job's
// time limit, recording each check as it finishes, and ends the run with
// the verdict.
func (r *run) runSuite(l labs.Lab, ex labs.Exercise, d labs.Design, lastTry bool) error {
	g := r.g
	start := time.Now()
	jctx, cancel := context.WithTimeout(r.leaseCtx, g.opts.JobTimeout)
	defer cancel()
	env, release, err := g.envs.acquire(jctx, r.sub.ID, ex.NeedsDB)
	if err != nil {
		return g.infraFailure(r.ctx, jctx, r.log, r.sub, r.finish, r.again, lastTry, env, err)
	}
	if h := g.opts.Hooks.EnvironmentStarted; h != nil {
		h(env.kind, time.Since(start))
	}
	defer release()
	if env.detail != "" {
		r.log.Warn("grading environment", "environment", env.name, "detail", env.detail)
	}
	env.base.Log = r.log
	current := ""
	if len(ex.Checks) > 0 {
		current = ex.Checks[0].Name
	}
	results, err := labs.Run(jctx, l, ex, d, env.base, func(i int, c labs.CheckResult) {
		if i+1 < len(ex.Checks) {
			current = ex.Checks[i+1].Name
		}
		r.recordCheck(jctx, i, c)
	})
	switch {
	case err == nil:
		score, max := labs.Score(results)
		r.log.Info("suite finished", "took", time.Since(start).Round(time.Millisecond), "checks", len(results))
		return r.finish(store.Outcome{Status: store.StatusGraded, Score: &score, MaxScore: max, Environment: env.name, StaffDetail: env.detail})
	case r.leaseLost():
		r.log.Warn("run stopped: another worker took it over")
		return nil
	case r.ctx.Err() != nil:
		// The worker is stopping: leave the job to run again elsewhere.
		return r.again(r.ctx.Err())
	case errors.Is(err, context.DeadlineExceeded) && jctx.Err() != nil:
		return r.finish(r.timedOut(results, len(ex.Checks), current, env))
	default:
		return g.infraFailure(r.ctx, jctx, r.log, r.sub, r.finish, r.again, lastTry, env, err)
	}
}

// recordCheck stores one finished check and tells the learner's page.
func (r *run) recordCheck(ctx context.Context, i int, c labs.CheckResult) {
	row := store.SubmissionCheck{SubmissionID: r.sub.ID, Run: r.sub.Run, Seq: i, Name: c.Name, Requirement: c.Requirement,
		Passed: c.Passed, Points: c.Points, MaxPoints: c.MaxPoints, Message: c.Message, DurationMS: c.DurationMS, Skipped: c.Skipped}
	if c.Chart != nil {
		if b, err := json.Marshal(c.Chart); err == nil {
			row.Chart = string(b)
		}
	}
	if err := r.g.st.AddCheck(context.WithoutCancel(ctx), row); err != nil {
		r.log.Warn("recording a check", "err", err)
		return
	}
	r.g.publish(ctx, r.sub.ID, "check")
}

// timedOut is the outcome of a suite stopped at the job's time limit:
// the checks done score, the others nothing.
func (r *run) timedOut(results []labs.CheckResult, checks int, current string, env env) store.Outcome {
	score, _ := labs.Score(results)
	timeout := r.g.opts.JobTimeout
	return store.Outcome{Status: store.StatusTimedOut, Score: &score, MaxScore: r.sub.MaxScore, Environment: env.name,
		Message: fmt.Sprintf("Grading stopped at the time limit (%s) with %d of %d checks done; the checks not done score nothing. "+
			"It stopped during %q. A design that keeps requests waiting (long timeouts, long windows, slow retries) makes a suite this slow: "+
			"shorten those waits and submit again.", humanDuration(timeout), len(results), checks, current),
		StaffDetail: joinDetail(env.detail, fmt.Sprintf("job timeout %s during check %q", timeout, current))}
}
