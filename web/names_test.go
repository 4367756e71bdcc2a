package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/sdworkbook/workbook/internal/names"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// bidiNames hide what they say: an override turns the rest around, a
// zero-width space makes a look-alike, a control character breaks lines.
var bidiNames = []string{"Spring \u202ecohort", "Spring\u2066 cohort\u2069", "Spr\u200bing", "Spring\u200f", "Spring\tcohort", "Spring\x1b[31m"}

// TestDisplayNamesRefuseInvisibleCharacters: class names (form and API)
// and access token names with control or bidirectional formatting
// characters are refused with a sentence beside the field, the form keeps
// what was typed, and nothing is created.
func TestDisplayNamesRefuseInvisibleCharacters(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil)
	ctx := context.Background()
	teacher := MustRegister(t, a, "teacher@example.org")
	u, _ := a.store.UserByEmail(ctx, "teacher@example.org")
	if err := a.store.SetRole(ctx, u.ID, store.RoleInstructor); err != nil {
		t.Fatal(err)
	}
	for _, name := range bidiNames {
		resp := teacher.post("/classes", url.Values{"name": {name}})
		wantStatus(t, resp, http.StatusUnprocessableEntity)
		d := doc(t, resp)
		if msg := testid(d, "error-name"); msg != names.Message {
			t.Errorf("class %q: message %q", name, msg)
		}
		if v, _ := d.Find("#f-name").Attr("value"); v != name {
			t.Errorf("class %q: the form kept %q", name, v)
		}
		body, _ := json.Marshal(map[string]string{"name": name})
		wantFieldError(t, teacher.api("POST", "/api/classes", string(body)), "name")

		resp = teacher.post("/account/tokens", url.Values{"name": {name}})
		wantStatus(t, resp, http.StatusUnprocessableEntity)
		d = doc(t, resp)
		if msg := testid(d, "error-name"); msg != names.Message {
			t.Errorf("token %q: message %q", name, msg)
		}
		if v, _ := d.Find("#f-token-name").Attr("value"); v != name {
			t.Errorf("token %q: the form kept %q", name, v)
		}
	}
	if cls, _ := a.store.ClassesTaught(ctx, u.ID); len(cls) != 0 {
		t.Errorf("%d classes were created", len(cls))
	}
	if toks, _ := a.store.Tokens(ctx, u.ID); len(toks) != 0 {
		t.Errorf("%d tokens were created", len(toks))
	}
	// Names in any script, with emoji, are welcome.
	wantStatus(t, teacher.post("/classes", url.Values{"name": {"نظم التصميم 👩‍💻"}}), http.StatusSeeOther)
	wantStatus(t, teacher.post("/account/tokens", url.Values{"name": {"export für Noten"}}), http.StatusCreated)
	// An email address is a name others read too.
	b := newBrowser(t, a)
	resp := b.post("/register", url.Values{"email": {"ad\u202ea@example.org"}, "password": {goodPassword}})
	wantStatus(t, resp, http.StatusUnprocessableEntity)
	if testid(doc(t, resp), "error-email") == "" {
		t.Error("no message beside the email")
	}
}
