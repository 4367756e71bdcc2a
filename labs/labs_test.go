package labs

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

// echoLab is a lab for testing the framework: it counts hits.
type echoLab struct{}

type echoInst struct {
	hits   atomic.Int64
	closed atomic.Bool
	env    Env
}

func (echoLab) Info() Info {
	return Info{ID: "echo", Title: "Echo", Charts: []Chart{{Title: "Hits", Series: []string{"hits"}, Kind: "count"}}}
}

func (echoLab) Fields() []Field {
	lo, hi := Range(1, 10)
	rlo, rhi := Range(0, 1)
	return []Field{
		{Name: "n", Type: Int, Default: 3, Min: lo, Max: hi},
		{Name: "mode", Type: Enum, Default: "a", Options: []string{"a", "b"}},
		{Name: "flag", Type: Bool, Default: false},
		{Name: "rate", Type: Float, Default: 0.5, Min: rlo, Max: rhi},
	}
}

func (echoLab) Check(d Design) FieldErrors {
	if d.String("mode") == "b" && d.Int("n") > 5 {
		return FieldErrors{"n": "Mode b allows at most 5."}
	}
	return nil
}

func (echoLab) New(_ context.Context, env Env, _ Design) (Instance, error) {
	return &echoInst{env: env}, nil
}

func (e *echoInst) Handler() http.Handler {
	rt := labhttp.NewRouter(nil)
	rt.HandleFunc("GET /items/{item}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.PathValue("item"))
	})
	return rt
}

func (e *echoInst) Hit(ctx context.Context, key string) (int, error) {
	e.hits.Add(1)
	e.env.Metrics.Count("hits", 1)
	if key == "k1" {
		return http.StatusTooManyRequests, nil
	}
	return http.StatusOK, nil
}

func (e *echoInst) State(context.Context) (any, error) {
	return map[string]int64{"hits": e.hits.Load()}, nil
}
func (e *echoInst) Close(context.Context) error { e.closed.Store(true); return nil }

func TestParseDesign(t *testing.T) {
	l := echoLab{}
	d, errs := ParseDesign(l, []byte(`{}`))
	if len(errs) > 0 || d.Int("n") != 3 || d.String("mode") != "a" || d.Bool("flag") || d.Float("rate") != 0.5 {
		t.Fatalf("defaults: %v %v", d, errs)
	}
	d, errs = ParseDesign(l, []byte(`{"n": 7, "mode": "a", "flag": true, "rate": 0.25}`))
	if len(errs) > 0 || d.Int("n") != 7 || !d.Bool("flag") || d.Float("rate") != 0.25 {
		t.Fatalf("values: %v %v", d, errs)
	}
	for body, field := range map[string]string{
		`{"n": 11}`:              "n",
		`{"n": 2.5}`:             "n",
		`{"n": "x"}`:             "n",
		`{"mode": "c"}`:          "mode",
		`{"flag": "maybe"}`:      "flag",
		`{"rate": -0.1}`:         "rate",
		`{"nope": 1}`:            "nope",
		`{"mode": "b", "n": 6}`:  "n",
		`[1,2]`:                  "design",
		`{"n": 1e999}`:           "n",
		`not json`:               "design",
		`{"n": 3} {"n": 4} junk`: "design",
	} {
		_, errs := ParseDesign(l, []byte(body))
		if field == "" {
			continue
		}
		if errs[field] == "" {
			t.Errorf("%s: errors %v, want one naming %s", body, errs, field)
		}
	}
	if _, errs := ParseDesign(l, []byte(strings.Repeat(" ", 20<<10)+"{}")); errs["design"] == "" {
		t.Error("an oversized design was accepted")
	}
	// Form values arrive as strings, read by FormValues.
	raw, errs := FormValues(l, func(k string) string { return map[string]string{"n": "4", "flag": "on", "rate": "0.75"}[k] })
	if len(errs) == 0 {
		d, errs = Validate(l, raw)
	}
	if len(errs) > 0 || d.Int("n") != 4 || !d.Bool("flag") || d.Float("rate") != 0.75 {
		t.Errorf("form strings: %v %v", d, errs)
	}
}

func FuzzParseDesign(f *testing.F) {
	f.Add(`{"n": 3, "mode": "b"}`)
	f.Add(`{"rate": 1e308}`)
	f.Add(`{"n": -0}`)
	f.Fuzz(func(t *testing.T, body string) {
		d, errs := ParseDesign(echoLab{}, []byte(body))
		if len(errs) > 0 {
			return
		}
		if n := d.Int("n"); n < 1 || n > 10 {
			t.Fatalf("accepted n=%d", n)
		}
		if r := d.Float("rate"); r < 0 || r > 1 || math.IsNaN(r) {
			t.Fatalf("accepted rate=%v", r)
		}
		if m := d.String("mode"); m != "a" && m != "b" {
			t.Fatalf("accepted mode=%q", m)
		}
	})
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestManager(clk *clock) *Manager {
	lim := DefaultLimits
	lim.Idle = 30 * time.Minute
	return NewManager(MustRegistry(echoLab{}), nil, nil, "sqlite", slog.New(slog.NewTextHandler(io.Discard, nil)), clk.now, lim)
}

func TestManagerOwnershipLimitsAndReaping(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	m := newTestManager(clk)
	defer m.StopAll(ctx)
	d, _ := ParseDesign(echoLab{}, nil)
	var mine []*Running
	for i := 0; i < 3; i++ {
		r, err := m.Launch(ctx, "echo", 1, d)
		if err != nil {
			t.Fatal(err)
		}
		mine = append(mine, r)
	}
	if _, err := m.Launch(ctx, "echo", 1, d); err != ErrTooMany {
		t.Errorf("fourth instance: %v", err)
	}
	if _, err := m.Launch(ctx, "nope", 1, d); err != ErrUnknownLab {
		t.Errorf("unknown lab: %v", err)
	}
	other, err := m.Launch(ctx, "echo", 2, d)
	if err != nil {
		t.Fatal(err)
	}
	// Another learner's instance is not found, nor is a lab mismatch.
	if _, err := m.Get("echo", other.ID, 1); err != ErrNotFound {
		t.Errorf("foreign instance: %v", err)
	}
	if _, err := m.Get("limiter", mine[0].ID, 1); err != ErrNotFound {
		t.Errorf("lab mismatch: %v", err)
	}
	if got, _ := m.Owned(ctx, "echo", 1); len(got) != 3 {
		t.Errorf("owned %d", len(got))
	}
	if err := m.Stop(ctx, "echo", other.ID, 1); err != ErrNotFound {
		t.Errorf("stopping a foreign instance: %v", err)
	}

	// Reconfigure keeps the id and replaces the instance.
	old := mine[0].Instance().(*echoInst)
	d2, _ := ParseDesign(echoLab{}, []byte(`{"n": 5}`))
	r, err := m.Reconfigure(ctx, "echo", mine[0].ID, 1, d2)
	if err != nil || r.ID != mine[0].ID || r.Design.Int("n") != 5 || !old.closed.Load() {
		t.Fatalf("reconfigure: %v %v", r, err)
	}

	// Idle instances go; a used one stays.
	clk.add(20 * time.Minute)
	if _, err := m.Get("echo", mine[1].ID, 1); err != nil {
		t.Fatal(err)
	}
	clk.add(15 * time.Minute)
	if n := m.Reap(ctx); n != 3 {
		t.Errorf("reaped %d, want the 3 untouched for 35 minutes", n)
	}
	if got, _ := m.Owned(ctx, "", 1); len(got) != 1 || got[0].ID != mine[1].ID {
		t.Errorf("left %v", got)
	}
	// A slot freed by reaping can be used again.
	if _, err := m.Launch(ctx, "echo", 1, d); err != nil {
		t.Errorf("launch after reaping: %v", err)
	}
}

func TestLoadRuns(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	m := newTestManager(clk)
	defer m.StopAll(ctx)
	d, _ := ParseDesign(echoLab{}, nil)
	r, err := m.Launch(ctx, "echo", 1, d)
	if err != nil {
		t.Fatal(err)
	}
	if errs := m.Limits().Check(LoadSpec{Requests: 0, Concurrency: 1000, RatePerS: -1, Keys: 0}); len(errs) != 4 {
		t.Errorf("limits check: %v", errs)
	}
	sum, err := m.Load(ctx, r, LoadSpec{Requests: 500, Concurrency: 20, Keys: 4})
	if err != nil {
		t.Fatal(err)
	}
	inst := r.Instance().(*echoInst)
	if sum.Requests != 500 || inst.hits.Load() != 500 || sum.ByStatus["200"] != 375 || sum.ByStatus["429"] != 125 {
		t.Errorf("summary %+v, hits %d", sum, inst.hits.Load())
	}
	// One run at a time per instance.
	r.mu.Lock()
	r.loading = true
	r.mu.Unlock()
	if _, err := m.Load(ctx, r, LoadSpec{Requests: 1, Concurrency: 1, Keys: 1}); err != ErrBusy {
		t.Errorf("concurrent load: %v", err)
	}
	r.mu.Lock()
	r.loading = false
	r.mu.Unlock()
	// A paced run is paced: 50 requests at 1000/s take at least ~49 ms of
	// ticks; we only check it completes and counts right.
	sum = RunLoad(ctx, inst, LoadSpec{Requests: 50, Concurrency: 5, RatePerS: 1000, Keys: 1})
	if sum.Requests != 50 || sum.ByStatus["200"] != 50 {
		t.Errorf("paced run %+v", sum)
	}
}

func TestMetrics(t *testing.T) {
	m := NewMetrics(time.Now, "hits", "misses")
	defer m.Close()
	ch, _, _, cancel := m.Subscribe()
	defer cancel()
	m.Count("hits", 3)
	m.Latency("read", 2*time.Millisecond)
	m.Latency("read", 4*time.Millisecond)
	m.Gauge("state", 2)
	m.flush()
	var p *Point
	for p == nil {
		msg := <-ch
		p = msg.Point
	}
	if p.V["hits"] != 3 || p.V["misses"] != 0 || p.V["state"] != 2 || p.V["read_p50"] != 2 || p.V["read_p99"] != 4 {
		t.Errorf("point %v", p.V)
	}
	m.flush() // an empty bucket: counters zero, no latency, gauge held
	var q *Point
	for q == nil {
		q = (<-ch).Point
	}
	if q.V["hits"] != 0 || q.V["state"] != 2 {
		t.Errorf("empty bucket %v", q.V)
	}
	b, err := json.Marshal(Point{T: 1, V: map[string]float64{"a": math.NaN(), "b": 1.5}})
	if err != nil || string(b) != `{"t":1,"v":{"a":null,"b":1.5}}` {
		t.Errorf("json %s %v", b, err)
	}
	m.Eventf("info", "hello %d", 1)
	var e *Event
	for e == nil {
		e = (<-ch).Event
	}
	if e.Msg != "hello 1" {
		t.Errorf("event %+v", e)
	}
	// Bounded watchers.
	var cancels []func()
	for i := 0; i < 2; i++ {
		_, _, _, c, err := m.TrySubscribe(3)
		if err != nil {
			t.Fatal(err)
		}
		cancels = append(cancels, c)
	}
	if _, _, _, _, err := m.TrySubscribe(3); err != ErrTooManyWatchers {
		t.Errorf("fourth watcher: %v", err)
	}
	for _, c := range cancels {
		c()
	}
	if Percentile(nil, 50) == Percentile(nil, 50) {
		t.Error("percentile of nothing is not NaN")
	}
	if got := Percentile([]float64{5, 1, 4, 2, 3}, 99); got != 5 {
		t.Errorf("p99 = %v", got)
	}
}

// keyCounter is an instance that counts the keys a load run sends.
type keyCounter struct {
	mu   sync.Mutex
	hits map[string]int
}

func (k *keyCounter) Hit(_ context.Context, key string) (int, error) {
	k.mu.Lock()
	k.hits[key]++
	k.mu.Unlock()
	return 200, nil
}
func (k *keyCounter) Handler() http.Handler              { return labhttp.NewRouter(nil) }
func (k *keyCounter) State(context.Context) (any, error) { return nil, nil }
func (k *keyCounter) Close(context.Context) error        { return nil }

// A uniform run takes keys in turn; a zipf run makes a few keys hot, as
// ZipfS's comment says; another distribution is refused by name.
func TestLoadKeyDistributions(t *testing.T) {
	ctx := context.Background()
	const n, keys = 20000, 1000
	uni := &keyCounter{hits: map[string]int{}}
	RunLoad(ctx, uni, LoadSpec{Requests: n, Concurrency: 4, Keys: keys})
	if len(uni.hits) != keys || uni.hits["k0"] != n/keys || uni.hits["k999"] != n/keys {
		t.Errorf("uniform: %d keys, k0 %d, k999 %d", len(uni.hits), uni.hits["k0"], uni.hits["k999"])
	}
	z := &keyCounter{hits: map[string]int{}}
	RunLoad(ctx, z, LoadSpec{Requests: n, Concurrency: 4, Keys: keys, Distribution: Zipf})
	top := 0
	for i := range 10 {
		top += z.hits["k"+strconv.Itoa(i)]
	}
	// Expected shares for s = 1.1 over 1,000 keys: 18% and 48%.
	if share := float64(z.hits["k0"]) / n; share < 0.15 || share > 0.21 {
		t.Errorf("zipf: the hottest key took %.1f%% of requests", 100*share)
	}
	if share := float64(top) / n; share < 0.43 || share > 0.53 {
		t.Errorf("zipf: the top ten keys took %.1f%% of requests", 100*share)
	}
	for k := range z.hits {
		if i, err := strconv.Atoi(k[1:]); err != nil || i < 0 || i >= keys {
			t.Fatalf("zipf drew key %q outside k0…k%d", k, keys-1)
		}
	}
	if errs := DefaultLimits.Check(LoadSpec{Requests: 1, Concurrency: 1, Keys: 1, Distribution: "pareto"}); errs["distribution"] == "" {
		t.Errorf("an unknown distribution: %v", errs)
	}
	if errs := DefaultLimits.Check(LoadSpec{Requests: 1, Concurrency: 1, Keys: 1, Distribution: Zipf}); len(errs) != 0 {
		t.Errorf("zipf refused: %v", errs)
	}
}
