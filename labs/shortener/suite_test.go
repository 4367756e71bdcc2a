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
	"strconv"
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

// referenceBackends says where each reference design is graded in this
// package's tests: the richest good design on both backends, the others
// on one each, to keep the tests short (10,000 creations under the race
// detector take seconds).
var referenceBackends = map[string][]string{
	"defaults":                 {"embedded"},
	"sequence-local-analytics": {"embedded", "postgres+redis"},
	"hash-no-cache":            {"postgres+redis"},
	"random, 2 characters":     {"postgres+redis"},
	"counter, 2 characters":    {"postgres+redis"},
	"8 characters":             {"embedded"},
}

// referenceSays is what a reference's failed checks must say, by reference
// and check.
var referenceSays = map[string]map[string][]string{
	"random, 2 characters": {checkNameDistinct: {"creations failed", "The first to fail was link", "3,844 codes of length 2", "birthday bound"}},
	"counter, 2 characters": {checkNameDistinct: {"2,844 of", "handed out all 3,844 codes of length 2",
		"1,000 of them to the lab's demo links"}},
	"8 characters": {checkNameDistinct: {"Codes are 8 characters long", "at most 7 are allowed", "code_length is 8", "stopped after 500 links"}},
}

func TestSuiteReferencesTable(t *testing.T) {
	ex := basicsExercise(t)
	// Every graded check is caught failing by a reference design or by a
	// fault no design can choose (TestSuiteFaults).
	var byFaults []string
	for _, f := range faults {
		byFaults = append(byFaults, f.check)
	}
	names := labtest.CheckReferences(t, Lab, ex, byFaults...)
	for _, r := range ex.References {
		if len(referenceBackends[r.Name]) == 0 {
			t.Errorf("reference %q is graded on no backend in the tests", r.Name)
		}
		for check := range referenceSays[r.Name] {
			if !slices.Contains(r.Fails, check) {
				t.Errorf("reference %q: what %q says is given, but the reference passes it", r.Name, check)
			}
		}
	}
	for name := range referenceBackends {
		if !names[name] {
			t.Errorf("backends given for %q, which is no reference", name)
		}
	}
	for name := range referenceSays {
		if !names[name] {
			t.Errorf("messages given for %q, which is no reference", name)
		}
	}
}

// Each reference design gets exactly its known verdict: the good ones pass
// every check, the bad ones fail exactly the checks they name, and say why
// in terms of what the check saw. Run with -count=3 on a loaded machine to
// see that the verdicts do not move.
func TestSuiteReferences(t *testing.T) {
	ex := basicsExercise(t)
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			base := labtest.Env(t, b, "suiteref")
			for _, ref := range ex.References {
				if !slices.Contains(referenceBackends[ref.Name], b.Name) {
					continue
				}
				t.Run(ref.Name, func(t *testing.T) {
					start := time.Now()
					rs, err := labs.Run(context.Background(), Lab, ex, mustDesign(t, ref.Design), base, nil)
					if err != nil {
						t.Fatal(err)
					}
					if len(rs) != len(ex.Checks) {
						t.Fatalf("%d results for %d checks", len(rs), len(ex.Checks))
					}
					var failed []string
					lost := 0
					for _, r := range rs {
						t.Logf("%s (%.0f ms): %v: %s", r.Name, r.DurationMS, r.Passed, r.Message)
						if r.Chart != nil && (len(r.Chart.X) == 0 || len(r.Chart.X) > 200) {
							t.Errorf("%s: chart with %d points", r.Name, len(r.Chart.X))
						}
						if r.Passed {
							continue
						}
						failed = append(failed, r.Name)
						lost += r.MaxPoints
						for _, w := range referenceSays[ref.Name][r.Name] {
							if !strings.Contains(r.Message, w) {
								t.Errorf("%s: message lacks %q: %s", r.Name, w, r.Message)
							}
						}
					}
					if !slices.Equal(failed, ref.Fails) {
						t.Errorf("failed %q, want %q", failed, ref.Fails)
					}
					if score, max := labs.Score(rs); score != max-lost {
						t.Errorf("score %d of %d, with %d points lost", score, max, lost)
					}
					t.Logf("whole suite: %s", time.Since(start).Round(time.Millisecond))
				})
			}
			assertNothingLeft(t, base)
		})
	}
}

// assertNothingLeft fails when a check left tables or Redis keys of any
// instance behind.
func assertNothingLeft(tb testing.TB, env labs.Env) {
	tb.Helper()
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'shortener_%'`
	if env.Dialect == "postgres" {
		q = `SELECT COUNT(*) FROM information_schema.tables WHERE table_name LIKE 'shortener_%'`
	}
	var n int
	if err := env.DB.QueryRow(q).Scan(&n); err != nil {
		tb.Fatalf("count tables: %v", err)
	}
	if n != 0 {
		tb.Errorf("%d tables left", n)
	}
	keys, err := env.Redis.Keys(context.Background(), "lab:*").Result()
	if err != nil {
		tb.Fatalf("list keys: %v", err)
	}
	if len(keys) != 0 {
		tb.Errorf("%d Redis keys left, such as %q", len(keys), keys[0])
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
	// cachesAnswers keeps each redirect's answer in Redis for
	// cache_ttl_ms, on Redis's own clock, and replays it without looking
	// at the link's lifetime: a cache that serves a link past its end.
	cachesAnswers = reroute("r/{code}", func(in *instance, orig func(http.ResponseWriter, *http.Request, labs.Params)) func(http.ResponseWriter, *http.Request, labs.Params) {
		return func(w http.ResponseWriter, r *http.Request, p labs.Params) {
			key := in.env.Prefix + "answer:" + p["code"]
			if v, err := in.rdb.Get(r.Context(), key).Result(); err == nil {
				status, loc, _ := strings.Cut(v, " ")
				n, _ := strconv.Atoi(status)
				w.Header().Set("Location", loc)
				w.WriteHeader(n)
				return
			}
			rec := httptest.NewRecorder()
			orig(rec, r, p)
			if isRedirect(rec.Code) {
				_ = in.rdb.Set(r.Context(), key, strconv.Itoa(rec.Code)+" "+rec.Header().Get("Location"), in.cfg.cacheTTL).Err()
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		}
	})
	// expiresAtOnce answers 410 for every link with a lifetime, as a
	// design that mixes up seconds and milliseconds might.
	expiresAtOnce = reroute("r/{code}", func(in *instance, orig func(http.ResponseWriter, *http.Request, labs.Params)) func(http.ResponseWriter, *http.Request, labs.Params) {
		return func(w http.ResponseWriter, r *http.Request, p labs.Params) {
			if e, _, err := in.lookup(r.Context(), p["code"]); err == nil && e.found && e.expiresMS != 0 {
				writeError(w, http.StatusGone, "code", "expired")
				return
			}
			orig(w, r, p)
		}
	})
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

// faults are breakages no design can choose, each failing one check: they
// prove the check catches its property broken, and say why in terms of
// what it saw. (Designs with known verdicts are the exercise's References.)
var faults = []struct {
	name, check string
	lab         labs.Lab
	design      map[string]any
	want        []string
}{
	{"query dropped", checkNameRedirects, dropsQuery, nil,
		[]string{"redirected to \"https://shop.example.org/p\"", "made for \"https://shop.example.org/p?id=42&ref=a%20b#reviews\""}},
	{"lifetime ignored", checkNameExpiry, ignoresTTL, nil,
		[]string{"After its lifetime ended at 1,000 ms, 16 of 16 steps did not answer 410: at 1,000 ms it answered 301 and still redirected",
			"a day later it answered 301"}},
	{"expired answers 404", checkNameExpiry, forgetsExpired, map[string]any{"cache": CacheNone},
		[]string{"16 of 16 steps did not answer 410: at 1,000 ms it answered 404", "410 says it did and has expired", "a day later it answered 404"}},
	// The answers stay in Redis for a minute of the machine's clock, while
	// the check moves the lab's clock past the link's lifetime in no time:
	// a cache that ignores lifetimes fails however fast the machine is.
	{"answers cached past the lifetime", checkNameExpiry, cachesAnswers, map[string]any{"cache_ttl_ms": 60000},
		[]string{"After its lifetime ended at 1,000 ms, 16 of 16 steps did not answer 410: at 1,000 ms it answered 301 and still redirected",
			"a day later it answered 301"}},
	{"expires at once", checkNameExpiry, expiresAtOnce, nil,
		[]string{"Within its lifetime, 10 of 10 steps did not redirect to its URL: at 0 ms it answered 410"}},
	{"links only in the caches", checkNameRestart, amnesiac, map[string]any{"cache": CacheLocal},
		[]string{"201 of 201 links answered 404 after the restart", "not in the database"}},
	{"no validation", checkNameInvalid, acceptsAnything, nil,
		[]string{"invalid creations were accepted", "a javascript: URL (answered 201"}},
}

// Each fault fails its check, and says why.
func TestSuiteFaults(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			base := labtest.Env(t, b, "suitefault")
			for _, c := range faults {
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
			assertNothingLeft(t, base)
		})
	}
}
