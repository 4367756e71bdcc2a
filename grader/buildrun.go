package grader

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/archive"
	"github.com/sdworkbook/workbook/internal/sandbox"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/labs"
)

// DefaultBuildTimeout bounds one grading of a learner's own service: the
// image build (at most sandbox.BuildTimeout), the job's containers and
// the suite on real time.
const DefaultBuildTimeout = 8 * time.Minute

// sandboxes connects to the container engine that builds and runs
// learners' services, once, when the first build job needs it; a failure
// is tried again by the next job.
type sandboxes struct {
	mu  sync.Mutex
	eng *sandbox.Engine
}

func (g *Grader) sandbox(ctx context.Context) (*sandbox.Engine, error) {
	g.boxes.mu.Lock()
	defer g.boxes.mu.Unlock()
	if g.boxes.eng != nil {
		return g.boxes.eng, nil
	}
	pg, rd := g.envs.images(ctx)
	eng, err := sandbox.New(ctx, sandbox.Options{Owner: g.envs.owner, Log: g.log, Network: g.envs.network,
		GoImage: g.opts.GoImage, PythonImage: g.opts.PythonImage, RelayImage: g.opts.RelayImage,
		RedisImage: rd, PostgresImage: pg})
	if err != nil {
		return nil, err
	}
	g.boxes.eng = eng
	return eng, nil
}

// buildRun is one grading of a build submission: the learner's sources
// unpacked, built into an image and run as the exercise's services.
type buildRun struct {
	*run
	lab labs.Lab
	ex  labs.Exercise
	// buildLog is the build's output, and job the running services; both
	// are kept with the run.
	buildLog string
	job      *sandbox.Job
}

// runBuild grades the learner's own service: builds it, starts it beside
// its own Redis and PostgreSQL, and runs the exercise's checks on it.
// What the learner's code did wrong (it does not build, never becomes
// ready, crashes) scores with a sentence; only the server's own trouble
// makes a grading not gradable.
func (r *run) runBuild(l labs.Lab, ex labs.Exercise, lastTry bool) error {
	g := r.g
	b := &buildRun{run: r, lab: l, ex: ex}
	jctx, cancel := context.WithTimeout(r.leaseCtx, g.opts.BuildTimeout)
	defer cancel()
	e := env{name: "Built and run in containers, with no network beyond the exercise's own services."}
	fail := func(err error) error {
		return g.infraFailure(r.ctx, jctx, r.log, r.sub, r.finish, r.again, lastTry, e, err)
	}
	eng, err := g.sandbox(jctx)
	if err != nil {
		return fail(fmt.Errorf("%w: no container engine for build exercises: %w", labs.ErrEnvironment, err))
	}
	src, cleanup, refusal, err := b.unpack(jctx)
	defer cleanup()
	if refusal != "" {
		return b.learnerFailed(refusal)
	}
	if err != nil {
		return fail(err)
	}
	img, err := eng.Build(jctx, r.sub.ID, src)
	b.buildLog = img.Log
	var le *sandbox.LearnerError
	if errors.As(err, &le) {
		b.buildLog = le.Log
		return b.learnerFailed(le.Reason)
	}
	if err != nil {
		return fail(err)
	}
	deadline, _ := jctx.Deadline()
	spec := sandbox.JobSpec{ID: r.sub.ID, Image: img, Redis: ex.Build.Redis, Postgres: ex.Build.Postgres,
		Env: ex.Build.Env, Deadline: deadline}
	if ex.Build.Downstream {
		// Each check brings its own dependency (the change "downstream");
		// between checks the service's calls get a plain refusal.
		spec.Downstream = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "no check is running", http.StatusServiceUnavailable)
		})
	}
	b.job, err = eng.StartJob(jctx, spec)
	if err != nil {
		return fail(err)
	}
	defer b.closeJob()
	return b.suite(jctx, fail)
}

// unpack writes the submission's archive into a fresh directory. An
// archive the limits refuse now (they were checked at upload) is the
// learner's: its refusal is the sentence returned.
func (b *buildRun) unpack(ctx context.Context) (src sandbox.Source, cleanup func(), refusal string, err error) {
	cleanup = func() {}
	tmp, err := os.MkdirTemp("", "workbook-build-")
	if err != nil {
		return src, cleanup, "", fmt.Errorf("%w: %w", labs.ErrEnvironment, err)
	}
	cleanup = func() { _ = os.RemoveAll(tmp) }
	dir := filepath.Join(tmp, "src")
	lang, err := b.g.UnpackArchive(ctx, b.sub.ID, dir)
	if e, isApp := apperr.As(err); isApp && e.Code == apperr.Invalid {
		return src, cleanup, "Your archive could not be unpacked: " + e.Message, nil
	}
	if err != nil {
		return src, cleanup, "", fmt.Errorf("%w: %w", labs.ErrEnvironment, err)
	}
	src = sandbox.Source{Dir: dir, Language: lang}
	if lang == archive.LangDockerfile {
		src.Language = ""
	}
	return src, cleanup, "", nil
}

// suite runs the exercise's checks on the job's services and ends the
// run with the verdict, keeping the build and replica logs with it.
func (b *buildRun) suite(ctx context.Context, fail func(error) error) error {
	start := time.Now()
	launcher := sandbox.NewLauncher(b.job, b.ex.Build.Replicas)
	current := ""
	if len(b.ex.Checks) > 0 {
		current = b.ex.Checks[0].Name
	}
	results, err := labs.RunOn(ctx, b.lab, b.ex, nil, launcher, func(i int, c labs.CheckResult) {
		if i+1 < len(b.ex.Checks) {
			current = b.ex.Checks[i+1].Name
		}
		b.recordCheck(ctx, i, c)
	})
	b.saveLogs()
	e := env{name: fmt.Sprintf("Built and run in containers: %s, beside its own %s.", replicasText(b.ex.Build.Replicas), servicesText(b.ex.Build))}
	switch {
	case err == nil:
		score, max := labs.Score(results)
		b.log.Info("build suite finished", "took", time.Since(start).Round(time.Millisecond), "checks", len(results))
		return b.finish(store.Outcome{Status: store.StatusGraded, Score: &score, MaxScore: max, Environment: e.name})
	case b.leaseLost():
		b.log.Warn("run stopped: another worker took it over")
		return nil
	case b.ctx.Err() != nil:
		return b.again(b.ctx.Err())
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return b.finish(b.timedOutBuild(results, current, e))
	default:
		return fail(err)
	}
}

// learnerFailed ends the run graded with no points: the learner's
// service could not be judged for a reason of its own, said in reason.
func (b *buildRun) learnerFailed(reason string) error {
	b.saveLogs()
	zero := 0
	return b.finish(store.Outcome{Status: store.StatusGraded, Score: &zero, MaxScore: b.sub.MaxScore,
		Environment: "Built in a container with no network.",
		Message:     reason + " No check could run, so this attempt scores 0. The build log below says more; fix it and submit again."})
}

// timedOutBuild is the outcome of a build grading stopped at its limit.
func (b *buildRun) timedOutBuild(results []labs.CheckResult, current string, e env) store.Outcome {
	score, _ := labs.Score(results)
	return store.Outcome{Status: store.StatusTimedOut, Score: &score, MaxScore: b.sub.MaxScore, Environment: e.name,
		Message: fmt.Sprintf("Grading stopped at the time limit (%s) with %d of %d checks done; the checks not done score nothing. "+
			"It stopped during %q. A service that keeps requests waiting (long timeouts, slow start-up, slow retries) makes a suite this slow.",
			humanDuration(b.g.opts.BuildTimeout), len(results), len(b.ex.Checks), current),
		StaffDetail: fmt.Sprintf("build job timeout %s during check %q", b.g.opts.BuildTimeout, current)}
}

// saveLogs keeps the build's output and each replica's with the run.
func (b *buildRun) saveLogs() {
	var replicas map[string]string
	if b.job != nil {
		replicas = b.job.Logs()
		delete(replicas, "build")
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(b.ctx), 10*time.Second)
	defer cancel()
	if err := b.g.st.SaveRunLogs(ctx, b.sub.ID, b.sub.Run, b.buildLog, replicas, b.g.now()); err != nil {
		b.log.Warn("keeping the run's logs", "err", err)
	}
}

// closeJob removes everything the job started.
func (b *buildRun) closeJob() {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(b.ctx), 30*time.Second)
	defer cancel()
	if err := b.job.Close(ctx); err != nil {
		b.log.Warn("removing a build job's containers", "err", err)
	}
}

func replicasText(n int) string {
	if n <= 1 {
		return "one replica of your service"
	}
	return fmt.Sprintf("%d replicas of your service", n)
}

func servicesText(b *labs.Build) string {
	var s []string
	if b.Redis {
		s = append(s, "Redis")
	}
	if b.Postgres {
		s = append(s, "PostgreSQL")
	}
	if b.Downstream {
		s = append(s, "dependency")
	}
	switch len(s) {
	case 0:
		return "network"
	case 1:
		return s[0]
	case 2:
		return s[0] + " and " + s[1]
	}
	return s[0] + ", " + s[1] + " and " + s[2]
}
