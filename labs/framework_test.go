package labs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

func TestRegistryRefusesDuplicatesAndBadIDs(t *testing.T) {
	r, err := NewRegistry(echoLab{}, graded{id: "gradeda", ex: "gradeda-one"})
	if err != nil {
		t.Fatal(err)
	}
	if ids := r.IDs(); len(ids) != 2 || ids[0] != "echo" || ids[1] != "gradeda" {
		t.Errorf("ids %v", ids)
	}
	if l, ex, ok := r.Exercise("gradeda-one"); !ok || l.Info().ID != "gradeda" || ex.ID != "gradeda-one" {
		t.Errorf("exercise lookup: %v %v %v", l, ex, ok)
	}
	if g := r.Graded(); len(g) != 1 || len(r.Exercises("echo")) != 0 || len(r.Exercises("nope")) != 0 {
		t.Errorf("graded %v", g)
	}
	for name, ls := range map[string][]Lab{
		"same lab twice":      {echoLab{}, echoLab{}},
		"same exercise twice": {graded{id: "a", ex: "a-x"}, graded{id: "b", ex: "a-x"}},
		"exercise of another": {graded{id: "a", ex: "a-x", exLab: "b"}},
		"bad lab id":          {graded{id: "Bad-Id", ex: "x"}},
		"bad exercise id":     {graded{id: "a", ex: "A x"}},
	} {
		if _, err := NewRegistry(ls...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// graded is a lab with one exercise whose single check uses a target.
type graded struct {
	echoLab
	id, ex, exLab string
	run           func(ctx context.Context, t *Trial) Outcome
}

func (g graded) Info() Info { return Info{ID: g.id, Title: g.id} }

func (g graded) Exercises() []Exercise {
	lab := g.exLab
	if lab == "" {
		lab = g.id
	}
	return []Exercise{{ID: g.ex, Lab: lab, Step: 1, Title: "x", Checks: []Check{{Name: "c", Points: 5, Run: g.run}}}}
}

// served is an instance with its own handler, and a Halter.
type served struct {
	echoInst
	generation int
	halted     *atomic.Int32
}

func (s *served) Handler() http.Handler {
	rt := labhttp.NewRouter(nil)
	rt.HandleFunc("POST /echo/{word}", func(w http.ResponseWriter, r *http.Request) {
		q, err := labhttp.Query(r)
		if err != nil {
			labhttp.WriteError(w, r, err)
			return
		}
		n, err := labhttp.QueryInt(q, "times", 1, 1, 3)
		if err != nil {
			labhttp.WriteError(w, r, err)
			return
		}
		w.Header().Set("X-Generation", string(rune('0'+s.generation)))
		labhttp.WriteJSON(w, http.StatusCreated, strings.Repeat(r.PathValue("word"), n))
	})
	return rt
}

func (s *served) Halt(context.Context) error { s.halted.Add(1); return nil }

type servedLab struct {
	echoLab
	built  *atomic.Int32
	halted *atomic.Int32
}

func (l servedLab) New(_ context.Context, env Env, _ Design) (Instance, error) {
	n := l.built.Add(1)
	return &served{echoInst: echoInst{env: env}, generation: int(n), halted: l.halted}, nil
}

func quietEnv() Env {
	return Env{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// An in-process target answers over HTTP through the instance's handler,
// with no sockets, and restarts a Halter on the same environment.
func TestInProcessTarget(t *testing.T) {
	ctx := context.Background()
	l := servedLab{built: &atomic.Int32{}, halted: &atomic.Int32{}}
	tr := &Trial{Lab: l, Design: Design{"n": 3}, base: quietEnv()}
	tl := tr.Timeline(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	tg, err := tr.Start(ctx, map[string]any{"mode": "b"})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.closeAll(ctx)
	if !tl.Manual() || tg.Timeline() != tl || !tg.Can(ManualTime) || !tg.Can(Restart) || tg.Can(Faults) || tg.Can(Replicas) {
		t.Errorf("capabilities: manual %v, restart %v, faults %v, replicas %v", tg.Can(ManualTime), tg.Can(Restart), tg.Can(Faults), tg.Can(Replicas))
	}
	if d := tg.Design(); d.String("mode") != "b" || d.Int("n") != 3 {
		t.Errorf("design %v", d)
	}
	r, err := Call(ctx, tg, http.MethodPost, "/echo/ab?times=2", nil)
	if err != nil || r.Status != http.StatusCreated || strings.TrimSpace(string(r.Body)) != `"abab"` || r.Header.Get("X-Generation") != "1" {
		t.Fatalf("call: %v %d %s %v", err, r.Status, r.Body, r.Header)
	}
	var e labhttp.Body
	if r, _ := Call(ctx, tg, http.MethodPost, "/echo/ab?times=9", nil); r.Status != 422 || r.JSON(&e) != nil || e.Error.Fields["times"] == "" {
		t.Errorf("bad times: %d %s", r.Status, r.Body)
	}
	if r, _ := Call(ctx, tg, http.MethodGet, "/echo/ab", nil); r.Status != 405 {
		t.Errorf("wrong method: %d %s", r.Status, r.Body)
	}
	if err := tg.Restart(ctx); err != nil || l.halted.Load() != 1 {
		t.Fatalf("restart: %v, halted %d", err, l.halted.Load())
	}
	if r, _ := Call(ctx, tg, http.MethodPost, "/echo/x", nil); r.Header.Get("X-Generation") != "2" {
		t.Errorf("after the restart the old instance answered: %v", r.Header)
	}
	if _, err := tg.Inject(ctx, Fault{Kind: RedisDown}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("inject: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Call(cctx, tg, http.MethodPost, "/echo/x", nil); err == nil {
		t.Error("a call on an ended context answered")
	}
}

// An instance's routes are listed from its router, and a probe's target
// reaches them with their path values; paths no route selects are JSON
// 404s.
func TestProbeServesTheInstanceRoutes(t *testing.T) {
	inst := &echoInst{}
	if rs := RoutesOf(inst); len(rs) != 1 || rs[0].String() != "GET /items/{item}" {
		t.Fatalf("routes %v", rs)
	}
	tg := (&Probe{Instance: inst, Env: Env{Instance: "x"}}).Target()
	if r, err := Call(context.Background(), tg, "GET", "/items/42", nil); err != nil || r.Status != 200 || string(r.Body) != "42" {
		t.Errorf("items/42: %v %d %s", err, r.Status, r.Body)
	}
	for _, path := range []string{"/items", "/items/", "/items/1/2", "/other/1"} {
		var e labhttp.Body
		if r, err := Call(context.Background(), tg, "GET", path, nil); err != nil || r.Status != 404 || r.JSON(&e) != nil || e.Error.Code != "not_found" {
			t.Errorf("%s: %v %d %s", path, err, r.Status, r.Body)
		}
	}
}

// A check that needs what the target lacks is skipped: it counts neither
// way and says why; a launcher's targets run on real time.
func TestChecksOnALauncherSkipWhatItCannot(t *testing.T) {
	ctx := context.Background()
	run := func(ctx context.Context, t *Trial) Outcome {
		if t.Timeline(time.Now()).Manual() {
			return Fail("a launcher's targets ran on a manual clock")
		}
		if !t.Can(Replicas) {
			return Skip("This check needs replicas, which the service under test cannot run.")
		}
		return Pass("ran")
	}
	l := graded{id: "g", ex: "g-x", run: run}
	ex := l.Exercises()[0]
	launcher := &fixedLauncher{}
	rs, err := RunOn(ctx, l, ex, Design{}, launcher, nil)
	if err != nil || len(rs) != 1 {
		t.Fatal(err)
	}
	if r := rs[0]; !r.Skipped || r.Passed || r.Points != 0 || r.MaxPoints != 0 || !strings.Contains(r.Message, "replicas") {
		t.Errorf("skipped check: %+v", r)
	}
	if launcher.closed != 1 {
		t.Errorf("the launcher was closed %d times", launcher.closed)
	}
	launcher.caps = []Capability{Replicas, ManualTime}
	if rs, _ := RunOn(ctx, l, ex, Design{}, launcher, nil); rs[0].Skipped || !rs[0].Passed || rs[0].MaxPoints != 5 {
		t.Errorf("with replicas: %+v", rs[0])
	}
}

type fixedLauncher struct {
	caps   []Capability
	closed int
}

func (f *fixedLauncher) Launch(context.Context, map[string]any) (Target, error) {
	return &URLTarget{Base: "http://127.0.0.1:1", Caps: f.caps}, nil
}

func (f *fixedLauncher) Can(c Capability) bool {
	return (&URLTarget{Caps: f.caps}).Can(c)
}

func (f *fixedLauncher) Close(context.Context) error { f.closed++; return nil }

// A check's helpers: a wanted answer decodes, another is a RouteError that
// fails the design below 500 and breaks the environment from 500 on.
func TestCallJSONAndOutcomes(t *testing.T) {
	ctx := context.Background()
	l := servedLab{built: &atomic.Int32{}, halted: &atomic.Int32{}}
	tr := &Trial{Lab: l, Design: Design{}, base: quietEnv()}
	tg, err := tr.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.closeAll(ctx)
	if s, err := CallJSON[string](ctx, tg, http.MethodPost, "/echo/hi", nil, http.StatusCreated); err != nil || s != "hi" {
		t.Fatalf("wanted answer: %q %v", s, err)
	}
	_, err = CallJSON[string](ctx, tg, http.MethodPost, "/echo/hi?times=0", nil, http.StatusCreated)
	var re *RouteError
	if !errors.As(err, &re) || re.Reply.Status != 422 {
		t.Fatalf("a refusal: %v", err)
	}
	if o := OutcomeOf(err); o.Passed || o.Err != nil || !strings.Contains(o.Message, "POST /echo/hi?times=0 answered 422") {
		t.Errorf("a 422 is the design's: %+v", o)
	}
	if o := OutcomeOf(&RouteError{What: "GET /x", Reply: Reply{Status: 503}}); o.Err == nil {
		t.Errorf("a 503 is the environment's: %+v", o)
	}
	r, err := Send(ctx, tg, Request{Method: http.MethodPost, Path: "/echo/h", Header: http.Header{"X-Trace": {"1"}}})
	if err != nil || r.Status != http.StatusCreated {
		t.Errorf("send with a header: %d %v", r.Status, err)
	}
}
