package web

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/all"
	"github.com/sdworkbook/workbook/labs/labhttp"
)

// instanceRoutes are the routes under an instance of lab l that the app
// itself serves (the instance, its events and load runs), then the routes
// the lab's instance declares.
func instanceRoutes(inst labs.Instance) []labhttp.Route {
	rs := []labhttp.Route{{Method: "GET", Pattern: ""}, {Method: "PATCH", Pattern: ""}, {Method: "DELETE", Pattern: ""},
		{Method: "GET", Pattern: "/events"}, {Method: "POST", Pattern: "/load"}}
	return append(rs, labs.RoutesOf(inst)...)
}

// Every route under every lab's instances belongs to the learner who
// launched the instance: another learner, an instructor and an admin get
// exactly the answer of a missing instance (404, the same body), the
// anonymous a 401, and the owner gets the lab's own answer. The routes
// are the ones each lab declares, so a route a lab adds is covered.
func TestEveryLabRouteIsItsOwners(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStartLabs(t, be, nil, all.Registry().Labs()...)
			ada := MustRegister(t, a, "ada@example.com")
			others := map[string]*browser{"bob": MustRegister(t, a, "bob@example.com"), "teacher": MustRegister(t, a, "teacher@example.com"),
				"admin": MustRegister(t, a, "admin@example.com"), "anon": newBrowser(t, a)}
			ctx := context.Background()
			for who, role := range map[string]store.Role{"teacher": store.RoleInstructor, "admin": store.RoleAdmin} {
				u, _ := a.store.UserByEmail(ctx, who+"@example.com")
				if err := a.store.SetRole(ctx, u.ID, role); err != nil {
					t.Fatal(err)
				}
			}
			owner, _ := a.store.UserByEmail(ctx, "ada@example.com")
			for _, l := range a.app.labs.Labs() {
				id := l.Info().ID
				resp := ada.api(http.MethodPost, "/api/labs/"+id+"/instances", `{}`)
				wantStatus(t, resp, http.StatusCreated)
				inst, _ := decodeJSON(t, resp)["id"].(string)
				r, err := a.app.labs.Get(id, inst, owner.ID)
				if err != nil {
					t.Fatal(err)
				}
				routes := instanceRoutes(r.Instance())
				if len(routes) <= 5 {
					t.Errorf("%s declares no routes of its own", id)
				}
				for _, rt := range routes {
					checkLabRoute(t, ada, others, "/api/labs/"+id+"/instances/", inst, rt)
				}
				wantStatus(t, ada.api(http.MethodGet, "/api/labs/"+id+"/instances/"+inst, ""), http.StatusOK)
				wantStatus(t, ada.api(http.MethodDelete, "/api/labs/"+id+"/instances/"+inst, ""), http.StatusNoContent)
			}
		})
	}
}

// checkLabRoute sends rt on instance inst as each visitor, and on a
// missing instance, and compares the answers.
func checkLabRoute(t *testing.T, owner *browser, others map[string]*browser, base, inst string, rt labhttp.Route) {
	t.Helper()
	path := rt.Path("x")
	send := func(b *browser, id string) (int, string) {
		resp := b.api(rt.Method, base+id+path, "")
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	missingStatus, missing := send(owner, "nothere0")
	if missingStatus != http.StatusNotFound || !strings.Contains(missing, `"not_found"`) {
		t.Errorf("%s %s on a missing instance: %d %s", rt.Method, path, missingStatus, missing)
	}
	for who, b := range others {
		status, body := send(b, inst)
		switch {
		case who == "anon" && status != http.StatusUnauthorized:
			t.Errorf("anon %s %s: %d, want 401", rt.Method, base+inst+path, status)
		case who != "anon" && (status != http.StatusNotFound || body != missing):
			t.Errorf("%s %s %s: %d %s, want the missing instance's 404 %s", who, rt.Method, base+inst+path, status, body, missing)
		}
	}
	if rt.Method == http.MethodDelete || (rt.Pattern == "/events" && rt.Method == http.MethodGet) {
		return // the owner's own stop and endless stream are tried elsewhere
	}
	if status, body := send(owner, inst); status == http.StatusUnauthorized || status == http.StatusForbidden || body == missing || status >= 500 {
		t.Errorf("owner %s %s: %d %s", rt.Method, base+inst+path, status, body)
	}
}
