package labtest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// ServiceLauncher runs a lab's design as a learner's service runs: each
// target is an instance behind a real HTTP server on loopback, on real
// time, reached only by its base URL (a labs.URLTarget), so the checks
// that grade a learner's service in the sandbox can be proven on the
// lab's own designs.
type ServiceLauncher struct {
	Lab labs.Lab
	// Env is the environment every launch starts from; each gets its own
	// Instance, Prefix and Metrics.
	Env    labs.Env
	Design labs.Design
	// Replicas: the targets can run as replicas (the design's "replicas").
	Replicas bool
	// Restart: a check may restart a target, as a crash would: the
	// instance halts (it must be a labs.Halter) and another is built on
	// the same environment behind the same address.
	Restart bool
	// Hide, when set, answers 404 for the requests it matches, as a
	// service without those routes would.
	Hide func(*http.Request) bool

	mu       sync.Mutex
	n        int
	services []*service
}

// service is one launched target.
type service struct {
	srv     *httptest.Server
	env     labs.Env
	design  labs.Design
	current atomic.Pointer[labs.Instance]
}

// Launch builds an instance of the design with changes applied and serves
// it on loopback.
func (l *ServiceLauncher) Launch(ctx context.Context, changes map[string]any) (labs.Target, error) {
	d := maps.Clone(l.Design)
	maps.Copy(d, changes)
	l.mu.Lock()
	l.n++
	env := l.Env
	env.Instance = l.Env.Instance + "svc" + strconv.Itoa(l.n) // ids are [a-z0-9]
	l.mu.Unlock()
	env.Prefix = "lab:" + env.Instance + ":"
	env.Metrics = labs.NewMetrics(time.Now)
	inst, err := l.Lab.New(ctx, env, d)
	if err != nil {
		env.Metrics.Close()
		return nil, err
	}
	s := &service{env: env, design: d}
	s.current.Store(&inst)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if l.Hide != nil && l.Hide(r) {
			http.NotFound(w, r)
			return
		}
		(*s.current.Load()).Handler().ServeHTTP(w, r)
	}))
	l.mu.Lock()
	l.services = append(l.services, s)
	l.mu.Unlock()
	tg := &labs.URLTarget{Base: s.srv.URL, HTTP: s.srv.Client()}
	if l.Replicas {
		tg.Caps = append(tg.Caps, labs.Replicas)
	}
	if l.Restart {
		tg.Caps = append(tg.Caps, labs.Restart)
		tg.OnRestart = func(ctx context.Context) error { return s.restart(ctx, l.Lab) }
	}
	return tg, nil
}

// restart halts the instance and builds another on its rows and keys.
func (s *service) restart(ctx context.Context, lab labs.Lab) error {
	h, ok := (*s.current.Load()).(labs.Halter)
	if !ok {
		return fmt.Errorf("labtest: a %s instance cannot halt", lab.Info().ID)
	}
	if err := h.Halt(ctx); err != nil {
		return err
	}
	inst, err := lab.New(ctx, s.env, s.design)
	if err != nil {
		return err
	}
	s.current.Store(&inst)
	return nil
}

// Can reports the capabilities the launcher was given.
func (l *ServiceLauncher) Can(c labs.Capability) bool {
	return (c == labs.Replicas && l.Replicas) || (c == labs.Restart && l.Restart)
}

// Close stops every target launched so far.
func (l *ServiceLauncher) Close(ctx context.Context) error {
	l.mu.Lock()
	services := l.services
	l.services = nil
	l.mu.Unlock()
	var errs []error
	for _, s := range services {
		s.srv.Close()
		errs = append(errs, (*s.current.Load()).Close(ctx))
		s.env.Metrics.Close()
	}
	return errors.Join(errs...)
}
