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

// authzWorld is what the authorization test's requests reach: the
// visitors, and the objects some of them own.
type authzWorld struct {
	actors map[string]*browser
	ids    map[string]int64
	// The teacher's class with ada in it and an assignment; ada's graded
	// submission, lab instance and token; the rival's class, which
	// visitors may join. Ada is in the rival's class too, which does not
	// assign the exercise: the rival reaches none of her submissions to it.
	class, open store.Class
	assignment  store.Assignment
	sub         store.Submission
	build       store.Submission // ada's build submission, with its archive
	inst        string           // ada's lab instance
	tokenID     string           // ada's token
	adaSession  string
	invitation  store.Invitation
}

func (w *authzWorld) classBase() string { return "/classes/" + strconv.FormatInt(w.class.ID, 10) }
func (w *authzWorld) instBase() string  { return "/api/labs/limiter/instances/" + w.inst }

// rivalSub is ada's submission through the rival's class, which does not
// set its exercise.
func (w *authzWorld) rivalSub() string {
	return "/classes/" + strconv.FormatInt(w.open.ID, 10) + "/submissions/" + w.sub.ID
}

// arrangeBuildSubmission gives ada a build submission with its archive,
// to an exercise the teacher's class assigns and the rival's does not.
func arrangeBuildSubmission(t *testing.T, a *testApp, w *authzWorld) {
	t.Helper()
	ctx := context.Background()
	as := store.Assignment{ClassID: w.class.ID, Kind: store.AssignExercise, Ref: "limiter-build", CreatedAt: time.Now()}
	if err := a.store.AddAssignment(ctx, &as); err != nil {
		t.Fatal(err)
	}
	w.build = store.Submission{ID: store.NewSubmissionID(), UserID: w.ids["ada"], Lab: "limiter", Exercise: "limiter-build",
		Design: `{"language":"python"}`, Status: store.StatusQueued, MaxScore: 100, CreatedAt: time.Now()}
	data := zipOf(t, "app.py", "print('hello')\n")
	arc := store.SubmissionArchive{Language: "python", Format: "zip", Size: int64(len(data)), SHA256: "00", Data: data}
	if err := a.store.CreateBuildSubmission(ctx, &w.build, arc, func(context.Context, *sql.Tx) (int64, error) { return 0, nil }); err != nil {
		t.Fatal(err)
	}
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
			w := arrangeAuthzWorld(t, a)
			rows := append(emailRouteCases(t, a, w.ids["bob"]), siteRouteCases(t, a)...)
			rows = append(rows, labRouteCases(w)...)
			rows = append(rows, classRouteCases(w)...)
			rows = append(rows, accountRouteCases(w)...)
			rows = append(rows, drillRouteCases(t, a, w)...)
			rows = append(rows, interviewRouteCases(t, a, w)...)
			checkEveryRouteHasARow(t, a, rows)
			for _, r := range rows {
				checkRouteCase(t, w, r)
			}
			checkNothingRefusedIsGone(t, a, w)
		})
	}
}

// arrangeAuthzWorld registers the visitors and makes their objects.
func arrangeAuthzWorld(t *testing.T, a *testApp) *authzWorld {
	t.Helper()
	ctx := context.Background()
	w := &authzWorld{
		actors: map[string]*browser{
			"anon":    newBrowser(t, a),
			"admin":   MustAdmin(t, a, "admin@example.com"),
			"teacher": MustRegister(t, a, "teacher@example.com"),
			"rival":   MustRegister(t, a, "rival@example.com"),
			"ada":     MustRegister(t, a, "ada@example.com"),
			"bob":     MustRegister(t, a, "bob@example.com"),
		},
		ids: map[string]int64{},
	}
	for _, who := range []string{"admin", "teacher", "rival", "ada", "bob"} {
		u, _ := a.store.UserByEmail(ctx, who+"@example.com")
		w.ids[who] = u.ID
	}
	for _, who := range []string{"teacher", "rival"} {
		if err := a.store.SetRole(ctx, w.ids[who], store.RoleInstructor); err != nil {
			t.Fatal(err)
		}
	}
	w.class, _ = a.store.CreateClass(ctx, w.ids["teacher"], "Spring", time.Now())
	w.open, _ = a.store.CreateClass(ctx, w.ids["rival"], "Open house", time.Now())
	for _, c := range []store.Class{w.class, w.open} {
		if err := a.store.JoinClass(ctx, c.ID, w.ids["ada"], time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	w.assignment = store.Assignment{ClassID: w.class.ID, Kind: store.AssignExercise, Ref: limiterExercise, CreatedAt: time.Now()}
	if err := a.store.AddAssignment(ctx, &w.assignment); err != nil {
		t.Fatal(err)
	}
	score := 75
	w.sub = store.Submission{ID: store.NewSubmissionID(), UserID: w.ids["ada"], Lab: "limiter", Exercise: limiterExercise,
		Design: "{}", Status: store.StatusGraded, Score: &score, MaxScore: 100, CreatedAt: time.Now()}
	if err := a.store.CreateSubmission(ctx, &w.sub, func(context.Context, *sql.Tx) (int64, error) { return 0, nil }); err != nil {
		t.Fatal(err)
	}
	arrangeBuildSubmission(t, a, w)
	ada := w.actors["ada"]
	resp := ada.api(http.MethodPost, "/api/labs/limiter/instances", `{}`)
	wantStatus(t, resp, http.StatusCreated)
	w.inst, _ = decodeJSON(t, resp)["id"].(string)
	newToken(t, ada, "ada's script")
	toks, _ := a.store.Tokens(ctx, w.ids["ada"])
	w.tokenID = strconv.FormatInt(toks[0].ID, 10)
	adaSessions, _ := a.store.SessionsOf(ctx, w.ids["ada"])
	if len(adaSessions) != 1 {
		t.Fatalf("ada has %d sessions", len(adaSessions))
	}
	w.adaSession = adaSessions[0].ID
	var err error
	w.invitation, err = a.store.CreateInvitation(ctx, store.Invitation{Email: "invited@example.com", Role: store.RoleLearner, TokenHash: "invitation",
		CreatedBy: w.ids["admin"], CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}, 10)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// siteRouteCases are the rows of the probes, signing in and the lessons.
func siteRouteCases(t *testing.T, a *testApp) []routeCase {
	return []routeCase{
		{method: "GET", pattern: "/healthz", policy: public, path: "/healthz"},
		{method: "GET", pattern: "/readyz", policy: public, path: "/readyz"},
		// From loopback, as here; TestMetricsAccess covers other hosts.
		{method: "GET", pattern: "/metrics", policy: public, path: "/metrics"},
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
	}
}

// labRouteCases are the rows of the labs, their API and submissions.
func labRouteCases(w *authzWorld) []routeCase {
	return []routeCase{
		{method: "GET", pattern: "/labs", policy: public, path: "/labs"},
		{method: "GET", pattern: "/labs/:lab", policy: public, path: "/labs/limiter"},
		{method: "POST", pattern: "/labs/:lab", policy: user, path: "/labs/limiter", form: url.Values{"algorithm": {"nonsense"}}},
		{method: "POST", pattern: "/labs/:lab/instances/:id/stop", policy: owner, path: "/labs/limiter/instances/" + w.inst + "/stop", destructive: true,
			unknown: "/labs/limiter/instances/nope/stop"},
		{method: "GET", pattern: "/labs/:lab/exercises/:exercise", policy: public, path: "/labs/limiter/exercises/" + limiterExercise},
		{method: "POST", pattern: "/labs/:lab/exercises/:exercise", policy: user, path: "/labs/limiter/exercises/" + limiterExercise,
			form: url.Values{"algorithm": {"nonsense"}}},
		{method: "GET", pattern: "/submissions/:id", policy: owner, path: "/submissions/" + w.sub.ID, unknown: "/submissions/nope"},
		{method: "GET", pattern: "/submissions/:id/results", policy: owner, path: "/submissions/" + w.sub.ID + "/results", unknown: "/submissions/nope/results"},
		{method: "GET", pattern: "/api/labs", policy: public, path: "/api/labs"},
		{method: "POST", pattern: "/api/labs/:lab/instances", policy: user, path: "/api/labs/limiter/instances", json: `{"algorithm": "nonsense"}`},
		{method: "ANY", pattern: "/api/labs/:lab/instances/:id", policy: owner, path: w.instBase(), unknown: "/api/labs/limiter/instances/nope"},
		{method: "ANY", pattern: "/api/labs/:lab/instances/:id/*rest", policy: owner, path: w.instBase() + "/request?key=a",
			unknown: "/api/labs/limiter/instances/nope/request?key=a"},
		{method: "POST", pattern: "/api/labs/:lab/submissions", policy: user, path: "/api/labs/limiter/submissions", json: `{"design": 5}`},
		{method: "GET", pattern: "/api/submissions/:id", policy: owner, path: "/api/submissions/" + w.sub.ID, unknown: "/api/submissions/nope"},
		{method: "GET", pattern: "/api/submissions/:id/events", policy: owner, path: "/api/submissions/" + w.sub.ID + "/events",
			unknown: "/api/submissions/nope/events"},
		{method: "GET", pattern: "/submissions/:id/archive", policy: owner, path: "/submissions/" + w.build.ID + "/archive",
			unknown: "/submissions/nope/archive"},
		{method: "GET", pattern: "/api/submissions/:id/archive", policy: owner, path: "/api/submissions/" + w.build.ID + "/archive",
			unknown: "/api/submissions/nope/archive"},
		{method: "GET", pattern: "/api/exercises", policy: public, path: "/api/exercises"},
		{method: "GET", pattern: "/api/openapi.json", policy: public, path: "/api/openapi.json"},
		{method: "GET", pattern: "/api/exercises/:id/starter", policy: public, path: "/api/exercises/limiter-build/starter?lang=python",
			unknown: "/api/exercises/nope/starter?lang=python"},
	}
}

// classRouteCases are the rows of classes, their pages and API.
func classRouteCases(w *authzWorld) []routeCase {
	classBase, cid, aid := w.classBase(), strconv.FormatInt(w.class.ID, 10), strconv.FormatInt(w.assignment.ID, 10)
	rivalSub := w.rivalSub()
	return []routeCase{
		{method: "GET", pattern: "/classes", policy: user, path: "/classes"},
		{method: "POST", pattern: "/classes", policy: staff, path: "/classes"},
		{method: "POST", pattern: "/classes/join", policy: user, path: "/classes/join", form: url.Values{"code": {w.open.JoinCode}}},
		{method: "GET", pattern: "/join/:code", policy: public, path: "/join/" + w.open.JoinCode},
		{method: "POST", pattern: "/join/:code", policy: user, path: "/join/" + w.open.JoinCode},
		{method: "GET", pattern: "/classes/:id", policy: member, path: classBase, unknown: "/classes/999999"},
		{method: "POST", pattern: "/classes/:id/delete", policy: class, path: classBase + "/delete", form: url.Values{"confirm": {"not the name"}},
			unknown: "/classes/999999/delete"},
		{method: "POST", pattern: "/classes/:id/ladders", policy: class, path: classBase + "/ladders", unknown: "/classes/999999/ladders"},
		{method: "POST", pattern: "/classes/:id/assignments", policy: class, path: classBase + "/assignments", unknown: "/classes/999999/assignments"},
		{method: "POST", pattern: "/classes/:id/assignments/:aid/delete", policy: class, path: classBase + "/assignments/" + aid + "/delete", destructive: true,
			unknown: classBase + "/assignments/999999/delete"},
		{method: "POST", pattern: "/classes/:id/assignments/:aid/regrade", policy: class, path: classBase + "/assignments/" + aid + "/regrade", destructive: true,
			unknown: classBase + "/assignments/999999/regrade"},
		{method: "GET", pattern: "/classes/:id/gradebook.csv", policy: class, path: classBase + "/gradebook.csv", unknown: "/classes/999999/gradebook.csv"},
		{method: "GET", pattern: "/classes/:id/results.json", policy: class, path: classBase + "/results.json", unknown: "/classes/999999/results.json"},
		{method: "GET", pattern: "/classes/:id/submissions/:sid", policy: class, path: classBase + "/submissions/" + w.sub.ID,
			unknown: classBase + "/submissions/nope"},
		{method: "POST", pattern: "/classes/:id/submissions/:sid/review", policy: class, path: classBase + "/submissions/" + w.sub.ID + "/review",
			form: url.Values{"score": {"999"}}, unknown: classBase + "/submissions/nope/review"},
		{method: "POST", pattern: "/classes/:id/submissions/:sid/regrade", policy: class, path: classBase + "/submissions/" + w.sub.ID + "/regrade",
			destructive: true, unknown: classBase + "/submissions/nope/regrade"},
		// Through a class that does not assign the exercise: no one,
		// not its instructor, not an admin.
		{method: "GET", pattern: "/classes/:id/submissions/:sid", policy: nobody, path: rivalSub},
		{method: "POST", pattern: "/classes/:id/submissions/:sid/review", policy: nobody, path: rivalSub + "/review",
			form: url.Values{"score": {"0"}, "reason": {"overridden from another class"}, "feedback": {"hello"}}},
		{method: "POST", pattern: "/classes/:id/submissions/:sid/regrade", policy: nobody, path: rivalSub + "/regrade"},
		{method: "GET", pattern: "/classes/:id/submissions/:sid/archive", policy: class, path: classBase + "/submissions/" + w.build.ID + "/archive",
			unknown: classBase + "/submissions/nope/archive"},
		{method: "GET", pattern: "/classes/:id/submissions/:sid/archive", policy: nobody,
			path: "/classes/" + strconv.FormatInt(w.open.ID, 10) + "/submissions/" + w.build.ID + "/archive"},
		{method: "GET", pattern: "/api/classes", policy: user, path: "/api/classes"},
		{method: "POST", pattern: "/api/classes", policy: staff, path: "/api/classes", json: `{"name": ""}`},
		{method: "POST", pattern: "/api/classes/join", policy: user, path: "/api/classes/join", json: `{"join_code": "` + w.open.JoinCode + `"}`},
		{method: "GET", pattern: "/api/classes/:id/gradebook", policy: class, path: "/api/classes/" + cid + "/gradebook",
			unknown: "/api/classes/999999/gradebook"},
	}
}

// accountRouteCases are the rows of the account pages and the admin's.
func accountRouteCases(w *authzWorld) []routeCase {
	return []routeCase{
		{method: "GET", pattern: "/account", policy: user, path: "/account"},
		{method: "POST", pattern: "/account/tokens", policy: user, path: "/account/tokens"},
		{method: "POST", pattern: "/account/tokens/:tid/revoke", policy: owner, path: "/account/tokens/" + w.tokenID + "/revoke", destructive: true,
			unknown: "/account/tokens/999999/revoke"},
		{method: "POST", pattern: "/account/password", policy: user, path: "/account/password", form: url.Values{"current_password": {""}}},
		{method: "POST", pattern: "/account/sessions/others/logout", policy: user, path: "/account/sessions/others/logout"},
		{method: "POST", pattern: "/account/sessions/:sid/logout", policy: owner, path: "/account/sessions/" + sessionHandle(w.adaSession) + "/logout",
			destructive: true, unknown: "/account/sessions/0123456789abcdef/logout"},
		{method: "GET", pattern: "/notices", policy: user, path: "/notices"},
		{method: "POST", pattern: "/notices/read", policy: user, path: "/notices/read"},
		{method: "GET", pattern: "/admin/users", policy: admin, path: "/admin/users"},
		{method: "POST", pattern: "/admin/users/:uid/role", policy: admin, path: "/admin/users/" + strconv.FormatInt(w.ids["bob"], 10) + "/role",
			form: url.Values{"role": {"emperor"}}},
		{method: "POST", pattern: "/admin/invitations", policy: admin, path: "/admin/invitations", form: url.Values{"email": {""}}},
		{method: "POST", pattern: "/admin/invitations/:iid/revoke", policy: admin, path: "/admin/invitations/" + strconv.FormatInt(w.invitation.ID, 10) + "/revoke",
			destructive: true, unknown: "/admin/invitations/999999/revoke"},
	}
}

// checkEveryRouteHasARow fails for a route of the table with no row.
func checkEveryRouteHasARow(t *testing.T, a *testApp, rows []routeCase) {
	t.Helper()
	have := map[string]bool{}
	for _, r := range rows {
		have[r.method+" "+r.pattern] = true
	}
	for _, r := range a.app.engine.Routes() {
		if !have[r.Method+" "+r.Path] && !have["ANY "+r.Path] {
			t.Errorf("route %s %s has no row in the authorization table", r.Method, r.Path)
		}
	}
}

// checkRouteCase sends r as every visitor, and its unknown object as
// those who may use it.
func checkRouteCase(t *testing.T, w *authzWorld, r routeCase) {
	t.Helper()
	for _, who := range []string{"anon", "bob", "rival", "ada", "teacher", "admin"} {
		ok := allowed(r.policy, who)
		if ok && r.destructive {
			continue
		}
		resp := sendRoute(w.actors[who], r, r.path)
		name := who + " " + r.method + " " + r.path
		if ok {
			if got := resp.StatusCode; got == 401 || got == 403 || got == 404 || got >= 500 {
				t.Errorf("%s: %d, but %s may use it", name, got, who)
			}
			continue
		}
		checkRefused(t, name, who, r, resp)
	}
	if r.unknown == "" {
		return
	}
	for _, who := range []string{"ada", "teacher", "admin"} {
		if allowed(r.policy, who) {
			if got := sendRoute(w.actors[who], r, r.unknown).StatusCode; got != http.StatusNotFound {
				t.Errorf("%s %s %s: %d, want 404", who, r.method, r.unknown, got)
			}
		}
	}
}

// checkRefused checks the answer to a visitor r's policy refuses: the
// login page or 401 for the anonymous, 403 for a wrong role, else 404.
func checkRefused(t *testing.T, name, who string, r routeCase, resp *http.Response) {
	t.Helper()
	got := resp.StatusCode
	switch {
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

// checkNothingRefusedIsGone checks that every object a refused request
// could have destroyed is still there.
func checkNothingRefusedIsGone(t *testing.T, a *testApp, w *authzWorld) {
	t.Helper()
	ctx := context.Background()
	if _, err := a.store.ClassByID(ctx, w.class.ID); err != nil {
		t.Error("the class is gone")
	}
	if as2, _ := a.store.Assignments(ctx, w.class.ID); len(as2) != 3 {
		t.Errorf("the class has %d of its 3 assignments", len(as2))
	}
	if s2, _ := a.store.SubmissionByID(ctx, w.sub.ID); s2.Status != store.StatusGraded {
		t.Errorf("the submission is %s", s2.Status)
	}
	if rvs, _ := a.store.ReviewsOf(ctx, w.sub.ID); len(rvs) != 0 {
		t.Errorf("a refused review was saved: %+v", rvs)
	}
	if toks, _ := a.store.Tokens(ctx, w.ids["ada"]); len(toks) == 0 {
		t.Error("ada's token is gone")
	}
	wantStatus(t, w.actors["ada"].api(http.MethodGet, w.instBase(), ""), http.StatusOK)
	if u, _ := a.store.UserByID(ctx, w.ids["bob"]); u.Role != store.RoleLearner {
		t.Errorf("bob is %s", u.Role)
	}
	if _, err := a.store.InvitationByToken(ctx, "invitation", time.Now()); err != nil {
		t.Errorf("the invitation is gone: %v", err)
	}
	if s, _ := a.store.SessionsOf(ctx, w.ids["ada"]); len(s) != 1 || s[0].ID != w.adaSession {
		t.Error("ada's session is gone")
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
