package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// Launcher hands a job's services to a lab's checks: it is the
// labs.Launcher of a build exercise. Each Launch starts a fresh service of
// the job's image (fresh replicas, a fresh Redis database number and
// PostgreSQL database); Close stops the services launched so far and
// leaves the job running for the next check (the job's owner closes it).
//
// Launch reads these changes and ignores any other (a design's fields
// mean nothing to a service):
//   - "replicas" (int): how many replicas; default the launcher's.
//   - "downstream" (http.Handler): what answers the service's calls to
//     DOWNSTREAM_URL while this launch runs, in place of the job's own
//     Downstream (a job started without one has no DOWNSTREAM_URL). A
//     launch without it gets the job's own handler back.
//   - "env" (map[string]string): added to the replicas' environment.
//
// Its targets can run replicas, restart (every replica killed, then all
// started again and waited for) and take faults when the job has Redis
// or PostgreSQL: labs.RedisDown pauses Redis and labs.DatabaseDown pauses
// PostgreSQL until healed; other faults are labs.ErrUnsupported.
//
// A failure the learner's service caused is a *LearnerError, which the
// check reports as the service's (labs.ServiceFailure); any other error
// wraps labs.ErrEnvironment.
type Launcher struct {
	job      *Job
	replicas int

	mu       sync.Mutex
	services []*Service
	heals    []func(context.Context) error
}

// NewLauncher launches job's services with replicas replicas unless a
// launch asks for another number.
func NewLauncher(job *Job, replicas int) *Launcher {
	if replicas < 1 {
		replicas = 1
	}
	return &Launcher{job: job, replicas: replicas}
}

// Job is the job the launcher launches in.
func (l *Launcher) Job() *Job { return l.job }

// Launch starts a service (see Launcher) and returns it as a URL target.
func (l *Launcher) Launch(ctx context.Context, changes map[string]any) (labs.Target, error) {
	n := l.replicas
	if v, ok := changes["replicas"]; ok {
		switch v := v.(type) {
		case int:
			n = v
		case int64:
			n = int(v)
		case float64:
			n = int(v)
		default:
			return nil, fmt.Errorf("%w: sandbox: replicas %v is not a number", labs.ErrEnvironment, v)
		}
	}
	if l.job.spec.Downstream != nil {
		h, _ := changes["downstream"].(http.Handler)
		if h == nil {
			h = l.job.spec.Downstream
		}
		l.job.SetDownstream(h)
	}
	env, _ := changes["env"].(map[string]string)
	svc, err := l.job.LaunchEnv(ctx, n, env)
	if err != nil {
		return nil, l.classify(ctx, err)
	}
	l.mu.Lock()
	l.services = append(l.services, svc)
	l.mu.Unlock()
	return &labs.URLTarget{
		Base:      svc.Base,
		HTTP:      &http.Client{Timeout: 30 * time.Second, Transport: l.job.clientTransport()},
		Caps:      l.caps(),
		OnRestart: func(ctx context.Context) error { return l.classify(ctx, svc.Restart(ctx)) },
		OnInject:  l.inject,
	}, nil
}

// classify wraps an error that is neither the learner's nor the context's
// as the environment's.
func (l *Launcher) classify(ctx context.Context, err error) error {
	if err == nil || IsLearner(err) || errors.Is(err, labs.ErrEnvironment) {
		return err
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return err
	}
	return fmt.Errorf("%w: %w", labs.ErrEnvironment, err)
}

func (l *Launcher) caps() []labs.Capability {
	caps := []labs.Capability{labs.Replicas, labs.Restart}
	if l.job.deps[DepRedis] != nil || l.job.deps[DepPostgres] != nil {
		caps = append(caps, labs.Faults)
	}
	return caps
}

// Can reports what its targets can do.
func (l *Launcher) Can(c labs.Capability) bool {
	for _, have := range l.caps() {
		if have == c {
			return true
		}
	}
	return false
}

// inject pauses Redis or PostgreSQL; the heal is also called by Close if
// the check did not.
func (l *Launcher) inject(ctx context.Context, f labs.Fault) (func(context.Context) error, error) {
	var dep string
	switch f.Kind {
	case labs.RedisDown:
		dep = DepRedis
	case labs.DatabaseDown:
		dep = DepPostgres
	default:
		return nil, labs.ErrUnsupported
	}
	if l.job.deps[dep] == nil {
		return nil, labs.ErrUnsupported
	}
	heal, err := l.job.Pause(ctx, dep)
	if err != nil {
		return nil, l.classify(ctx, err)
	}
	l.mu.Lock()
	l.heals = append(l.heals, heal)
	l.mu.Unlock()
	return func(ctx context.Context) error { return l.classify(ctx, heal(ctx)) }, nil
}

// Close heals what was injected and stops the services launched so far;
// the job stays.
func (l *Launcher) Close(ctx context.Context) error {
	l.mu.Lock()
	heals, services := l.heals, l.services
	l.heals, l.services = nil, nil
	l.mu.Unlock()
	var errs []error
	for _, h := range heals {
		errs = append(errs, h(ctx))
	}
	for _, s := range services {
		errs = append(errs, s.Close(ctx))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", labs.ErrEnvironment, err)
	}
	return nil
}
