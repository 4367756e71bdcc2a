package labs

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"
)

// Graded is a lab with exercises: requirement cards whose check suites the
// grader runs against a submitted design.
type Graded interface {
	Exercises() []Exercise
}

// ExercisesOf lists a lab's exercises, or none.
func ExercisesOf(l Lab) []Exercise {
	if g, ok := l.(Graded); ok {
		return g.Exercises()
	}
	return nil
}

// Exercise is a graded task on a lab: a requirements card and the checks
// that verify a design meets it.
type Exercise struct {
	ID    string `json:"id"` // unique across labs: [a-z0-9-]+
	Lab   string `json:"lab"`
	Title string `json:"title"`
	// Step is a design exercise's rung on its lab's ladder: 1 is the first
	// step, and each lab's design exercises take steps 1..n without gaps
	// (the registry refuses anything else). A build exercise is off the
	// ladder and keeps Step 0.
	Step int `json:"step"`
	// Card is the requirements card, one requirement per line.
	Card []string `json:"card"`
	// Scale says how the requirements were scaled in time so the suite
	// finishes in seconds ("" when they were not).
	Scale string `json:"scale,omitempty"`
	// Hint points at what to read before designing.
	Hint string `json:"hint,omitempty"`
	// NeedsDB asks the grader for a database (PostgreSQL in containers),
	// not only Redis.
	NeedsDB bool    `json:"needs_db"`
	Checks  []Check `json:"checks"`
	// Build makes this a build exercise: the learner's own service, built
	// from an archive and run in containers, is what the checks judge.
	// Nil for a design exercise.
	Build *Build `json:"-"`
	// References are designs whose verdicts are known: the lab's good
	// design and the classic mistakes, each with the checks it fails. The
	// grading stability test grades each one on a loaded machine and
	// expects exactly these failures every time. Never shown to learners.
	References []Reference `json:"-"`
}

// Reference is a design with a known verdict.
type Reference struct {
	Name string
	// Design holds changes to the lab's defaults (values in the design's
	// own types).
	Design Design
	// Fails names the checks this design fails; empty for a good design.
	Fails []string
}

// MaxScore is the sum of the checks' points.
func (e Exercise) MaxScore() int {
	n := 0
	for _, c := range e.Checks {
		n += c.Points
	}
	return n
}

// Check is one property of a design, verified by running it.
type Check struct {
	Name        string `json:"name"`
	Requirement string `json:"requirement"`
	// Points is what passing earns; 0 for a check that only reports a
	// measurement (it passes unless the environment failed).
	Points int `json:"points"`
	// Run exercises instances launched through t and says what it saw.
	Run func(ctx context.Context, t *Trial) Outcome `json:"-"`
}

// Outcome is what a check observed.
type Outcome struct {
	Passed bool
	// Message explains the result with the observed numbers.
	Message string
	Chart   *CheckChart
	// Err is a failure of the environment, not of the design (Redis did
	// not answer, an instance could not be built): the submission is then
	// not gradable rather than failed.
	Err error
	// Skipped: the target lacks a capability the check needs (Skip); the
	// check counts neither way, and Message says why.
	Skipped bool
}

// Pass and Fail build outcomes with a formatted message.
func Pass(format string, args ...any) Outcome {
	return Outcome{Passed: true, Message: fmt.Sprintf(format, args...)}
}

// Fail is an outcome that did not meet the requirement.
func Fail(format string, args ...any) Outcome {
	return Outcome{Message: fmt.Sprintf(format, args...)}
}

// Skip is the outcome of a check the target cannot take: it lacks a
// capability the check needs. The message tells the learner which.
func Skip(format string, args ...any) Outcome {
	return Outcome{Skipped: true, Message: fmt.Sprintf(format, args...)}
}

// Broken is an outcome for an environment failure.
func Broken(err error) Outcome { return Outcome{Err: err} }

// CheckChart is a small chart of what a check observed, drawn under its
// result: one x axis, one or more series.
type CheckChart struct {
	Title  string        `json:"title"`
	XLabel string        `json:"x_label"`
	YLabel string        `json:"y_label"`
	X      []float64     `json:"x"`
	Series []ChartSeries `json:"series"`
	// Limit, when set, is drawn as a horizontal line: the requirement.
	Limit *float64 `json:"limit,omitempty"`
}

// ChartSeries is one line of a check chart.
type ChartSeries struct {
	Name   string    `json:"name"`
	Values []float64 `json:"values"`
}

// CheckResult is a check's result, as the grader stores and shows it.
type CheckResult struct {
	Name        string      `json:"name"`
	Requirement string      `json:"requirement"`
	Passed      bool        `json:"passed"`
	Points      int         `json:"points"`
	MaxPoints   int         `json:"max_points"`
	Message     string      `json:"message"`
	DurationMS  float64     `json:"duration_ms"`
	Chart       *CheckChart `json:"chart,omitempty"`
	// Skipped checks earn nothing and cost nothing: MaxPoints is 0.
	Skipped bool `json:"skipped,omitempty"`
}

// ErrEnvironment marks an error as the grading environment's fault.
var ErrEnvironment = errors.New("grading environment failed")

// Run runs an exercise's checks, in order, against design d on base (whose
// Redis, DB, Dialect and Log are used; Instance, Prefix and Metrics are set
// per instance). onCheck, when set, hears each result as it is made. It
// returns early with an error wrapping ErrEnvironment when the environment
// fails, or ctx's error when ctx ends.
func Run(ctx context.Context, l Lab, ex Exercise, d Design, base Env, onCheck func(i int, r CheckResult)) ([]CheckResult, error) {
	return runAll(ctx, ex, onCheck, func() *Trial { return &Trial{Lab: l, Design: d, base: base} })
}

// RunOn runs an exercise's checks as Run does, against targets launcher
// starts (stopped after each check) instead of in-process instances.
func RunOn(ctx context.Context, l Lab, ex Exercise, d Design, launcher Launcher, onCheck func(i int, r CheckResult)) ([]CheckResult, error) {
	return runAll(ctx, ex, onCheck, func() *Trial { return NewTrial(l, d, launcher) })
}

func runAll(ctx context.Context, ex Exercise, onCheck func(int, CheckResult), trial func() *Trial) ([]CheckResult, error) {
	var out []CheckResult
	for i, c := range ex.Checks {
		r, err := RunCheckOn(ctx, c, trial())
		if err != nil {
			return out, err
		}
		out = append(out, r)
		if onCheck != nil {
			onCheck(i, r)
		}
	}
	return out, nil
}

// RunCheck runs one check on fresh instances and closes them afterwards.
func RunCheck(ctx context.Context, l Lab, c Check, d Design, base Env) (CheckResult, error) {
	return RunCheckOn(ctx, c, &Trial{Lab: l, Design: d, base: base})
}

// closeWait bounds stopping a check's targets.
const closeWait = time.Minute

// RunCheckOn runs one check on trial t and stops its targets afterwards.
func RunCheckOn(ctx context.Context, c Check, t *Trial) (res CheckResult, err error) {
	if err := ctx.Err(); err != nil {
		return CheckResult{}, err
	}
	start := time.Now()
	var o Outcome
	func() {
		defer func() {
			if p := recover(); p != nil {
				o = Broken(fmt.Errorf("check %q panicked: %v\n%s", c.Name, p, debug.Stack()))
			}
		}()
		o = c.Run(ctx, t)
	}()
	elapsed := time.Since(start)
	// A busy container engine may take many seconds to remove a learner's
	// replicas; waiting for it changes nothing in the verdict.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeWait)
	closeErr := t.closeAll(cctx)
	cancel()
	if err := ctx.Err(); err != nil {
		return CheckResult{}, err
	}
	if o.Err != nil && t.launcher != nil {
		o = serviceOutcome(o.Err)
	}
	if o.Err != nil {
		return CheckResult{}, fmt.Errorf("%w: %s: %w", ErrEnvironment, c.Name, o.Err)
	}
	if closeErr != nil {
		return CheckResult{}, fmt.Errorf("%w: %s: closing instances: %w", ErrEnvironment, c.Name, closeErr)
	}
	res = CheckResult{Name: c.Name, Requirement: c.Requirement, Passed: o.Passed && !o.Skipped, MaxPoints: c.Points,
		Message: o.Message, DurationMS: float64(elapsed.Microseconds()) / 1000, Chart: o.Chart, Skipped: o.Skipped}
	switch {
	case o.Skipped:
		res.MaxPoints = 0
	case o.Passed:
		res.Points = c.Points
	}
	return res, nil
}

// Score sums points earned and available.
func Score(rs []CheckResult) (score, max int) {
	for _, r := range rs {
		score += r.Points
		max += r.MaxPoints
	}
	return score, max
}
