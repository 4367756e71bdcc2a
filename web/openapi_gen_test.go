package web

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/all"
	"github.com/sdworkbook/workbook/labs/labhttp"
)

var updateOpenAPI = flag.Bool("update", false, "rewrite web/openapi/labs.json from the labs' routers")

// labsOpenAPIFile is the generated part of the OpenAPI document.
const labsOpenAPIFile = "openapi/labs.json"

// wildcard is a ServeMux wildcard: {name}, {name...} or {$}.
var wildcard = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)?(\.\.\.)?(\$)?\}`)

// labUnderTest is one lab's running instance and the routes it serves.
type labUnderTest struct {
	id     string
	info   labs.Info
	inst   string
	routes []labhttp.Route
}

// eachLab launches an instance of every lab of app a as b (who signed up
// with email) with the lab's default design, hands it to fn and stops it,
// one lab at a time, in the registry's order (a learner may run only a
// few instances at once).
func eachLab(t *testing.T, a *testApp, b *browser, email string, fn func(labUnderTest)) {
	t.Helper()
	owner, err := a.store.UserByEmail(t.Context(), email)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range a.app.labs.Labs() {
		id := l.Info().ID
		resp := b.api(http.MethodPost, "/api/labs/"+id+"/instances", `{}`)
		wantStatus(t, resp, http.StatusCreated)
		inst, _ := decodeJSON(t, resp)["id"].(string)
		r, err := a.app.labs.Get(id, inst, owner.ID)
		if err != nil {
			t.Fatal(err)
		}
		routes := labs.RoutesOf(r.Instance())
		if len(routes) == 0 {
			t.Fatalf("%s: its instance lists no routes", id)
		}
		fn(labUnderTest{id: id, info: l.Info(), inst: inst, routes: routes})
		wantStatus(t, b.api(http.MethodDelete, "/api/labs/"+id+"/instances/"+inst, ""), http.StatusNoContent)
	}
}

// pokeOf is the lab's poke that sends rt, if any.
func pokeOf(info labs.Info, rt labhttp.Route) (labs.Poke, bool) {
	for _, p := range info.Pokes {
		path, _, _ := strings.Cut(p.Path, "?")
		if p.Method == rt.Method && routeMatches(rt.Pattern, "/"+path) {
			return p, true
		}
	}
	return labs.Poke{}, false
}

// routeMatches says whether path (whose {names} may be left as they are)
// selects pattern.
func routeMatches(pattern, path string) bool {
	want, segs := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(want) != len(segs) {
		return false
	}
	for i, w := range want {
		if w != segs[i] && !(wildcard.MatchString(w) && segs[i] != "") {
			return false
		}
	}
	return true
}

// openAPIPath is the document's path of a lab's route: the instance's
// prefix with the lab's id, and the route's wildcards as parameters (a
// wildcard named id becomes {route_id}, as {id} is the instance's).
func openAPIPath(lab string, rt labhttp.Route) (string, []string) {
	var names []string
	p := wildcard.ReplaceAllStringFunc(rt.Pattern, func(w string) string {
		m := wildcard.FindStringSubmatch(w)
		if m[3] != "" {
			return ""
		}
		name := m[1]
		if name == "id" || name == "lab" {
			name = "route_" + name
		}
		names = append(names, name)
		return "{" + name + "}"
	})
	return "/api/labs/" + lab + "/instances/{id}" + p, names
}

// labOperation documents one route of a lab, summarised by its poke.
func labOperation(l labUnderTest, rt labhttp.Route, params []string) map[string]any {
	summary, desc := rt.Method+" "+rt.Pattern, ""
	var query []string
	p, poked := pokeOf(l.info, rt)
	if poked {
		summary, desc = p.Label, p.Help
		if _, q, ok := strings.Cut(p.Path, "?"); ok {
			vals, _ := url.ParseQuery(q)
			for k := range vals {
				query = append(query, k)
			}
		}
	}
	ps := []any{map[string]any{"$ref": "#/components/parameters/instance"}}
	for _, n := range params {
		ps = append(ps, map[string]any{"name": n, "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
	}
	slices.Sort(query)
	for _, n := range query {
		ps = append(ps, map[string]any{"name": n, "in": "query", "required": false, "schema": map[string]any{"type": "string"}})
	}
	answer := map[string]any{"description": "The lab's answer.", "content": map[string]any{
		"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/LabAnswer"}}}}
	op := map[string]any{
		"summary":    summary,
		"tags":       []string{"lab: " + l.id},
		"parameters": ps,
		"responses": map[string]any{
			"200":     answer,
			"401":     map[string]any{"$ref": "#/components/responses/Unauthorized"},
			"404":     map[string]any{"$ref": "#/components/responses/NotFound"},
			"default": answer,
		},
	}
	if desc != "" {
		op["description"] = desc
	}
	if rt.Method == http.MethodPost || rt.Method == http.MethodPut || rt.Method == http.MethodPatch {
		op["requestBody"] = map[string]any{"required": false, "content": map[string]any{
			"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}}
	}
	return op
}

// labPathsDocument is the generated part of the document: every lab's
// routes, indented JSON with sorted keys.
func labPathsDocument(t *testing.T, ls []labUnderTest) []byte {
	t.Helper()
	paths := map[string]map[string]any{}
	for _, l := range ls {
		for _, rt := range l.routes {
			p, params := openAPIPath(l.id, rt)
			if paths[p] == nil {
				paths[p] = map[string]any{}
			}
			paths[p][strings.ToLower(rt.Method)] = labOperation(l, rt, params)
		}
	}
	b, err := json.MarshalIndent(map[string]any{"paths": paths}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// embeddedApp runs the app with every lab on the embedded SQLite and Redis
// and registers one learner.
func embeddedApp(t *testing.T) (*testApp, *browser) {
	t.Helper()
	a := MustStartLabs(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, all.Registry().Labs()...)
	return a, MustRegister(t, a, "ada@example.com")
}

// The lab part of the OpenAPI document is what the labs' routers serve:
// a route added to a lab without regenerating the document fails here.
// Regenerate with: go test ./web -run TestOpenAPIDocument -update
func TestOpenAPIDocument(t *testing.T) {
	a, ada := embeddedApp(t)
	var ls []labUnderTest
	eachLab(t, a, ada, "ada@example.com", func(l labUnderTest) { ls = append(ls, l) })
	got := labPathsDocument(t, ls)
	file := filepath.FromSlash(labsOpenAPIFile)
	if *updateOpenAPI {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, openAPILabs) {
		t.Fatalf("%s differs from the labs' routers; run: go test ./web -run TestOpenAPIDocument -update", labsOpenAPIFile)
	}
}
