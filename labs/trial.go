package labs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Trial is what a check runs against: it starts targets of the submitted
// design (Start) on the grading environment and stops them when the check
// ends.
type Trial struct {
	Lab    Lab
	Design Design
	// Clock, when set, is handed to every instance started from here on.
	// A check sets it through Timeline.
	Clock    Clock
	base     Env
	launcher Launcher
	probes   []*Probe
}

// Launcher starts targets for a trial in place of in-process instances:
// the learner's own service in containers, say.
type Launcher interface {
	// Launch starts the design under test with changes (design fields,
	// and "replicas" when it can run several). It runs on real time.
	Launch(ctx context.Context, changes map[string]any) (Target, error)
	// Can reports what its targets can do; ManualTime is never among it.
	Can(c Capability) bool
	// Close stops every target it launched.
	Close(ctx context.Context) error
}

// NewTrial is a trial of design d of lab l on targets from launcher.
func NewTrial(l Lab, d Design, launcher Launcher) *Trial {
	return &Trial{Lab: l, Design: d, launcher: launcher}
}

// Can reports what the targets this trial starts can do before one is
// started: ManualTime and Replicas. Restart and Faults are the target's
// (Target.Can).
func (t *Trial) Can(c Capability) bool {
	if t.launcher != nil {
		return c != ManualTime && t.launcher.Can(c)
	}
	switch c {
	case ManualTime:
		return true
	case Replicas:
		return slices.ContainsFunc(t.Lab.Fields(), func(f Field) bool { return f.Name == "replicas" })
	}
	return false
}

// Timeline is the time the trial's targets run on: a manual clock
// starting at start when they can run on one (every target started
// afterwards shares it), or real time.
func (t *Trial) Timeline(start time.Time) Timeline {
	if !t.Can(ManualTime) {
		return RealTime{}
	}
	if mc, ok := t.Clock.(*ManualClock); ok {
		return mc
	}
	mc := NewManualClock(start)
	t.Clock = mc
	return mc
}

// Start starts a target of the design with changes applied (values in the
// design's own types: int, float64, bool, string).
func (t *Trial) Start(ctx context.Context, changes map[string]any) (Target, error) {
	if t.launcher != nil {
		return t.launcher.Launch(ctx, changes)
	}
	p, err := t.launch(ctx, changes)
	if err != nil {
		return nil, err
	}
	return p.Target(), nil
}

// launch builds a fresh in-process instance of the design with changes
// applied. Each instance has its own id, key prefix and rows.
func (t *Trial) launch(ctx context.Context, changes map[string]any) (*Probe, error) {
	d := maps.Clone(t.Design)
	maps.Copy(d, changes)
	env := t.base
	env.Instance = newID()
	env.Prefix = "lab:" + env.Instance + ":"
	env.Metrics = NewMetrics(time.Now, countSeries(t.Lab)...)
	if env.Log == nil {
		env.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if t.Clock != nil {
		env.Clock = t.Clock
	}
	if env.Clock != nil {
		env.Now = env.Clock.Now
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	inst, err := t.Lab.New(ctx, env, d)
	if err != nil {
		env.Metrics.Close()
		return nil, err
	}
	p := &Probe{Instance: inst, Metrics: env.Metrics, Design: d, Env: env, lab: t.Lab}
	t.probes = append(t.probes, p)
	return p, nil
}

// countSeries are the series of a lab's count charts.
func countSeries(l Lab) []string {
	var series []string
	for _, c := range l.Info().Charts {
		if c.Kind == "count" {
			series = append(series, c.Series...)
		}
	}
	return series
}

func (t *Trial) closeAll(ctx context.Context) error {
	var errs []error
	for _, p := range t.probes {
		if err := p.Instance.Close(ctx); err != nil {
			errs = append(errs, err)
		}
		p.Metrics.Close()
	}
	t.probes = nil
	if t.launcher != nil {
		errs = append(errs, t.launcher.Close(ctx))
	}
	return errors.Join(errs...)
}

// Probe is an in-process instance a check drives through its HTTP routes,
// as a learner's browser would: the Target of a built-in design.
type Probe struct {
	Instance Instance
	Metrics  *Metrics
	Design   Design
	Env      Env
	lab      Lab

	mu sync.Mutex // guards Instance across Restart
}

// Halter is an instance that can stop as a killed process stops: its
// background work ends and its memory is lost, but its Redis keys and rows
// stay for the instance started after it. An in-process target can
// Restart an instance that is one.
type Halter interface {
	Halt(ctx context.Context) error
}

// FaultInjector is an instance that can make its own infrastructure fail;
// an in-process target can Inject faults into one.
type FaultInjector interface {
	Inject(ctx context.Context, f Fault) (heal func(context.Context) error, err error)
}

// Target is the probe as a check's Target.
func (p *Probe) Target() Target { return inProcess{p} }

// inProcess is a Probe as a Target: its Design is a method.
type inProcess struct{ *Probe }

// Design is the design the instance was built from.
func (t inProcess) Design() Design { return t.Probe.Design }

// routes is the handler of the probe's current instance (it changes on
// Restart, or when a check swaps Instance itself).
func (p *Probe) routes() http.Handler {
	p.mu.Lock()
	inst := p.Instance
	p.mu.Unlock()
	return inst.Handler()
}

// Client calls the instance's handler directly.
func (p *Probe) Client() *http.Client {
	return &http.Client{Transport: handlerTransport{handler: p.routes}, CheckRedirect: noRedirects}
}

// URL is path on the instance's in-process address.
func (p *Probe) URL(path string) string {
	return "http://" + p.Env.Instance + ".lab.internal/" + strings.TrimPrefix(path, "/")
}

// Timeline is the instance's manual clock, or real time.
func (p *Probe) Timeline() Timeline {
	if mc, ok := p.Env.Clock.(*ManualClock); ok {
		return mc
	}
	return RealTime{}
}

// Can reports what the instance can do: run on a manual clock, as
// replicas when its lab has a replicas field, restart when it is a Halter
// and take faults when it is a FaultInjector.
func (p *Probe) Can(c Capability) bool {
	switch c {
	case ManualTime:
		_, ok := p.Env.Clock.(*ManualClock)
		return ok
	case Replicas:
		return p.lab != nil && slices.ContainsFunc(p.lab.Fields(), func(f Field) bool { return f.Name == "replicas" })
	case Restart:
		_, ok := p.Instance.(Halter)
		return ok && p.lab != nil
	case Faults:
		_, ok := p.Instance.(FaultInjector)
		return ok
	}
	return false
}

// Restart halts the instance and builds the design again on the same
// environment (same id, keys and rows).
func (p *Probe) Restart(ctx context.Context) error {
	h, ok := p.Instance.(Halter)
	if !ok || p.lab == nil {
		return ErrUnsupported
	}
	if err := h.Halt(ctx); err != nil {
		return err
	}
	inst, err := p.lab.New(ctx, p.Env, p.Design)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.Instance = inst
	p.mu.Unlock()
	return nil
}

// Inject hands f to the instance.
func (p *Probe) Inject(ctx context.Context, f Fault) (func(context.Context) error, error) {
	fi, ok := p.Instance.(FaultInjector)
	if !ok {
		return nil, ErrUnsupported
	}
	return fi.Inject(ctx, f)
}
