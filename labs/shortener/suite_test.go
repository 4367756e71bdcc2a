package shortener

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

func basicsExercise(tb testing.TB) labs.Exercise {
	tb.Helper()
	for _, ex := range labs.ExercisesOf(Lab) {
		if ex.ID == "shortener-basics" {
			return ex
		}
	}
	tb.Fatal("no exercise shortener-basics")
	return labs.Exercise{}
}

func checkNamed(tb testing.TB, name string) labs.Check {
	tb.Helper()
	for _, c := range basicsExercise(tb).Checks {
		if c.Name == name {
			return c
		}
	}
	tb.Fatalf("no check %q", name)
	return labs.Check{}
}

func TestSuiteExercises(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9-]+$`)
	seen := map[string]bool{}
	exs := labs.ExercisesOf(Lab)
	if len(exs) == 0 {
		t.Fatal("no exercises")
	}
	for _, ex := range exs {
		if !valid.MatchString(ex.ID) || seen[ex.ID] {
			t.Errorf("exercise id %q: invalid or repeated", ex.ID)
		}
		seen[ex.ID] = true
		if ex.Lab != Lab.Info().ID || ex.Title == "" || len(ex.Card) == 0 || !ex.NeedsDB || ex.Scale == "" {
			t.Errorf("exercise %s: lab %q, title %q, %d card lines, needs_db %v", ex.ID, ex.Lab, ex.Title, len(ex.Card), ex.NeedsDB)
		}
		if ex.MaxScore() <= 0 {
			t.Errorf("exercise %s: max score %d", ex.ID, ex.MaxScore())
		}
		names := map[string]bool{}
		for _, c := range ex.Checks {
			if c.Name == "" || c.Requirement == "" || c.Run == nil || c.Points < 0 || names[c.Name] {
				t.Errorf("exercise %s: check %+v incomplete or repeated", ex.ID, c)
			}
			names[c.Name] = true
		}
	}
}

// goodDesigns pass every check: each generator, each cache, both sharding
// schemes, with and without analytics. The richest runs on both backends;
// the others on one each, to keep the package's tests short (10,000
// creations under the race detector take seconds).
var goodDesigns = []struct {
	name     string
	design   map[string]any
	backends []string
}{
	{"defaults", map[string]any{}, []string{"embedded"}},
	{"sequence-local-analytics", map[string]any{"codegen": GenSequence, "cache": CacheLocal, "analytics": true, "sharding": ShardConsistent, "shards": 8},
		[]string{"embedded", "postgres+redis"}},
	{"hash-no-cache", map[string]any{"codegen": GenHash, "cache": CacheNone, "shards": 1}, []string{"postgres+redis"}},
}

func TestSuiteGoodDesigns(t *testing.T) {
	ex := basicsExercise(t)
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			base := labtest.Env(t, b, "suitegood")
			for _, g := range goodDesigns {
				if !slices.Contains(g.backends, b.Name) {
					continue
				}
				t.Run(g.name, func(t *testing.T) {
					start := time.Now()
					rs, err := labs.Run(context.Background(), Lab, ex, mustDesign(t, g.design), base, nil)
					if err != nil {
						t.Fatal(err)
					}
					if len(rs) != len(ex.Checks) {
						t.Fatalf("%d results for %d checks", len(rs), len(ex.Checks))
					}
					for _, r := range rs {
						if !r.Passed {
							t.Errorf("%s failed: %s", r.Name, r.Message)
						}
						if r.Chart != nil && (len(r.Chart.X) == 0 || len(r.Chart.X) > 200) {
							t.Errorf("%s: chart with %d points", r.Name, len(r.Chart.X))
						}
						t.Logf("%s (%.0f ms): %s", r.Name, r.DurationMS, r.Message)
					}
					if score, max := labs.Score(rs); score != max {
						t.Errorf("score %d of %d", score, max)
					}
					t.Logf("whole suite: %s", time.Since(start).Round(time.Millisecond))
					if n := countTables(t, base); n != 0 {
						t.Errorf("%d tables left", n)
					}
				})
			}
		})
	}
}

// wrapLab is the lab with a fault no design can choose, for proving that a
// check fails when its property is broken: before runs before each New
// (on the env the instance is built on), wrap dresses each instance.
type wrapLab struct {
	labs.Lab
	before func(ctx context.Context, env labs.Env) error
	wrap   func(in *instance) labs.Instance
}

func (w wrapLab) New(ctx context.Context, env labs.Env, d labs.Design) (labs.Instance, error) {
	if w.before != nil {
		if err := w.before(ctx, env); err != nil {
			return nil, err
		}
	}
	li, err := w.Lab.New(ctx, env, d)
	if err != nil || w.wrap == nil {
		return li, err
	}
	return w.wrap(li.(*instance)), nil
}

// rerouted is an instance whose route at path is replaced.
type rerouted struct {
	*instance
	path   string
	handle func(in *instance, orig func(http.ResponseWriter, *http.Request, labs.Params)) func(http.ResponseWriter, *http.Request, labs.Params)
}

func (r rerouted) Routes() []labs.Route {
	rs := r.instance.Routes()
	for i := range rs {
		if rs[i].Path == r.path {
			rs[i].Handle = r.handle(r.instance, rs[i].Handle)
		}
	}
	return rs
}

func reroute(path string, h func(in *instance, orig func(http.ResponseWriter, *http.Request, labs.Params)) func(http.ResponseWriter, *http.Request, labs.Params)) wrapLab {
	return wrapLab{Lab: Lab, wrap: func(in *instance) labs.Instance { return rerouted{in, path, h} }}
}

// rewrite runs orig into a recorder and lets f change its answer.
func rewrite(f func(rec *httptest.ResponseRecorder)) func(*instance, func(http.ResponseWriter, *http.Request, labs.Params)) func(http.ResponseWriter, *http.Request, labs.Params) {
	return func(_ *instance, orig func(http.ResponseWriter, *http.Request, labs.Params)) func(http.ResponseWriter, *http.Request, labs.Params) {
		return func(w http.ResponseWriter, r *http.Request, p labs.Params) {
			rec := httptest.NewRecorder()
			orig(rec, r, p)
			f(rec)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		}
	}
}

var (
	// dropsQuery "normalises" the target by cutting its query off.
	dropsQuery = reroute("r/{code}", rewrite(func(rec *httptest.ResponseRecorder) {
		if loc := rec.Header().Get("Location"); loc != "" {
			loc, _, _ = strings.Cut(loc, "?")
			rec.Header().Set("Location", loc)
		}
	}))
	// ignoresTTL drops ttl_s from every creation.
	ignoresTTL = reroute("shorten", func(_ *instance, orig func(http.ResponseWriter, *http.Request, labs.Params)) func(http.ResponseWriter, *http.Request, labs.Params) {
		return func(w http.ResponseWriter, r *http.Request, p labs.Params) {
			var m map[string]any
			b, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(b, &m)
			delete(m, "ttl_s")
			b, _ = json.Marshal(m)
			r.Body = io.NopCloser(bytes.NewReader(b))
			orig(w, r, p)
		}
	})
	// forgetsExpired answers 404 for an expired link, as a design that
	// deletes expired rows would.
	forgetsExpired = reroute("r/{code}", rewrite(func(rec *httptest.ResponseRecorder) {
		if rec.Code == http.StatusGone {
			rec.Code = http.StatusNotFound
		}
	}))
	// acceptsAnything creates whatever it is sent, without validation.
	acceptsAnything = reroute("shorten", func(in *instance, _ func(http.ResponseWriter, *http.Request, labs.Params)) func(http.ResponseWriter, *http.Request, labs.Params) {
		return func(w http.ResponseWriter, r *http.Request, _ labs.Params) {
			var m struct {
				URL   string `json:"url"`
				Alias string `json:"alias"`
			}
			b, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(b, &m)
			l, _, err := in.create(r.Context(), createRequest{URL: m.URL, Alias: m.Alias})
			if err != nil {
				writeError(w, http.StatusConflict, "", err.Error())
				return
			}
			writeJSON(w, http.StatusCreated, Created{Code: l.Code, Path: "r/" + l.Code, URL: l.URL})
		}
	})
	// amnesiac keeps its links only in what a restart loses: whatever the
	// tables held is gone when an instance is built on them.
	amnesiac = wrapLab{Lab: Lab, before: func(ctx context.Context, env labs.Env) error {
		return (&instance{env: env, tab: tablesFor(env.Instance)}).dropTables(ctx)
	}}
)

// Each graded check fails a design (or a lab with a fault no design can
// choose) that misses its requirement, and says why in terms of what it saw.
func TestSuiteBadDesigns(t *testing.T) {
	cases := []struct {
		name, check string
		lab         labs.Lab
		design      map[string]any
		want        []string
	}{
		{"random, 2 characters", "10,000 distinct codes", Lab, map[string]any{"codegen": GenRandom, "code_length": 2},
			[]string{"creations failed", "The first to fail was link", "3,844 codes of length 2", "birthday bound"}},
		{"counter, 2 characters", "10,000 distinct codes", Lab, map[string]any{"codegen": GenSequence, "code_length": 2},
			[]string{"2,844 of", "handed out all 3,844 codes of length 2", "1,000 of them to the lab's demo links"}},
		{"8 characters", "10,000 distinct codes", Lab, map[string]any{"code_length": 8},
			[]string{"Codes are 8 characters long", "at most 7 are allowed", "code_length is 8", "stopped after 500 links"}},
		{"query dropped", "redirects correct", dropsQuery, nil,
			[]string{"redirected to \"https://shop.example.org/p\"", "made for \"https://shop.example.org/p?id=42&ref=a%20b#reviews\""}},
		{"lifetime ignored", "expiry honoured", ignoresTTL, nil,
			[]string{"after its lifetime ended, it answered 301 and still redirected"}},
		{"expired answers 404", "expiry honoured", forgetsExpired, map[string]any{"cache": CacheNone},
			[]string{"answered 404", "410 says it did and has expired"}},
		{"links only in the caches", "links survive a restart", amnesiac, map[string]any{"cache": CacheLocal},
			[]string{"201 of 201 links answered 404 after the restart", "not in the database"}},
		{"no validation", "invalid input rejected", acceptsAnything, nil,
			[]string{"invalid creations were accepted", "a javascript: URL (answered 201"}},
	}
	graded := map[string]bool{}
	for _, c := range cases {
		graded[c.check] = true
	}
	for _, c := range basicsExercise(t).Checks {
		if c.Points > 0 && !graded[c.Name] {
			t.Errorf("check %q has no design that fails it", c.Name)
		}
	}
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			base := labtest.Env(t, b, "suitebad")
			for _, c := range cases {
				t.Run(c.check+"/"+c.name, func(t *testing.T) {
					r, err := labs.RunCheck(context.Background(), c.lab, checkNamed(t, c.check), mustDesign(t, c.design), base)
					if err != nil {
						t.Fatal(err)
					}
					t.Logf("%v %.0f ms: %s", r.Passed, r.DurationMS, r.Message)
					if r.Passed || r.Points != 0 {
						t.Fatalf("passed: %s", r.Message)
					}
					for _, w := range c.want {
						if !strings.Contains(r.Message, w) {
							t.Errorf("message lacks %q: %s", w, r.Message)
						}
					}
				})
			}
			if n := countTables(t, base); n != 0 {
				t.Errorf("%d tables left", n)
			}
		})
	}
}
