package shortener

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseCreate(t *testing.T) {
	long := "https://example.org/" + strings.Repeat("a", maxURLLen-len("https://example.org/"))
	cases := []struct {
		name, body string
		field      string // the field named; "" with ok: accepted
		ok         bool
		want       string // in the message
	}{
		{"plain", `{"url": "https://example.org/a?b=c#d"}`, "", true, ""},
		{"http with port", `{"url": "http://example.org:8080/x"}`, "", true, ""},
		{"upper-case scheme", `{"url": "HTTPS://Example.org/"}`, "", true, ""},
		{"ipv6", `{"url": "https://[2001:db8::1]:443/x"}`, "", true, ""},
		{"exactly 2048", `{"url": "` + long + `"}`, "", true, ""},
		{"alias and ttl", `{"url": "https://example.org", "alias": "spring-sale", "ttl_s": 3600}`, "", true, ""},
		{"null alias and ttl", `{"url": "https://example.org", "alias": null, "ttl_s": null}`, "", true, ""},
		{"empty alias", `{"url": "https://example.org", "alias": ""}`, "", true, ""},

		{"not json", `{`, "body", false, "JSON object like"},
		{"array", `[]`, "body", false, "JSON object"},
		{"two objects", `{"url": "https://a.example"} {}`, "body", false, "nothing after"},
		{"unknown field", `{"url": "https://a.example", "owner": 1}`, "owner", false, "owner"},
		{"url missing", `{}`, "url", false, "required"},
		{"url not a string", `{"url": 5}`, "url", false, "must be a string"},
		{"empty url", `{"url": ""}`, "url", false, "empty"},
		{"2049", `{"url": "` + long + `b"}`, "url", false, "2049 characters"},
		{"javascript", `{"url": "javascript:alert(1)"}`, "url", false, `"javascript"`},
		{"data", `{"url": "data:text/html,<script>alert(1)</script>"}`, "url", false, `"data"`},
		{"ftp", `{"url": "ftp://files.example.org/a"}`, "url", false, `"ftp"`},
		{"file", `{"url": "file:///etc/passwd"}`, "url", false, `"file"`},
		{"credentials", `{"url": "https://user:secret@bank.example.org/login"}`, "url", false, "credentials"},
		{"empty userinfo", `{"url": "https://@bank.example.org/"}`, "url", false, "credentials"},
		{"no scheme", `{"url": "example.org/page"}`, "url", false, "no scheme"},
		{"scheme-relative", `{"url": "//example.org/page"}`, "url", false, "no scheme"},
		{"opaque", `{"url": "http:example.org"}`, "url", false, "absolute"},
		{"no host", `{"url": "https://"}`, "url", false, "no host"},
		{"no host, path", `{"url": "https:///etc"}`, "url", false, "no host"},
		{"space", `{"url": "https://example.org/a b"}`, "url", false, "space"},
		{"newline", `{"url": "https://example.org/\r\nSet-Cookie: a=b"}`, "url", false, "control character"},
		{"non-ascii", `{"url": "https://exämple.org/"}`, "url", false, "non-ASCII"},
		{"backslash", `{"url": "https://example.org\\@evil.example/"}`, "url", false, "backslash"},
		{"bad escape", `{"url": "https://example.org/%zz"}`, "url", false, "not a valid URL"},
		{"bad port", `{"url": "https://example.org:99999/"}`, "url", false, "port"},
		{"bad host", `{"url": "https://exa*mple.org/"}`, "url", false, "host"},
		{"double dot", `{"url": "https://example..org/"}`, "url", false, "empty label"},
		{"reserved alias", `{"url": "https://example.org", "alias": "Admin"}`, "alias", false, "reserved"},
		{"alias r", `{"url": "https://example.org", "alias": "shards"}`, "alias", false, "reserved"},
		{"alias slash", `{"url": "https://example.org", "alias": "a/b/c"}`, "alias", false, "only A-Z"},
		{"alias dots", `{"url": "https://example.org", "alias": "../x"}`, "alias", false, "only A-Z"},
		{"alias short", `{"url": "https://example.org", "alias": "ab"}`, "alias", false, "3 to 32"},
		{"alias long", `{"url": "https://example.org", "alias": "` + strings.Repeat("a", 33) + `"}`, "alias", false, "3 to 32"},
		{"alias like a code", `{"url": "https://example.org", "alias": "Sale123"}`, "alias", false, "generated code"},
		{"alias not a string", `{"url": "https://example.org", "alias": 7}`, "alias", false, "alias must be a string"},
		{"ttl zero", `{"url": "https://example.org", "ttl_s": 0}`, "ttl_s", false, "from 1"},
		{"ttl negative", `{"url": "https://example.org", "ttl_s": -5}`, "ttl_s", false, "from 1"},
		{"ttl fraction", `{"url": "https://example.org", "ttl_s": 1.5}`, "ttl_s", false, "whole number"},
		{"ttl string", `{"url": "https://example.org", "ttl_s": "60"}`, "ttl_s", false, "whole number"},
		{"ttl huge", `{"url": "https://example.org", "ttl_s": 99999999999}`, "ttl_s", false, "ten years"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := parseCreate([]byte(c.body), 7)
			if c.ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if req.URL == "" {
					t.Fatal("no url")
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: %+v", req)
			}
			if err.Status != http.StatusBadRequest || err.Fields[c.field] == "" || len(err.Fields) != 1 || !strings.Contains(err.Message, c.want) {
				t.Errorf("%d, fields %q, message %q; want 400 naming %q and %q", err.Status, err.Fields, err.Message, c.field, c.want)
			}
		})
	}
}

// FuzzParseCreate: no body makes parsing panic, and whatever it accepts is
// an absolute http(s) URL of printable ASCII, at most 2,048 characters,
// without credentials, with an alias and TTL inside their rules.
func FuzzParseCreate(f *testing.F) {
	for _, s := range []string{
		`{"url": "https://example.org/a?b=c"}`, `{"url": "javascript:alert(1)"}`, `{"url": "https://u:p@x.org"}`,
		`{"url": "https://x.org", "alias": "promo-1", "ttl_s": 60}`, `{"url": "http://[::1]:80/"}`, `{`, `{"url": 1}`,
		`{"url": "https://x.org", "ttl_s": 1e3}`, `{"url": "https://x.org:0/"}`, `{"url": "HTTP://X.ORG./"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseCreate(body, 7)
		if err != nil {
			if err.Message == "" || err.Status != http.StatusBadRequest || len(err.Fields) != 1 {
				t.Fatalf("refusal without a message: %q", body)
			}
			return
		}
		u, perr := url.Parse(req.URL)
		switch {
		case perr != nil:
			t.Fatalf("accepted an unparsable URL %q: %v", req.URL, perr)
		case u.Scheme != "http" && u.Scheme != "https":
			t.Fatalf("accepted scheme %q in %q", u.Scheme, req.URL)
		case u.User != nil || u.Host == "" || u.Opaque != "":
			t.Fatalf("accepted %q: user %v, host %q, opaque %q", req.URL, u.User, u.Host, u.Opaque)
		case len(req.URL) > maxURLLen || !utf8.ValidString(req.URL) || strings.ContainsAny(req.URL, " \t\r\n\\"):
			t.Fatalf("accepted %q", req.URL)
		case req.TTLS < 0 || req.TTLS > maxTTLS:
			t.Fatalf("accepted ttl_s %d", req.TTLS)
		case req.Alias != "" && checkAlias(req.Alias, 7) != "":
			t.Fatalf("accepted alias %q", req.Alias)
		}
		for _, c := range []byte(req.URL) {
			if c < 0x21 || c > 0x7e {
				t.Fatalf("accepted byte %#x in %q", c, req.URL)
			}
		}
		// The URL survives a JSON round trip unchanged, as it is stored.
		b, _ := json.Marshal(req.URL)
		var back string
		if json.Unmarshal(b, &back) != nil || back != req.URL {
			t.Fatalf("round trip changed %q", req.URL)
		}
	})
}
