package shortener

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labhttp"
	"github.com/sdworkbook/workbook/labs/labtest"
)

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

// rerouted is an instance one of whose routes is replaced: its handler
// serves pattern with its own function, and everything else as the
// instance does.
type rerouted struct {
	*instance
	handler http.Handler
}

func (r rerouted) Handler() http.Handler { return r.handler }

// replacement makes a route's new handler from the instance and the
// instance's own handler.
type replacement func(in *instance, orig http.Handler) http.HandlerFunc

func reroute(pattern string, h replacement) wrapLab {
	return wrapLab{Lab: Lab, wrap: func(in *instance) labs.Instance {
		mux := http.NewServeMux()
		mux.Handle("/", in.Handler())
		mux.Handle(pattern, h(in, in.Handler()))
		return rerouted{in, mux}
	}}
}

// replay writes rec's answer to w.
func replay(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// rewrite runs orig into a recorder and lets f change its answer.
func rewrite(f func(rec *httptest.ResponseRecorder)) replacement {
	return func(_ *instance, orig http.Handler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			orig.ServeHTTP(rec, r)
			f(rec)
			replay(w, rec)
		}
	}
}

var (
	// dropsQuery "normalises" the target by cutting its query off.
	dropsQuery = reroute("GET /r/{code}", rewrite(func(rec *httptest.ResponseRecorder) {
		if loc := rec.Header().Get("Location"); loc != "" {
			loc, _, _ = strings.Cut(loc, "?")
			rec.Header().Set("Location", loc)
		}
	}))
	// ignoresTTL drops ttl_s from every creation.
	ignoresTTL = reroute("POST /shorten", func(_ *instance, orig http.Handler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var m map[string]any
			b, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(b, &m)
			delete(m, "ttl_s")
			b, _ = json.Marshal(m)
			r.Body = io.NopCloser(bytes.NewReader(b))
			orig.ServeHTTP(w, r)
		}
	})
	// forgetsExpired answers 404 for an expired link, as a design that
	// deletes expired rows would.
	forgetsExpired = reroute("GET /r/{code}", rewrite(func(rec *httptest.ResponseRecorder) {
		if rec.Code == http.StatusGone {
			rec.Code = http.StatusNotFound
		}
	}))
	// cachesAnswers keeps each redirect's answer in Redis for
	// cache_ttl_ms, on Redis's own clock, and replays it without looking
	// at the link's lifetime: a cache that serves a link past its end.
	cachesAnswers = reroute("GET /r/{code}", func(in *instance, orig http.Handler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			key := in.env.Prefix + "answer:" + r.PathValue("code")
			if v, err := in.rdb.Get(r.Context(), key).Result(); err == nil {
				status, loc, _ := strings.Cut(v, " ")
				n, _ := strconv.Atoi(status)
				w.Header().Set("Location", loc)
				w.WriteHeader(n)
				return
			}
			rec := httptest.NewRecorder()
			orig.ServeHTTP(rec, r)
			if isRedirect(rec.Code) {
				_ = in.rdb.Set(r.Context(), key, strconv.Itoa(rec.Code)+" "+rec.Header().Get("Location"), in.cfg.cacheTTL).Err()
			}
			replay(w, rec)
		}
	})
	// expiresAtOnce answers 410 for every link with a lifetime, as a
	// design that mixes up seconds and milliseconds might.
	expiresAtOnce = reroute("GET /r/{code}", func(in *instance, orig http.Handler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if e, _, err := in.lookup(r.Context(), r.PathValue("code")); err == nil && e.found && e.expiresMS != 0 {
				labhttp.WriteError(w, r, labhttp.Errorf(http.StatusGone, labhttp.CodeNotFound, "expired"))
				return
			}
			orig.ServeHTTP(w, r)
		}
	})
	// acceptsAnything creates whatever it is sent, without validation.
	acceptsAnything = reroute("POST /shorten", func(in *instance, _ http.Handler) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var m struct {
				URL   string `json:"url"`
				Alias string `json:"alias"`
			}
			b, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(b, &m)
			l, _, err := in.create(r.Context(), createRequest{URL: m.URL, Alias: m.Alias})
			if err != nil {
				labhttp.WriteError(w, r, labhttp.Conflict("", "%s", err.Error()))
				return
			}
			labhttp.WriteJSON(w, http.StatusCreated, Created{Code: l.Code, Path: "r/" + l.Code, URL: l.URL})
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
