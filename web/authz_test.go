package web

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// Who may use a route.
type policy int

const (
	public policy = iota // anyone, signed in or not
	user                 // any signed-in account
	owner                // the learner whose object it is; anyone else 404
	member               // the class's instructor, an admin, or a learner in it
	class                // the class's instructor or an admin; anyone else 404
	staff                // instructors and admins; learners 403
	admin                // admins; everyone else 403
	// nobody may: the object is out of reach through this path (another
	// class's submission, or an exercise this class does not assign); every
	// signed-in visitor gets the 404 of a missing object.
	nobody
)

// routeCase is one route of the table, with a request that exercises it.
type routeCase struct {
	method, pattern string
	policy          policy
	path            string     // the concrete path, objects filled in
	form            url.Values // sent on a POST
	json            string     // sent on an /api/ POST instead of form
	// destructive routes are only sent by those refused: the test's
	// objects must survive every refused request.
	destructive bool
	// unknown is the path with an object that does not exist: 404 for
	// anyone who may use the route.
	unknown string
}

// Every route of the application is in the table below (the emailed
// links' routes are in emailRouteCases) with who may use it; the test
// fails when a route is added without a row. For each row,
// every kind of visitor is tried: refused ones get the login page or 401,
// 403 for a wrong role, and 404 for an object that is not theirs (as if it
// did not exist), and nothing a refused request could destroy is gone.
func TestEveryRouteIsAuthorized(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStartLabs(t, be, nil, limiter.Lab)
			ctx := context.Background()
			actors := map[string]*browser{
				"anon":    newBrowser(t, a),
				"admin":   MustAdmin(t, a, "admin@example.com"),
				"teacher": MustRegister(t, a, "teacher@example.com"),
				"rival":   MustRegister(t, a, "rival@example.com"),
				"ada":     MustRegister(t, a, "ada@example.com"),
				"bob":     MustRegister(t, a, "bob@example.com"),
			}
			ids := map[string]int64{}
			for _, who := range []string{"admin", "teacher", "rival", "ada", "bob"} {
				u, _ := a.store.UserByEmail(ctx, who+"@example.com")
				ids[who] = u.ID
			}
			for _, who := range []string{"teacher", "rival"} {
				if err := a.store.SetRole(ctx, ids[who], store.RoleInstructor); err != nil {
					t.Fatal(err)
				}
			}
			// The objects: the teacher's class with ada in it and an
			// assignment; ada's graded submission, lab instance and token;
			// the rival's class, which visitors may join.
			// Ada is in the rival's class too, which does not assign the
			// exercise: the rival reaches none of her submissions to it.
			cl, _ := a.store.CreateClass(ctx, ids["teacher"], "Spring", time.Now())
			open, _ := a.store.CreateClass(ctx, ids["rival"], "Open house", time.Now())
			for _, c := range []store.Class{cl, open} {
				if err := a.store.JoinClass(ctx, c.ID, ids["ada"], time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			as := store.Assignment{ClassID: cl.ID, Kind: store.AssignExercise, Ref: limiterExercise, CreatedAt: time.Now()}
			if err := a.store.AddAssignment(ctx, &as); err != nil {
				t.Fatal(err)
			}
			score := 75
			sub := store.Submission{ID: store.NewSubmissionID(), UserID: ids["ada"], Lab: "limiter", Exercise: limiterExercise,
				Design: "{}", Status: store.StatusGraded, Score: &score, MaxScore: 100, CreatedAt: time.Now()}
			if err := a.store.CreateSubmission(ctx, &sub, func(context.Context, *sql.Tx) (int64, error) { return 0, nil }); err != nil {
				t.Fatal(err)
			}
			resp := actors["ada"].api(http.MethodPost, "/api/labs/limiter/instances", `{}`)
			wantStatus(t, resp, http.StatusCreated)
			inst, _ := decodeJSON(t, resp)["id"].(string)
			newToken(t, actors["ada"], "ada's script")
			toks, _ := a.store.Tokens(ctx, ids["ada"])
			adaSessions, _ := a.store.SessionsOf(ctx, ids["ada"])
			if len(adaSessions) != 1 {
				t.Fatalf("ada has %d sessions", len(adaSessions))
			}
			inv, err := a.store.CreateInvitation(ctx, store.Invitation{Email: "invited@example.com", Role: store.RoleLearner, TokenHash: "invitation",
				CreatedBy: ids["admin"], CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}, 10)
			if err != nil {
				t.Fatal(err)
			}

			cid, aid := strconv.FormatInt(cl.ID, 10), strconv.FormatInt(as.ID, 10)
			classBase := "/classes/" + cid
			rivalSub := "/classes/" + strconv.FormatInt(open.ID, 10) + "/submissions/" + sub.ID
			instBase := "/api/labs/limiter/instances/" + inst
			tid := strconv.FormatInt(toks[0].ID, 10)
			rows := append(emailRouteCases(t, a, ids["bob"]), []routeCase{
				{method: "GET", pattern: "/healthz", policy: public, path: "/healthz"},
				{method: "GET", pattern: "/readyz", policy: public, path: "/readyz"},
				{method: "GET", pattern: "/static/*path", policy: public, path: "/static/app.css"},
				{method: "HEAD", pattern: "/static/*path", policy: public, path: "/static/app.css"},
				{method: "GET", pattern: "/", policy: public, path: "/"},
				{method: "GET", pattern: "/register", policy: public, path: "/register"},
				{method: "POST", pattern: "/register", policy: public, path: "/register", destructive: true},
				{method: "GET", pattern: "/login", policy: public, path: "/login"},
				{method: "POST", pattern: "/login", policy: public, path: "/login", destructive: true},
				{method: "POST", pattern: "/logout", policy: public, path: "/logout", destructive: true},
				// Setup links work once, before there is an admin: here every
				// link is a 404, for everyone.
				{method: "GET", pattern: "/setup/:token", policy: public, path: "/setup/nope", destructive: true, unknown: "/setup/nope"},
				{method: "POST", pattern: "/setup/:token", policy: public, path: "/setup/nope", destructive: true, unknown: "/setup/nope"},
				{method: "GET", pattern: "/lessons", policy: public, path: "/lessons"},
				{method: "GET", pattern: "/lessons/diagrams/:file", policy: public, path: "/lessons/diagrams/" + firstDiagram(t, a)},
				{method: "GET", pattern: "/lessons/:slug", policy: public, path: "/lessons/cap"},
				{method: "POST", pattern: "/lessons/:slug/complete", policy: user, path: "/lessons/cap/complete"},
				{method: "GET", pattern: "/lessons/:slug/quiz", policy: public, path: "/lessons/cap/quiz"},
				{method: "POST", pattern: "/lessons/:slug/quiz", policy: public, path: "/lessons/cap/quiz"},
				{method: "GET", pattern: "/questions", policy: public, path: "/questions"},
				{method: "GET", pattern: "/questions/:slug", policy: public, path: "/questions/" + firstQuestion(t, a)},
				{method: "POST", pattern: "/questions/:slug/answer", policy: user, path: "/questions/" + firstQuestion(t, a) + "/answer"},
				{method: "POST", pattern: "/questions/:slug/rate", policy: user, path: "/questions/" + firstQuestion(t, a) + "/rate"},
				{method: "GET", pattern: "/review", policy: user, path: "/review"},
				{method: "POST", pattern: "/review", policy: user, path: "/review"},
				{method: "GET", pattern: "/progress", policy: user, path: "/progress"},
				{method: "POST", pattern: "/progress/outcomes", policy: user, path: "/progress/outcomes",
					form: url.Values{"outcome": {a.app.catalog().Outcomes[0].ID}, "ticked": {"true"}}},
				{method: "GET", pattern: "/search", policy: public, path: "/search?q=cap"},
				{method: "GET", pattern: "/labs", policy: public, path: "/labs"},
				{method: "GET", pattern: "/labs/:lab", policy: public, path: "/labs/limiter"},
				{method: "POST", pattern: "/labs/:lab", policy: user, path: "/labs/limiter", form: url.Values{"algorithm": {"nonsense"}}},
				{method: "POST", pattern: "/labs/:lab/instances/:id/stop", policy: owner, path: "/labs/limiter/instances/" + inst + "/stop", destructive: true,
					unknown: "/labs/limiter/instances/nope/stop"},
				{method: "GET", pattern: "/labs/:lab/exercises/:exercise", policy: public, path: "/labs/limiter/exercises/" + limiterExercise},
				{method: "POST", pattern: "/labs/:lab/exercises/:exercise", policy: user, path: "/labs/limiter/exercises/" + limiterExercise,
					form: url.Values{"algorithm": {"nonsense"}}},
				{method: "GET", pattern: "/classes", policy: user, path: "/classes"},
				{method: "POST", pattern: "/classes", policy: staff, path: "/classes"},
				{method: "POST", pattern: "/classes/join", policy: user, path: "/classes/join", form: url.Values{"code": {open.JoinCode}}},
				{method: "GET", pattern: "/join/:code", policy: public, path: "/join/" + open.JoinCode},
				{method: "POST", pattern: "/join/:code", policy: user, path: "/join/" + open.JoinCode},
				{method: "GET", pattern: "/classes/:id", policy: member, path: classBase, unknown: "/classes/999999"},
				{method: "POST", pattern: "/classes/:id/delete", policy: class, path: classBase + "/delete", form: url.Values{"confirm": {"not the name"}},
					unknown: "/classes/999999/delete"},
				{method: "POST", pattern: "/classes/:id/assignments", policy: class, path: classBase + "/assignments", unknown: "/classes/999999/assignments"},
				{method: "POST", pattern: "/classes/:id/assignments/:aid/delete", policy: class, path: classBase + "/assignments/" + aid + "/delete", destructive: true,
					unknown: classBase + "/assignments/999999/delete"},
				{method: "POST", pattern: "/classes/:id/assignments/:aid/regrade", policy: class, path: classBase + "/assignments/" + aid + "/regrade", destructive: true,
					unknown: classBase + "/assignments/999999/regrade"},
				{method: "GET", pattern: "/classes/:id/gradebook.csv", policy: class, path: classBase + "/gradebook.csv", unknown: "/classes/999999/gradebook.csv"},
				{method: "GET", pattern: "/classes/:id/results.json", policy: class, path: classBase + "/results.json", unknown: "/classes/999999/results.json"},
				{method: "GET", pattern: "/classes/:id/submissions/:sid", policy: class, path: classBase + "/submissions/" + sub.ID,
					unknown: classBase + "/submissions/nope"},
				{method: "POST", pattern: "/classes/:id/submissions/:sid/review", policy: class, path: classBase + "/submissions/" + sub.ID + "/review",
					form: url.Values{"score": {"999"}}, unknown: classBase + "/submissions/nope/review"},
				{method: "POST", pattern: "/classes/:id/submissions/:sid/regrade", policy: class, path: classBase + "/submissions/" + sub.ID + "/regrade",
					destructive: true, unknown: classBase + "/submissions/nope/regrade"},
				// Through a class that does not assign the exercise: no one,
				// not its instructor, not an admin.
				{method: "GET", pattern: "/classes/:id/submissions/:sid", policy: nobody, path: rivalSub},
				{method: "POST", pattern: "/classes/:id/submissions/:sid/review", policy: nobody, path: rivalSub + "/review",
					form: url.Values{"score": {"0"}, "reason": {"overridden from another class"}, "feedback": {"hello"}}},
				{method: "POST", pattern: "/classes/:id/submissions/:sid/regrade", policy: nobody, path: rivalSub + "/regrade"},
				{method: "GET", pattern: "/account", policy: user, path: "/account"},
				{method: "POST", pattern: "/account/tokens", policy: user, path: "/account/tokens"},
				{method: "POST", pattern: "/account/tokens/:tid/revoke", policy: owner, path: "/account/tokens/" + tid + "/revoke", destructive: true,
					unknown: "/account/tokens/999999/revoke"},
				{method: "POST", pattern: "/account/password", policy: user, path: "/account/password", form: url.Values{"current_password": {""}}},
				{method: "POST", pattern: "/account/sessions/others/logout", policy: user, path: "/account/sessions/others/logout"},
				{method: "POST", pattern: "/account/sessions/:sid/logout", policy: owner, path: "/account/sessions/" + sessionHandle(adaSessions[0].ID) + "/logout",
					destructive: true, unknown: "/account/sessions/0123456789abcdef/logout"},
				{method: "GET", pattern: "/notices", policy: user, path: "/notices"},
				{method: "POST", pattern: "/notices/read", policy: user, path: "/notices/read"},
				{method: "GET", pattern: "/admin/users", policy: admin, path: "/admin/users"},
				{method: "POST", pattern: "/admin/users/:uid/role", policy: admin, path: "/admin/users/" + strconv.FormatInt(ids["bob"], 10) + "/role",
					form: url.Values{"role": {"emperor"}}},
				{method: "POST", pattern: "/admin/invitations", policy: admin, path: "/admin/invitations", form: url.Values{"email": {""}}},
				{method: "POST", pattern: "/admin/invitations/:iid/revoke", policy: admin, path: "/admin/invitations/" + strconv.FormatInt(inv.ID, 10) + "/revoke",
					destructive: true, unknown: "/admin/invitations/999999/revoke"},
				{method: "GET", pattern: "/submissions/:id", policy: owner, path: "/submissions/" + sub.ID, unknown: "/submissions/nope"},
				{method: "GET", pattern: "/submissions/:id/results", policy: owner, path: "/submissions/" + sub.ID + "/results", unknown: "/submissions/nope/results"},
				{method: "GET", pattern: "/api/labs", policy: public, path: "/api/labs"},
				{method: "POST", pattern: "/api/labs/:lab/instances", policy: user, path: "/api/labs/limiter/instances", json: `{"algorithm": "nonsense"}`},
				{method: "ANY", pattern: "/api/labs/:lab/instances/:id", policy: owner, path: instBase, unknown: "/api/labs/limiter/instances/nope"},
				{method: "ANY", pattern: "/api/labs/:lab/instances/:id/*rest", policy: owner, path: instBase + "/request?key=a",
					unknown: "/api/labs/limiter/instances/nope/request?key=a"},
				{method: "POST", pattern: "/api/labs/:lab/submissions", policy: user, path: "/api/labs/limiter/submissions", json: `{"design": 5}`},
				{method: "GET", pattern: "/api/submissions/:id", policy: owner, path: "/api/submissions/" + sub.ID, unknown: "/api/submissions/nope"},
				{method: "GET", pattern: "/api/submissions/:id/events", policy: owner, path: "/api/submissions/" + sub.ID + "/events",
					unknown: "/api/submissions/nope/events"},
				{method: "GET", pattern: "/api/classes", policy: user, path: "/api/classes"},
				{method: "POST", pattern: "/api/classes", policy: staff, path: "/api/classes", json: `{"name": ""}`},
				{method: "POST", pattern: "/api/classes/join", policy: user, path: "/api/classes/join", json: `{"join_code": "` + open.JoinCode + `"}`},
				{method: "GET", pattern: "/api/classes/:id/gradebook", policy: class, path: "/api/classes/" + cid + "/gradebook",
					unknown: "/api/classes/999999/gradebook"},
			}...)

			// Every route has a row.
			have := map[string]bool{}
			for _, r := range rows {
				have[r.method+" "+r.pattern] = true
			}
			for _, r := range a.app.engine.Routes() {
				if !have[r.Method+" "+r.Path] && !have["ANY "+r.Path] {
					t.Errorf("route %s %s has no row in the authorization table", r.Method, r.Path)
				}
			}

			for _, r := range rows {
				for _, who := range []string{"anon", "bob", "rival", "ada", "teacher", "admin"} {
					ok := allowed(r.policy, who)
					if ok && r.destructive {
						continue
					}
					resp := sendRoute(actors[who], r, r.path)
					got := resp.StatusCode
					name := who + " " + r.method + " " + r.path
					switch {
					case ok && (got == 401 || got == 403 || got == 404 || got >= 500):
						t.Errorf("%s: %d, but %s may use it", name, got, who)
					case ok:
					case who == "anon" && r.method != "POST" && !strings.HasPrefix(r.path, "/api/"):
						if got != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
							t.Errorf("%s: %d to %q, want the login page", name, got, resp.Header.Get("Location"))
						}
					case who == "anon":
						if got != http.StatusUnauthorized {
							t.Errorf("%s: %d, want 401", name, got)
						}
					case r.policy == staff || r.policy == admin:
						if got != http.StatusForbidden {
							t.Errorf("%s: %d, want 403", name, got)
						}
						if !strings.HasPrefix(r.path, "/api/") && testid(doc(t, resp), "error-page") == "" {
							t.Errorf("%s: 403 without the error page", name)
						}
					default:
						if got != http.StatusNotFound {
							t.Errorf("%s: %d, want 404", name, got)
						}
					}
				}
				if r.unknown != "" {
					for _, who := range []string{"ada", "teacher", "admin"} {
						if allowed(r.policy, who) {
							if got := sendRoute(actors[who], r, r.unknown).StatusCode; got != http.StatusNotFound {
								t.Errorf("%s %s %s: %d, want 404", who, r.method, r.unknown, got)
							}
						}
					}
				}
			}

			// Nothing a refused request could destroy is gone.
			if _, err := a.store.ClassByID(ctx, cl.ID); err != nil {
				t.Error("the class is gone")
			}
			if as2, _ := a.store.Assignments(ctx, cl.ID); len(as2) != 1 {
				t.Error("the assignment is gone")
			}
			if s2, _ := a.store.SubmissionByID(ctx, sub.ID); s2.Status != store.StatusGraded {
				t.Errorf("the submission is %s", s2.Status)
			}
			if rvs, _ := a.store.ReviewsOf(ctx, sub.ID); len(rvs) != 0 {
				t.Errorf("a refused review was saved: %+v", rvs)
			}
			if toks, _ := a.store.Tokens(ctx, ids["ada"]); len(toks) == 0 {
				t.Error("ada's token is gone")
			}
			wantStatus(t, actors["ada"].api(http.MethodGet, instBase, ""), http.StatusOK)
			if u, _ := a.store.UserByID(ctx, ids["bob"]); u.Role != store.RoleLearner {
				t.Errorf("bob is %s", u.Role)
			}
			if _, err := a.store.InvitationByToken(ctx, "invitation", time.Now()); err != nil {
				t.Errorf("the invitation is gone: %v", err)
			}
			if s, _ := a.store.SessionsOf(ctx, ids["ada"]); len(s) != 1 || s[0].ID != adaSessions[0].ID {
				t.Error("ada's session is gone")
			}
		})
	}
}

// allowed reports whether who may use a route of policy p.
func allowed(p policy, who string) bool {
	switch p {
	case public:
		return true
	case user:
		return who != "anon"
	case owner:
		return who == "ada"
	case member:
		return who == "teacher" || who == "admin" || who == "ada"
	case class:
		return who == "teacher" || who == "admin"
	case staff:
		return who == "teacher" || who == "rival" || who == "admin"
	case admin:
		return who == "admin"
	default:
		return false
	}
}

// sendRoute sends r's request to path as b, the way a browser or a script
// would.
func sendRoute(b *browser, r routeCase, path string) *http.Response {
	method := r.method
	if method == "ANY" {
		method = http.MethodGet
		if strings.Contains(r.pattern, "*rest") {
			method = http.MethodPost
		}
	}
	switch {
	case strings.HasPrefix(path, "/api/"):
		return b.api(method, path, r.json)
	case method == http.MethodPost:
		return b.post(path, r.form)
	default:
		req, _ := http.NewRequest(method, b.base+path, nil)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		return b.do(req)
	}
}

// firstDiagram is the file name of a diagram the CAP lesson shows.
func firstDiagram(t *testing.T, a *testApp) string {
	t.Helper()
	src, _ := doc(t, newBrowser(t, a).get("/lessons/cap")).Find(".prose img").First().Attr("src")
	name := src[strings.LastIndex(src, "/")+1:]
	if name == "" {
		t.Fatal("the CAP lesson shows no diagram")
	}
	return name
}

// firstQuestion is the slug of an interview question.
func firstQuestion(t *testing.T, a *testApp) string {
	t.Helper()
	for _, l := range a.app.catalog().Lessons {
		if len(l.Questions) > 0 {
			return l.Questions[0]
		}
	}
	t.Fatal("no interview questions")
	return ""
}
