package web

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/all"
)

// appOnlyPath says whether a documented path is one of the app's own
// rather than one lab's route (those name the lab in the path).
func appOnlyPath(p string) bool {
	return !strings.HasPrefix(p, "/api/labs/") || strings.HasPrefix(p, "/api/labs/{lab}")
}

// The served document is public, cacheable and valid OpenAPI 3.1; real
// answers of every documented app route (successes and the shared
// errors) and of every route of every lab match it.
func TestOpenAPIResponses(t *testing.T) {
	ls := slices.DeleteFunc(all.Registry().Labs(), func(l labs.Lab) bool { return l.Info().ID == "limiter" })
	a := MustStartLabs(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, append(ls, buildLabs...)...)
	anon := newBrowser(t, a)
	resp := anon.get("/api/openapi.json")
	wantStatus(t, resp, http.StatusOK)
	etag := resp.Header.Get("ETag")
	k := newAPIChecker(t, (&apiChecker{t: t}).read(resp))
	k.expect(resp, http.StatusOK)
	again, _ := http.NewRequest(http.MethodGet, a.URL+"/api/openapi.json", nil)
	again.Header.Set("If-None-Match", etag)
	k.expect(anon.do(again), http.StatusNotModified)

	ada := MustRegister(t, a, "ada@example.com")
	checkLabAPI(t, k, anon, ada)
	checkGradingAPI(t, k, anon, ada)
	checkClassAPI(t, k, a, ada)
	eachLab(t, a, ada, "ada@example.com", func(l labUnderTest) { checkLabRoutes(t, k, ada, l) })
	if missed := k.unseen(appOnlyPath); len(missed) > 0 {
		t.Errorf("documented operations no test answer was checked against: %v", missed)
	}
}

func checkLabAPI(t *testing.T, k *apiChecker, anon, ada *browser) {
	k.expect(ada.api(http.MethodGet, "/api/labs", ""), http.StatusOK)
	k.expect(anon.api(http.MethodPost, "/api/labs/limiter/instances", `{}`), http.StatusUnauthorized)
	k.expect(ada.api(http.MethodPost, "/api/labs/nolab/instances", `{}`), http.StatusNotFound)
	k.expect(ada.api(http.MethodPost, "/api/labs/limiter/instances", `{"limit": "ten"}`), http.StatusUnprocessableEntity)
	k.expect(ada.api(http.MethodPost, "/api/labs/limiter/instances", `{`), http.StatusUnprocessableEntity)
	inst := decodeBody(t, k.expect(ada.api(http.MethodPost, "/api/labs/limiter/instances", `{"limit": 5}`), http.StatusCreated))["id"].(string)
	base := "/api/labs/limiter/instances/" + inst
	k.expect(ada.api(http.MethodGet, base, ""), http.StatusOK)
	k.expect(ada.api(http.MethodGet, "/api/labs/limiter/instances/nothere0", ""), http.StatusNotFound)
	k.expect(ada.api(http.MethodPatch, base, `{"limit": 7}`), http.StatusOK)
	k.expect(ada.api(http.MethodPatch, base, `{"limit": 0}`), http.StatusUnprocessableEntity)
	k.expect(ada.api(http.MethodPost, base+"/load", `{"requests": 20, "concurrency": 2, "keys": 1}`), http.StatusOK)
	k.expect(ada.api(http.MethodPost, base+"/load", `{"requests": 0}`), http.StatusUnprocessableEntity)
	k.stream(ada, base+"/events")
	k.expect(ada.api(http.MethodDelete, base, ""), http.StatusNoContent)
}

func checkGradingAPI(t *testing.T, k *apiChecker, anon, ada *browser) {
	k.expect(anon.api(http.MethodGet, "/api/exercises", ""), http.StatusOK)
	var design string
	for _, e := range decodeBody(t, k.expect(ada.api(http.MethodGet, "/api/exercises?lab=limiter", ""), http.StatusOK))["exercises"].([]any) {
		if ex := e.(map[string]any); ex["kind"] == "design" && design == "" {
			design = ex["id"].(string)
		}
	}
	k.expect(anon.get("/api/exercises/"+testBuildExercise+"/starter?lang=go"), http.StatusOK)
	k.expect(anon.get("/api/exercises/"+testBuildExercise+"/starter?lang=cobol"), http.StatusBadRequest)
	k.expect(anon.get("/api/exercises/nothere/starter?lang=go"), http.StatusNotFound)

	sub := decodeBody(t, k.expect(ada.api(http.MethodPost, "/api/labs/limiter/submissions",
		`{"exercise": "`+design+`", "design": {}, "notes": "defaults"}`), http.StatusAccepted))["id"].(string)
	k.expect(ada.api(http.MethodPost, "/api/labs/limiter/submissions", `{"exercise": "nothere", "design": {}}`), http.StatusUnprocessableEntity)
	k.expect(ada.api(http.MethodGet, "/api/submissions/"+sub, ""), http.StatusOK)
	k.expect(anon.api(http.MethodGet, "/api/submissions/"+sub, ""), http.StatusUnauthorized)
	k.expect(ada.api(http.MethodGet, "/api/submissions/nothere", ""), http.StatusNotFound)
	k.stream(ada, "/api/submissions/"+sub+"/events")

	build := decodeBody(t, k.expect(ada.upload("/api/labs/limiter/submissions", map[string]string{"exercise": testBuildExercise, "language": "python"},
		zipOf(t, "app.py", pyService), true), http.StatusAccepted))["id"].(string)
	k.expect(ada.upload("/api/labs/limiter/submissions", map[string]string{"exercise": testBuildExercise}, nil, true), http.StatusUnprocessableEntity)
	k.expect(ada.api(http.MethodGet, "/api/submissions/"+build, ""), http.StatusOK)
	k.expect(ada.get("/api/submissions/"+build+"/archive"), http.StatusOK)
}

func checkClassAPI(t *testing.T, k *apiChecker, a *testApp, ada *browser) {
	teacher := MustRegister(t, a, "teacher@example.com")
	MustSetRole(t, a, "teacher@example.com", store.RoleInstructor)
	k.expect(ada.api(http.MethodPost, "/api/classes", `{"name": "Mine"}`), http.StatusForbidden)
	k.expect(teacher.api(http.MethodPost, "/api/classes", `{"name": ""}`), http.StatusUnprocessableEntity)
	cl := decodeBody(t, k.expect(teacher.api(http.MethodPost, "/api/classes", `{"name": "Spring cohort"}`), http.StatusCreated))
	id := strings.TrimPrefix(cl["url"].(string), "/classes/")
	k.expect(ada.api(http.MethodPost, "/api/classes/join", `{"join_code": "`+cl["join_code"].(string)+`"}`), http.StatusOK)
	k.expect(ada.api(http.MethodPost, "/api/classes/join", `{"code": 1}`), http.StatusUnprocessableEntity)
	k.expect(ada.api(http.MethodGet, "/api/classes", ""), http.StatusOK)
	k.expect(teacher.api(http.MethodGet, "/api/classes/"+id+"/gradebook?sort=name&dir=desc", ""), http.StatusOK)
	k.expect(teacher.api(http.MethodGet, "/api/classes/"+id+"/gradebook?only="+url.QueryEscape("never"), ""), http.StatusUnprocessableEntity)
	k.expect(ada.api(http.MethodGet, "/api/classes/"+id+"/gradebook", ""), http.StatusNotFound)
}

// checkLabRoutes sends every route of one lab's instance, as its poke
// sends it when the lab has one, and checks each answer.
func checkLabRoutes(t *testing.T, k *apiChecker, b *browser, l labUnderTest) {
	base := "/api/labs/" + l.id + "/instances/" + l.inst
	for _, rt := range l.routes {
		path, body := rt.Path("x"), ""
		if p, ok := pokeOf(l.info, rt); ok {
			path, body = "/"+p.Path, p.Body
			for _, pp := range p.Params {
				path = strings.ReplaceAll(path, "{"+pp.Name+"}", url.QueryEscape(pp.Value))
			}
			path = fillWildcards(path)
		}
		resp := b.api(rt.Method, base+path, body)
		if resp.StatusCode >= 500 {
			t.Errorf("%s %s%s: %d", rt.Method, base, path, resp.StatusCode)
		}
		k.check(resp)
	}
}

// fillWildcards puts x in any {name} a poke's path leaves to the learner.
func fillWildcards(path string) string {
	p, q, _ := strings.Cut(path, "?")
	p = wildcard.ReplaceAllString(p, "x")
	if q != "" {
		return p + "?" + q
	}
	return p
}

// Every route of gin's table under /api/ is documented, and every
// documented path is served: the app's by its own route, each lab's by
// the instance's catch-all route of a lab the app serves.
func TestOpenAPICoversTheRouteTable(t *testing.T) {
	a := MustStartLabs(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, all.Registry().Labs()...)
	k := newAPIChecker(t, a.app.apiDoc.body)
	served := map[string][]string{} // path as documented → methods
	for _, r := range a.app.engine.Routes() {
		if !strings.HasPrefix(r.Path, "/api/") {
			continue
		}
		p := ginParam.ReplaceAllString(r.Path, "{$1}")
		served[p] = append(served[p], r.Method)
	}
	documented := map[string][]string{}
	for p, item := range k.model.Paths.PathItems.FromOldest() {
		for m := range item.GetOperations().KeysFromOldest() {
			documented[p] = append(documented[p], strings.ToUpper(m))
		}
	}
	for p, methods := range served {
		if strings.HasSuffix(p, "/*rest") {
			continue // the labs' routes and the instance's events and load, below
		}
		viaAny := len(methods) >= len(anyMethods)
		for _, m := range methods {
			if !slices.Contains(documented[p], m) && (!viaAny || len(documented[p]) == 0) {
				t.Errorf("%s %s is served but not documented", m, p)
			}
		}
	}
	labIDs := map[string]bool{}
	for _, l := range a.app.labs.Labs() {
		labIDs[l.Info().ID] = true
	}
	rest := served["/api/labs/{lab}/instances/{id}/*rest"]
	for p, methods := range documented {
		for _, m := range methods {
			if !servesDocumented(served, rest, labIDs, p, m) {
				t.Errorf("%s %s is documented but not served", m, p)
			}
		}
	}
}

var (
	ginParam   = regexp.MustCompile(`:([A-Za-z_]+)`)
	anyMethods = []string{"GET", "POST", "PUT", "PATCH", "HEAD", "OPTIONS", "DELETE", "CONNECT", "TRACE"}
	labPath    = regexp.MustCompile(`^/api/labs/([a-z0-9]+|\{lab\})/instances/\{id\}/.+`)
)

// servesDocumented says whether gin serves method m on documented path p:
// by a route of its own, or, under a lab's instance, by the catch-all of
// the lab routes (of a lab the app serves).
func servesDocumented(served map[string][]string, rest []string, labIDs map[string]bool, p, m string) bool {
	if slices.Contains(served[p], m) {
		return true
	}
	sub := labPath.FindStringSubmatch(p)
	if sub == nil || !slices.Contains(rest, m) {
		return false
	}
	return sub[1] == "{lab}" || labIDs[sub[1]]
}
