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
			teacher := MustRegister(t, a, "teacher@example.com")
			rival := MustRegister(t, a, "rival@example.com")
			ada := MustRegister(t, a, "ada@example.com")
			for _, e := range []string{"teacher@example.com", "rival@example.com"} {
				u, _ := a.store.UserByEmail(ctx, e)
				if err := a.store.SetRole(ctx, u.ID, store.RoleInstructor); err != nil {
					t.Fatal(err)
				}
			}

			// The account page: no tokens; a nameless one is refused with
			// the form kept.
			d := doc(t, ada.get("/account"))
			if testid(d, "account-email") != "ada@example.com" || testid(d, "no-tokens") == "" {
				t.Fatalf("account page: %q", testid(d, "account-email"))
			}
			resp := ada.post("/account/tokens", url.Values{"name": {"   "}})
			wantStatus(t, resp, http.StatusUnprocessableEntity)
			if testid(doc(t, resp), "error-name") == "" {
				t.Error("no message for a nameless token")
			}
			adaTok := newToken(t, ada, "homework script")
			teachTok := newToken(t, teacher, "gradebook export")
			rivalTok := newToken(t, rival, "rival's")

			// Shown once; stored as a hash with a recognisable prefix.
			d = doc(t, ada.get("/account"))
			if d.Find(`[data-testid="new-token"]`).Length() != 0 || strings.Contains(d.Text(), adaTok) {
				t.Error("the token is shown again")
			}
			if d.Find(`tr[data-token="homework script"]`).Length() != 1 {
				t.Error("the token is not listed")
			}
			adaU, _ := a.store.UserByEmail(ctx, "ada@example.com")
			toks, _ := a.store.Tokens(ctx, adaU.ID)
			if len(toks) != 1 || toks[0].TokenHash != auth.TokenID(adaTok) || !strings.HasPrefix(adaTok, toks[0].Prefix) || toks[0].LastUsedAt != nil {
				t.Fatalf("stored tokens: %+v", toks)
			}

			adaAPI := script{t, a.URL, "Bearer " + adaTok}
			teachAPI := script{t, a.URL, "Bearer " + teachTok}
			rivalAPI := script{t, a.URL, "Bearer " + rivalTok}

			// Bad credentials are 401s, never anonymous requests.
			for _, h := range []string{"", "Bearer wbk_not-a-token", "Bearer " + adaTok + "x", "Basic YWRhOnB3", "Bearer"} {
				resp := script{t, a.URL, h}.do(http.MethodGet, "/api/classes", "")
				wantStatus(t, resp, http.StatusUnauthorized)
				if h != "" && resp.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%q: no WWW-Authenticate", h)
				}
			}
			// A token opens no pages.
			resp = adaAPI.do(http.MethodGet, "/classes", "")
			wantStatus(t, resp, http.StatusSeeOther)
			if !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
				t.Errorf("a token opened a page: %s", resp.Header.Get("Location"))
			}
			wantStatus(t, adaAPI.do(http.MethodGet, "/api/classes", ""), http.StatusOK)
			if toks, _ := a.store.Tokens(ctx, adaU.ID); toks[0].LastUsedAt == nil {
				t.Error("last use not recorded")
			}

			// Creating classes: instructors only, the name checked.
			resp = adaAPI.do(http.MethodPost, "/api/classes", `{"name": "Mine"}`)
			wantStatus(t, resp, http.StatusForbidden)
			wantStatus(t, teachAPI.do(http.MethodPost, "/api/classes", `{"name": "  "}`), http.StatusUnprocessableEntity)
			fieldError(t, teachAPI.do(http.MethodPost, "/api/classes", `{"name": "`+strings.Repeat("x", 121)+`"}`), "name")
			fieldError(t, teachAPI.do(http.MethodPost, "/api/classes", `{}`), "name")
			fieldError(t, teachAPI.do(http.MethodPost, "/api/classes", `{"nme": "typo"}`), "body")
			fieldError(t, teachAPI.do(http.MethodPost, "/api/classes", `{"name": "a"} {}`), "body")
			fieldError(t, teachAPI.do(http.MethodPost, "/api/classes", `not json`), "body")
			if cs, _ := a.store.ClassesTaught(ctx, 0); len(cs) != 0 {
				t.Fatalf("refused requests made %d classes", len(cs))
			}
			resp = teachAPI.do(http.MethodPost, "/api/classes", `{"name": "API cohort"}`)
			wantStatus(t, resp, http.StatusCreated)
			cls := decodeJSON(t, resp)
			code, _ := cls["join_code"].(string)
			id := strconv.FormatFloat(cls["id"].(float64), 'f', 0, 64)
			if len(code) != 8 || cls["name"] != "API cohort" || !strings.HasSuffix(cls["join_url"].(string), "/join/"+code) {
				t.Fatalf("created: %v", cls)
			}

			empty := decodeJSON(t, teachAPI.do(http.MethodGet, "/api/classes/"+id+"/gradebook", ""))
			if l, ok := empty["learners"].([]any); !ok || len(l) != 0 {
				t.Errorf("an empty class's learners: %v", empty["learners"])
			}
			if as, ok := empty["assignments"].([]any); !ok || len(as) != 0 {
				t.Errorf("an empty class's assignments: %v", empty["assignments"])
			}

			// Joining by code, any case; a wrong code names the field.
			fieldError(t, adaAPI.do(http.MethodPost, "/api/classes/join", `{"join_code": "ZZZZZZZZ"}`), "join_code")
			fieldError(t, adaAPI.do(http.MethodPost, "/api/classes/join", `{}`), "join_code")
			resp = adaAPI.do(http.MethodPost, "/api/classes/join", `{"join_code": "`+strings.ToLower(code)+`"}`)
			wantStatus(t, resp, http.StatusOK)
			if j := decodeJSON(t, resp); j["class"].(map[string]any)["name"] != "API cohort" || j["class"].(map[string]any)["join_code"] != nil {
				t.Errorf("joined: %v", j)
			}
			list := decodeJSON(t, adaAPI.do(http.MethodGet, "/api/classes", ""))
			if j, _ := list["joined"].([]any); len(j) != 1 {
				t.Errorf("ada's classes: %v", list)
			}

			// The gradebook: its instructor only; others get 404.
			if err := a.store.AddAssignment(ctx, &store.Assignment{ClassID: mustInt(t, id), Kind: store.AssignExercise, Ref: limiterExercise, CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			score := 80
			sub := store.Submission{ID: store.NewSubmissionID(), UserID: adaU.ID, Lab: "limiter", Exercise: limiterExercise, Design: "{}",
				Status: store.StatusGraded, Score: &score, MaxScore: 100, CreatedAt: time.Now()}
			if err := a.store.CreateSubmission(ctx, &sub, func(context.Context, *sql.Tx) (int64, error) { return 0, nil }); err != nil {
				t.Fatal(err)
			}
			resp = teachAPI.do(http.MethodGet, "/api/classes/"+id+"/gradebook?sort=email", "")
			wantStatus(t, resp, http.StatusOK)
			book := decodeJSON(t, resp)
			learners, _ := book["learners"].([]any)
			if len(learners) != 1 || learners[0].(map[string]any)["email"] != "ada@example.com" ||
				learners[0].(map[string]any)["assignments"].([]any)[0].(map[string]any)["score"] != 80.0 {
				t.Fatalf("gradebook: %v", book)
			}
			fieldError(t, teachAPI.do(http.MethodGet, "/api/classes/"+id+"/gradebook?only=bogus", ""), "only")
			for _, who := range []script{adaAPI, rivalAPI} {
				wantStatus(t, who.do(http.MethodGet, "/api/classes/"+id+"/gradebook", ""), http.StatusNotFound)
				wantStatus(t, who.do(http.MethodGet, "/classes/"+id+"/gradebook.csv", ""), http.StatusNotFound)
			}
			wantStatus(t, teachAPI.do(http.MethodGet, "/api/classes/999999/gradebook", ""), http.StatusNotFound)

			// The CSV export with the token, parsed.
			resp = teachAPI.do(http.MethodGet, "/classes/"+id+"/gradebook.csv", "")
			wantStatus(t, resp, http.StatusOK)
			rows, err := csv.NewReader(resp.Body).ReadAll()
			if err != nil || len(rows) < 3 || rows[len(rows)-1][0] != "ada@example.com" {
				t.Fatalf("CSV: %v %v", rows, err)
			}

			// Revoking: someone else's token is a 404; a revoked one is a 401.
			wantStatus(t, rival.post("/account/tokens/"+strconv.FormatInt(toks[0].ID, 10)+"/revoke", nil), http.StatusNotFound)
			wantStatus(t, adaAPI.do(http.MethodGet, "/api/classes", ""), http.StatusOK)
			wantStatus(t, ada.post("/account/tokens/"+strconv.FormatInt(toks[0].ID, 10)+"/revoke", nil), http.StatusSeeOther)
			wantStatus(t, adaAPI.do(http.MethodGet, "/api/classes", ""), http.StatusUnauthorized)
			if testid(doc(t, ada.get("/account")), "no-tokens") == "" {
				t.Error("the revoked token is still listed")
			}

			// At most 20 tokens each.
			for i := range 20 {
				newToken(t, ada, "t"+strconv.Itoa(i))
			}
			resp = ada.post("/account/tokens", url.Values{"name": {"twenty-first"}})
			wantStatus(t, resp, http.StatusTooManyRequests)
			if !strings.Contains(testid(doc(t, resp), "error-name"), "revoke one") {
				t.Error("no message at the token limit")
			}
		})
	}
}
