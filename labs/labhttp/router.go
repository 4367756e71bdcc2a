// Package labhttp is the small HTTP kit a lab instance serves its routes
// with: a router on net/http.ServeMux patterns that declares the routes it
// serves, JSON bodies decoded with a size limit and strict types, query
// numbers parsed whole, and every answer (errors included) in the API's one
// JSON shape, {"error": {"code", "message", "fields"}}.
//
// A lab's handlers are plain http.HandlerFuncs:
//
//	rt := labhttp.NewRouter(env.Log)
//	rt.HandleFunc("POST /request", in.handleRequest)
//	rt.HandleFunc("GET /items/{item}", in.handleItem) // r.PathValue("item")
//
// The web app mounts the router under /api/labs/{lab}/instances/{id}; a
// check reaches the same router through a labs.Target.
package labhttp

import (
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strings"
)

// Route is one endpoint a router serves: "POST" and "/items/{item}".
type Route struct {
	Method  string `json:"method"`
	Pattern string `json:"pattern"`
}

// String is the route as a ServeMux pattern: "POST /items/{item}".
func (r Route) String() string { return r.Method + " " + r.Pattern }

// Path fills the route's {name} wildcards with value, giving a path that
// selects this route (for tests that try every route).
func (r Route) Path(value string) string {
	segs := strings.Split(r.Pattern, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			segs[i] = value
		}
	}
	return strings.Join(segs, "/")
}

// Router serves a lab instance's routes and lists them. Unknown paths
// answer 404 and known paths with another method 405 (with Allow), both as
// JSON errors.
type Router struct {
	mux    *http.ServeMux
	routes []Route
	log    *slog.Logger
}

// NewRouter returns a router with no routes whose handlers' failures go to
// log (the instance's; nil leaves the request's, see WithLogger).
func NewRouter(log *slog.Logger) *Router { return &Router{mux: http.NewServeMux(), log: log} }

// HandleFunc serves pattern ("METHOD /path/{name}") with h. A pattern
// without a method, or one ServeMux refuses, is a programming error and
// panics, as ServeMux does.
func (rt *Router) HandleFunc(pattern string, h http.HandlerFunc) { rt.Handle(pattern, h) }

// Handle serves pattern with h; see HandleFunc.
func (rt *Router) Handle(pattern string, h http.Handler) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok || method == "" || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \t") {
		panic(fmt.Sprintf("labhttp: pattern %q must be \"METHOD /path\"", pattern))
	}
	rt.mux.Handle(pattern, h)
	rt.routes = append(rt.routes, Route{Method: method, Pattern: path})
}

// Routes lists the routes in the order they were added.
func (rt *Router) Routes() []Route { return slices.Clone(rt.routes) }

// ServeHTTP dispatches to the route the request selects.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rt.log != nil {
		r = r.WithContext(WithLogger(r.Context(), rt.log))
	}
	h, pattern := rt.mux.Handler(r)
	if pattern != "" && clean(r.URL.Path) {
		rt.mux.ServeHTTP(w, r) // sets the request's path values, which Handler does not
		return
	}
	// No route: ServeMux would answer in plain text. Learn whether it is
	// a 405 (the path exists with other methods) and answer in JSON. Its
	// redirects (to a cleaned path, or one with a trailing slash) would
	// point outside the mount, so they are 404s here.
	probe := &statusProbe{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if probe.status == http.StatusMethodNotAllowed {
		allow := probe.header.Get("Allow")
		w.Header().Set("Allow", allow)
		WriteError(w, r, Errorf(http.StatusMethodNotAllowed, CodeInvalid, "This lab accepts %s for %s, not %s.", allow, r.URL.Path, r.Method))
		return
	}
	WriteError(w, r, Errorf(http.StatusNotFound, CodeNotFound, "This lab has no %s %s endpoint.", r.Method, r.URL.Path))
}

// clean reports whether p is a clean path, which ServeMux serves rather
// than redirects.
func clean(p string) bool {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

// statusProbe records what a ServeMux error handler would answer.
type statusProbe struct {
	header http.Header
	status int
}

func (p *statusProbe) Header() http.Header { return p.header }

func (p *statusProbe) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.status = http.StatusOK
	}
	return len(b), nil
}

func (p *statusProbe) WriteHeader(status int) {
	if p.status == 0 {
		p.status = status
	}
}
