package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
)

// nextAttacks are post-login targets that a browser would follow off the
// site, or that hide something a browser strips.
var nextAttacks = []string{
	"https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example", "javascript:alert(1)",
	"/\t/evil.example", "/\n/evil.example", "/\r/evil.example", "\t//evil.example", " //evil.example",
	"/%09/evil.example", "/%2F/evil.example", "/%2f%2fevil.example", "/%5cevil.example", "/%5Cevil.example",
	"/\\/evil.example", "/x\\..\\..\\/evil.example", "/\x00/evil.example", "/\x7f/evil.example",
	"/ /evil.example", "/\u00a0/evil.example", "/\u2028/evil.example", "/\u202e/evil.example", "///evil.example",
	"http:/evil.example", "/%00", "/%0d%0aSet-Cookie:x=1", "//", "/" + strings.Repeat("a", maxNext),
	"", "evil.example", ".//evil.example", "%2F%2Fevil.example",
}

func TestLoginRedirectStaysOnSite(t *testing.T) {
	for _, next := range nextAttacks {
		if got := safeNext(next); got != "/" {
			t.Errorf("safeNext(%q) = %q, want /", next, got)
		}
	}
	for _, next := range []string{"/", "/lessons/cap?x=1", "/lessons/cap#quiz", "/search?q=a%20b&next=//x", "/labs/limiter/exercises/limiter-api-quota"} {
		if got := safeNext(next); got != next {
			t.Errorf("safeNext(%q) = %q, want it kept", next, got)
		}
	}
}

// TestLoginNextAttacks logs in with each attack as next: every Location
// stays on the site.
func TestLoginNextAttacks(t *testing.T) {
	a := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil)
	MustRegister(t, a, "ada@example.org")
	for _, next := range append(nextAttacks, "/progress") {
		b := newBrowser(t, a)
		resp := b.post("/login", url.Values{"email": {"ada@example.org"}, "password": {goodPassword}, "next": {next}})
		wantStatus(t, resp, http.StatusSeeOther)
		loc := resp.Header.Get("Location")
		want := "/"
		if next == "/progress" {
			want = next
		}
		if loc != want {
			t.Errorf("next %q: Location %q, want %q", next, loc, want)
		}
		// The login form carries next through, cleaned the same way.
		page := b.get("/login?next=" + url.QueryEscape(next))
		if v, _ := doc(t, page).Find(`input[name="next"]`).Attr("value"); v != want && page.StatusCode == http.StatusOK {
			t.Errorf("next %q: the form carries %q", next, v)
		}
	}
}

// FuzzSafeNext: whatever comes in, the target is "/" or "/" followed by
// neither "/" nor "\", parses as a path on this host, and stays on this
// host when resolved, also after a browser strips tabs and newlines.
func FuzzSafeNext(f *testing.F) {
	for _, s := range append(nextAttacks, "/lessons/cap?x=1", "/a/../b", "/%") {
		f.Add(s)
	}
	base, _ := url.Parse("https://workbook.example/login")
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if got != "/" && (got != next || len(got) < 2 || got[0] != '/' || got[1] == '/' || got[1] == '\\') {
			t.Fatalf("safeNext(%q) = %q", next, got)
		}
		stripped := strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(got)
		for _, s := range []string{got, stripped, strings.ReplaceAll(got, "\\", "/")} {
			u, err := url.Parse(s)
			if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
				t.Fatalf("safeNext(%q) = %q: not a path-only URL (%v)", next, got, err)
			}
			if r := base.ResolveReference(u); r.Host != base.Host || r.Scheme != base.Scheme {
				t.Fatalf("safeNext(%q) = %q resolves to %s", next, got, r)
			}
			if strings.HasPrefix(u.Path, "//") || strings.ContainsAny(u.Path, "\\\x00\t\r\n") {
				t.Fatalf("safeNext(%q) = %q decodes to the path %q", next, got, u.Path)
			}
		}
	})
}
