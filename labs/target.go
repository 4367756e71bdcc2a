package labs

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"time"
)

// Target is the design under test as a check reaches it: over HTTP only,
// through the routes of the lab's contract ("/request?key=a"). A built-in
// design is an in-process target (a Probe: its client calls the
// instance's handler directly, no sockets); a learner's own service is a
// URLTarget. What a check needs to observe must be an HTTP endpoint of
// the contract, never a Go value of the instance, so the same check
// grades both.
//
// What not every target can do is a Capability: a check asks Can first,
// and skips (Skip) or adapts with a message the learner reads.
type Target interface {
	// Client sends requests to the target. It never follows redirects.
	Client() *http.Client
	// URL is the absolute URL of path, relative to the lab's routes.
	URL(path string) string
	// Design is the design the target was built from; nil for a service
	// that is not built from one.
	Design() Design
	// Timeline is the time the target decides by, as the check sees it:
	// a manual clock the check moves (Can(ManualTime)), or real time.
	Timeline() Timeline
	// Can reports whether the target can do c.
	Can(c Capability) bool
	// Restart stops the design as a crash would (memory lost, background
	// work gone) and starts it again on the same Redis keys and rows.
	// ErrUnsupported unless Can(Restart).
	Restart(ctx context.Context) error
	// Inject makes f happen until heal is called. ErrUnsupported unless
	// Can(Faults).
	Inject(ctx context.Context, f Fault) (heal func(context.Context) error, err error)
}

// Capability is something beyond HTTP a check may ask of a target.
type Capability string

// The capabilities.
const (
	// ManualTime: the design decides by a clock the check moves, so a
	// verdict about time never depends on the machine. Only in-process
	// designs can; a service runs on real time.
	ManualTime Capability = "manual_time"
	// Replicas: the design can run as several replicas behind one address
	// (launched with the change "replicas": n).
	Replicas Capability = "replicas"
	// Restart: Target.Restart.
	Restart Capability = "restart"
	// Faults: Target.Inject.
	Faults Capability = "faults"
)

// ErrUnsupported is what a target answers when asked for a capability it
// lacks.
var ErrUnsupported = errors.New("the target under test cannot do this")

// Fault is an injected failure of a design's infrastructure.
type Fault struct {
	Kind FaultKind
	// Delay is how much slower each call gets, for the slow kinds.
	Delay time.Duration
}

// FaultKind names a fault.
type FaultKind string

// The faults a target may inject.
const (
	RedisDown    FaultKind = "redis_down"
	RedisSlow    FaultKind = "redis_slow"
	DatabaseDown FaultKind = "database_down"
	DatabaseSlow FaultKind = "database_slow"
)

// Timeline is the time a check judges a target by.
type Timeline interface {
	// Now is the current time.
	Now() time.Time
	// AdvanceTo moves time to t: a manual clock is set there at once; on
	// real time the check waits until then. A time already past returns
	// at once.
	AdvanceTo(ctx context.Context, t time.Time) error
	// Manual reports whether time stands still until the check moves it.
	Manual() bool
}

// AdvanceTo sets the clock to t (a ManualClock is a Timeline).
func (c *ManualClock) AdvanceTo(ctx context.Context, t time.Time) error {
	c.Set(t)
	return ctx.Err()
}

// Manual is true: the clock moves only when told to.
func (c *ManualClock) Manual() bool { return true }

// RealTime is the machine's time as a Timeline: AdvanceTo sleeps.
type RealTime struct{}

// Now is time.Now.
func (RealTime) Now() time.Time { return time.Now() }

// AdvanceTo waits until t or until ctx ends.
func (RealTime) AdvanceTo(ctx context.Context, t time.Time) error {
	return Sleep(ctx, nil, time.Until(t))
}

// Manual is false.
func (RealTime) Manual() bool { return false }

// noRedirects keeps a target's client on the answer it got.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// handlerTransport hands each request straight to a handler, in the
// caller's goroutine: an in-process target's client, with no sockets.
type handlerTransport struct {
	handler func() http.Handler
}

// remoteAddr is the client address in-process requests come from (an
// address of the documentation range).
const remoteAddr = "192.0.2.10:40000"

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	sr := req.Clone(req.Context())
	sr.RequestURI = req.URL.RequestURI()
	sr.Host = req.URL.Host
	sr.RemoteAddr = remoteAddr
	if sr.Body == nil {
		sr.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	t.handler().ServeHTTP(rec, sr)
	if req.Body != nil {
		_ = req.Body.Close()
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// URLTarget is a design running as a service at Base (the learner's own
// service in containers, say), on real time. What it can do besides HTTP
// is what its launcher hands it.
type URLTarget struct {
	Base string
	// HTTP is the client; nil means one that gives up after 30 s.
	HTTP *http.Client
	// Caps are its capabilities; ManualTime is never among them.
	Caps []Capability
	// OnRestart and OnInject do Restart and Inject when set.
	OnRestart func(ctx context.Context) error
	OnInject  func(ctx context.Context, f Fault) (func(context.Context) error, error)
}

// Client is HTTP, or a client with a 30 s timeout, never following redirects.
func (u *URLTarget) Client() *http.Client {
	c := http.Client{Timeout: 30 * time.Second}
	if u.HTTP != nil {
		c = *u.HTTP
	}
	c.CheckRedirect = noRedirects
	return &c
}

// URL joins Base and path.
func (u *URLTarget) URL(path string) string {
	return strings.TrimSuffix(u.Base, "/") + "/" + strings.TrimPrefix(path, "/")
}

// Design is nil: a service is not built from a design.
func (u *URLTarget) Design() Design { return nil }

// Timeline is real time.
func (u *URLTarget) Timeline() Timeline { return RealTime{} }

// Can reports whether c is among Caps.
func (u *URLTarget) Can(c Capability) bool { return c != ManualTime && slices.Contains(u.Caps, c) }

// Restart calls OnRestart.
func (u *URLTarget) Restart(ctx context.Context) error {
	if u.OnRestart == nil || !u.Can(Restart) {
		return ErrUnsupported
	}
	return u.OnRestart(ctx)
}

// Inject calls OnInject.
func (u *URLTarget) Inject(ctx context.Context, f Fault) (func(context.Context) error, error) {
	if u.OnInject == nil || !u.Can(Faults) {
		return nil, ErrUnsupported
	}
	return u.OnInject(ctx, f)
}
