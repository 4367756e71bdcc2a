package web

import (
	"context"
	"database/sql"
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs/limiter"
)

// script is an API client with no cookies: it authenticates with a token.
type script struct {
	t     *testing.T
	base  string
	token string
}

func (s script) do(method, path, body string) *http.Response {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.token != "" {
		req.Header.Set("Authorization", s.token)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// newToken creates a read-write token, good for 90 days, on the account
// page and returns it.
func newToken(t *testing.T, b *browser, name string) string {
	t.Helper()
	return newTokenWith(t, b, url.Values{"name": {name}, "scope": {"read-write"}, "expires_days": {"90"}})
}

// newTokenWith creates a token from the form values and returns it.
func newTokenWith(t *testing.T, b *browser, form url.Values) string {
	t.Helper()
	resp := b.post("/account/tokens", form)
	wantStatus(t, resp, http.StatusCreated)
	d := doc(t, resp)
	tok, _ := d.Find(`[data-testid="new-token"]`).Attr("value")
	if !strings.HasPrefix(tok, "wbk_") || len(tok) < 40 {
		t.Fatalf("new token %q", tok)
	}
	return tok
}

func fieldError(t *testing.T, resp *http.Response, field string) string {
	t.Helper()
	m := decodeJSON(t, resp)
	e, _ := m["error"].(map[string]any)
	fs, _ := e["fields"].(map[string]any)
	msg, _ := fs[field].(string)
	if msg == "" {
		t.Errorf("%s %s: no message for field %q in %v", resp.Request.Method, resp.Request.URL.Path, field, m)
	}
	return msg
}

// Scripts act through personal access tokens: created and shown once on
// the account page, stored only as a hash, refused once revoked, good for
// the API and the exports but not for pages; the class API creates, joins
// and reads gradebooks with the same rules as the pages.
func TestAccessTokensAndClassAPI(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			a := MustStartLabs(t, be, nil, limiter.Lab)
			ctx := context.Background()
			MustAdmin(t, a, "admin@example.com")
			w := &tokenRun{a: a, teacher: MustRegister(t, a, "teacher@example.com"), rival: MustRegister(t, a, "rival@example.com"),
				ada: MustRegister(t, a, "ada@example.com")}
			for _, e := range []string{"teacher@example.com", "rival@example.com"} {
				u, _ := a.store.UserByEmail(ctx, e)
				if err := a.store.SetRole(ctx, u.ID, store.RoleInstructor); err != nil {
					t.Fatal(err)
				}
			}
			w.tokensOnTheAccountPage(t)
			w.checkCredentials(t)
			w.createClass(t)
			w.joinByCode(t)
			w.checkGradebook(t)
			w.revokeAndLimit(t)
		})
	}
}

// tokenRun is TestAccessTokensAndClassAPI's world: the people, their
// tokens and scripts, and the class made through the API.
type tokenRun struct {
	a                          *testApp
	teacher, rival, ada        *browser
	adaTok, teachTok, rivalTok string
	adaU                       store.User
	toks                       []store.APIToken // ada's
	adaAPI, teachAPI, rivalAPI script
	code, id                   string // the class made through the API
}

// tokensOnTheAccountPage: a nameless token is refused with the form kept;
// a token is shown once and stored as a hash with its prefix.
func (w *tokenRun) tokensOnTheAccountPage(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	// The account page: no tokens; a nameless one is refused with
	// the form kept.
	d := doc(t, w.ada.get("/account"))
	if testid(d, "account-email") != "ada@example.com" || testid(d, "no-tokens") == "" {
		t.Fatalf("account page: %q", testid(d, "account-email"))
	}
	resp := w.ada.post("/account/tokens", url.Values{"name": {"   "}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if testid(doc(t, resp), "error-name") == "" {
		t.Error("no message for a nameless token")
	}
	w.adaTok = newToken(t, w.ada, "homework script")
	w.teachTok = newToken(t, w.teacher, "gradebook export")
	w.rivalTok = newToken(t, w.rival, "rival's")

	// Shown once; stored as a hash with a recognisable prefix.
	d = doc(t, w.ada.get("/account"))
	if d.Find(`[data-testid="new-token"]`).Length() != 0 || strings.Contains(d.Text(), w.adaTok) {
		t.Error("the token is shown again")
	}
	if d.Find(`tr[data-token="homework script"]`).Length() != 1 {
		t.Error("the token is not listed")
	}
	w.adaU, _ = w.a.store.UserByEmail(ctx, "ada@example.com")
	w.toks, _ = w.a.store.Tokens(ctx, w.adaU.ID)
	if len(w.toks) != 1 || w.toks[0].TokenHash != auth.TokenID(w.adaTok) || !strings.HasPrefix(w.adaTok, w.toks[0].Prefix) || w.toks[0].LastUsedAt != nil {
		t.Fatalf("stored tokens: %+v", w.toks)
	}
}

// checkCredentials: bad credentials are 401s, never anonymous requests; a
// token opens no pages, and its use is recorded.
func (w *tokenRun) checkCredentials(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	w.adaAPI = script{t, w.a.URL, "Bearer " + w.adaTok}
	w.teachAPI = script{t, w.a.URL, "Bearer " + w.teachTok}
	w.rivalAPI = script{t, w.a.URL, "Bearer " + w.rivalTok}

	// Bad credentials are 401s, never anonymous requests.
	for _, h := range []string{"", "Bearer wbk_not-a-token", "Bearer " + w.adaTok + "x", "Basic YWRhOnB3", "Bearer"} {
		resp := script{t, w.a.URL, h}.do(http.MethodGet, "/api/classes", "")
		wantStatus(t, resp, http.StatusUnauthorized)
		if h != "" && resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%q: no WWW-Authenticate", h)
		}
	}
	// A token opens no pages.
	resp := w.adaAPI.do(http.MethodGet, "/classes", "")
	wantStatus(t, resp, http.StatusSeeOther)
	if !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("a token opened a page: %s", resp.Header.Get("Location"))
	}
	wantStatus(t, w.adaAPI.do(http.MethodGet, "/api/classes", ""), http.StatusOK)
	if ts, _ := w.a.store.Tokens(ctx, w.adaU.ID); ts[0].LastUsedAt == nil {
		t.Error("last use not recorded")
	}
}

// createClass: instructors only create classes, the name checked; a new
// class has an empty gradebook.
func (w *tokenRun) createClass(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	// Creating classes: instructors only, the name checked.
	resp := w.adaAPI.do(http.MethodPost, "/api/classes", `{"name": "Mine"}`)
	wantStatus(t, resp, http.StatusForbidden)
	wantStatus(t, w.teachAPI.do(http.MethodPost, "/api/classes", `{"name": "  "}`), http.StatusUnprocessableEntity)
	fieldError(t, w.teachAPI.do(http.MethodPost, "/api/classes", `{"name": "`+strings.Repeat("x", 121)+`"}`), "name")
	fieldError(t, w.teachAPI.do(http.MethodPost, "/api/classes", `{}`), "name")
	fieldError(t, w.teachAPI.do(http.MethodPost, "/api/classes", `{"nme": "typo"}`), "body")
	fieldError(t, w.teachAPI.do(http.MethodPost, "/api/classes", `{"name": "a"} {}`), "body")
	fieldError(t, w.teachAPI.do(http.MethodPost, "/api/classes", `not json`), "body")
	if cs, _ := w.a.store.ClassesTaught(ctx, 0); len(cs) != 0 {
		t.Fatalf("refused requests made %d classes", len(cs))
	}
	resp = w.teachAPI.do(http.MethodPost, "/api/classes", `{"name": "API cohort"}`)
	wantStatus(t, resp, http.StatusCreated)
	cls := decodeJSON(t, resp)
	w.code, _ = cls["join_code"].(string)
	w.id = strconv.FormatFloat(cls["id"].(float64), 'f', 0, 64)
	if len(w.code) != 8 || cls["name"] != "API cohort" || !strings.HasSuffix(cls["join_url"].(string), "/join/"+w.code) {
		t.Fatalf("created: %v", cls)
	}

	empty := decodeJSON(t, w.teachAPI.do(http.MethodGet, "/api/classes/"+w.id+"/gradebook", ""))
	if l, ok := empty["learners"].([]any); !ok || len(l) != 0 {
		t.Errorf("an empty class's learners: %v", empty["learners"])
	}
	if as, ok := empty["assignments"].([]any); !ok || len(as) != 0 {
		t.Errorf("an empty class's assignments: %v", empty["assignments"])
	}
}

// joinByCode: joining by code, any case; a wrong code names the field.
func (w *tokenRun) joinByCode(t *testing.T) {
	t.Helper()
	// Joining by code, any case; a wrong code names the field.
	fieldError(t, w.adaAPI.do(http.MethodPost, "/api/classes/join", `{"join_code": "ZZZZZZZZ"}`), "join_code")
	fieldError(t, w.adaAPI.do(http.MethodPost, "/api/classes/join", `{}`), "join_code")
	resp := w.adaAPI.do(http.MethodPost, "/api/classes/join", `{"join_code": "`+strings.ToLower(w.code)+`"}`)
	wantStatus(t, resp, http.StatusOK)
	if j := decodeJSON(t, resp); j["class"].(map[string]any)["name"] != "API cohort" || j["class"].(map[string]any)["join_code"] != nil {
		t.Errorf("joined: %v", j)
	}
	list := decodeJSON(t, w.adaAPI.do(http.MethodGet, "/api/classes", ""))
	if j, _ := list["joined"].([]any); len(j) != 1 {
		t.Errorf("ada's classes: %v", list)
	}
}

// checkGradebook: the gradebook is its instructor's only, as JSON and as
// CSV; others get 404.
func (w *tokenRun) checkGradebook(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	// The gradebook: its instructor only; others get 404.
	if err := w.a.store.AddAssignment(ctx, &store.Assignment{ClassID: mustInt(t, w.id), Kind: store.AssignExercise, Ref: limiterExercise, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	score := 80
	sub := store.Submission{ID: store.NewSubmissionID(), UserID: w.adaU.ID, Lab: "limiter", Exercise: limiterExercise, Design: "{}",
		Status: store.StatusGraded, Score: &score, MaxScore: 100, CreatedAt: time.Now()}
	if err := w.a.store.CreateSubmission(ctx, &sub, func(context.Context, *sql.Tx) (int64, error) { return 0, nil }); err != nil {
		t.Fatal(err)
	}
	resp := w.teachAPI.do(http.MethodGet, "/api/classes/"+w.id+"/gradebook?sort=email", "")
	wantStatus(t, resp, http.StatusOK)
	book := decodeJSON(t, resp)
	learners, _ := book["learners"].([]any)
	if len(learners) != 1 || learners[0].(map[string]any)["email"] != "ada@example.com" ||
		learners[0].(map[string]any)["assignments"].([]any)[0].(map[string]any)["score"] != 80.0 {
		t.Fatalf("gradebook: %v", book)
	}
	fieldError(t, w.teachAPI.do(http.MethodGet, "/api/classes/"+w.id+"/gradebook?only=bogus", ""), "only")
	for _, who := range []script{w.adaAPI, w.rivalAPI} {
		wantStatus(t, who.do(http.MethodGet, "/api/classes/"+w.id+"/gradebook", ""), http.StatusNotFound)
		wantStatus(t, who.do(http.MethodGet, "/classes/"+w.id+"/gradebook.csv", ""), http.StatusNotFound)
	}
	wantStatus(t, w.teachAPI.do(http.MethodGet, "/api/classes/999999/gradebook", ""), http.StatusNotFound)

	// The CSV export with the token, parsed.
	resp = w.teachAPI.do(http.MethodGet, "/classes/"+w.id+"/gradebook.csv", "")
	wantStatus(t, resp, http.StatusOK)
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || len(rows) < 3 || rows[len(rows)-1][0] != "ada@example.com" {
		t.Fatalf("CSV: %v %v", rows, err)
	}
}

// revokeAndLimit: someone else's token is a 404 to revoke, a revoked one a
// 401; at most 20 tokens each.
func (w *tokenRun) revokeAndLimit(t *testing.T) {
	t.Helper()
	// Revoking: someone else's token is a 404; a revoked one is a 401.
	wantStatus(t, w.rival.post("/account/tokens/"+strconv.FormatInt(w.toks[0].ID, 10)+"/revoke", nil), http.StatusNotFound)
	wantStatus(t, w.adaAPI.do(http.MethodGet, "/api/classes", ""), http.StatusOK)
	wantStatus(t, w.ada.post("/account/tokens/"+strconv.FormatInt(w.toks[0].ID, 10)+"/revoke", nil), http.StatusSeeOther)
	wantStatus(t, w.adaAPI.do(http.MethodGet, "/api/classes", ""), http.StatusUnauthorized)
	if testid(doc(t, w.ada.get("/account")), "no-tokens") == "" {
		t.Error("the revoked token is still listed")
	}

	// At most 20 tokens each.
	for i := range 20 {
		newToken(t, w.ada, "t"+strconv.Itoa(i))
	}
	resp := w.ada.post("/account/tokens", url.Values{"name": {"twenty-first"}})
	wantStatus(t, resp, http.StatusTooManyRequests)
	if !strings.Contains(testid(doc(t, resp), "error-name"), "revoke one") {
		t.Error("no message at the token limit")
	}
}
