package labs

import (
	"net/http"
	"strings"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

// This file is the old way a lab served its routes: a list of Route
// values, each a handler with its path parameters in Params. Labs being
// converted to Handler() and labs/labhttp still use it; it goes with the
// last of them.

// Route is one endpoint of a lab not yet converted to Handler. Path is
// relative to the instance and may hold {name} segments: "items/{item}".
type Route struct {
	Method string
	Path   string
	Handle func(w http.ResponseWriter, r *http.Request, p Params)
}

// Params are a Route's path parameters.
type Params map[string]string

// legacy is an instance that declares Routes instead of a Handler.
type legacy interface {
	Routes() []Route
}

// routerOf serves old-style routes on a labhttp.Router: the same patterns,
// matched by ServeMux, with the parameters handed over as Params.
func routerOf(routes []Route) *labhttp.Router {
	rt := labhttp.NewRouter(nil)
	for _, r := range routes {
		var names []string
		for _, seg := range split(r.Path) {
			if len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}' {
				names = append(names, seg[1:len(seg)-1])
			}
		}
		handle := r.Handle
		rt.HandleFunc(r.Method+" /"+strings.Trim(r.Path, "/"), func(w http.ResponseWriter, req *http.Request) {
			p := Params{}
			for _, n := range names {
				p[n] = req.PathValue(n)
			}
			handle(w, req, p)
		})
	}
	return rt
}

// MatchRoute reports whether a request's method and path (relative to the
// instance) select route rt, with its path parameters. Only the old-style
// labs' own tests still call it.
func MatchRoute(rt Route, method, path string) (Params, bool) {
	if rt.Method != method {
		return nil, false
	}
	return match(rt.Path, path)
}

// match reports whether path (relative, no leading slash) matches pattern.
func match(pattern, path string) (Params, bool) {
	ps, ss := split(pattern), split(path)
	if len(ps) != len(ss) {
		return nil, false
	}
	p := Params{}
	for i, seg := range ps {
		if len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}' {
			if ss[i] == "" {
				return nil, false
			}
			p[seg[1:len(seg)-1]] = ss[i]
			continue
		}
		if seg != ss[i] {
			return nil, false
		}
	}
	return p, true
}

func split(s string) []string {
	s = strings.Trim(s, "/")
	if s == "" {
		return nil
	}
	return strings.Split(s, "/")
}

// WriteJSON answers a lab route with v as JSON (labhttp.WriteJSON).
func WriteJSON(w http.ResponseWriter, status int, v any) { labhttp.WriteJSON(w, status, v) }

// ErrorBody is a lab route's error answer, the API's one shape:
// {"error": {"code", "message", "fields"}}.
type ErrorBody = labhttp.Body

// WriteError answers a lab route with an error naming field ("" for
// none), in the API's one shape. Converted labs return a *labhttp.Error
// to labhttp.WriteError instead.
func WriteError(w http.ResponseWriter, status int, field, msg string) {
	code := labhttp.CodeInvalid
	switch {
	case status == http.StatusNotFound, status == http.StatusGone:
		code = labhttp.CodeNotFound
	case status == http.StatusConflict:
		code = labhttp.CodeConflict
	case status == http.StatusTooManyRequests:
		code = labhttp.CodeTooMany
	case status == http.StatusServiceUnavailable:
		code = labhttp.CodeUnavailable
	case status >= 500:
		code = labhttp.CodeInternal
	}
	e := labhttp.Errorf(status, code, "%s", msg)
	if field != "" {
		e.Fields = map[string]string{field: msg}
	}
	labhttp.WriteError(w, nil, e)
}
