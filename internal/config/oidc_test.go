package config

import (
	"strings"
	"testing"
)

func TestOIDCOffByDefault(t *testing.T) {
	c, err := Load(MapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.OIDC.Enabled() || c.OIDC.Only || c.OIDC.Name != "SSO" {
		t.Errorf("default single sign-on %+v", c.OIDC)
	}
}

func TestOIDCSettings(t *testing.T) {
	env := map[string]string{
		"WORKBOOK_BASE_URL":           "https://workbook.example.edu/",
		"WORKBOOK_OIDC_ISSUER":        "https://login.example.edu/realms/school",
		"WORKBOOK_OIDC_CLIENT_ID":     "workbook",
		"WORKBOOK_OIDC_CLIENT_SECRET": "s3cret",
		"WORKBOOK_OIDC_NAME":          "School account",
		"WORKBOOK_OIDC_ONLY":          "true",
	}
	c, err := Load(MapEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	want := OIDC{Issuer: "https://login.example.edu/realms/school", ClientID: "workbook", ClientSecret: "s3cret", Name: "School account", Only: true}
	if c.OIDC != want {
		t.Errorf("OIDC = %+v, want %+v", c.OIDC, want)
	}
	if got := c.OIDCRedirectURL(); got != "https://workbook.example.edu/auth/oidc/callback" {
		t.Errorf("redirect URL %q", got)
	}
	// A provider on this machine may speak plain http.
	env["WORKBOOK_OIDC_ISSUER"] = "http://127.0.0.1:9998"
	if _, err := Load(MapEnv(env)); err != nil {
		t.Errorf("loopback issuer refused: %v", err)
	}
}

func TestOIDCInvalid(t *testing.T) {
	good := func() map[string]string {
		return map[string]string{
			"WORKBOOK_BASE_URL":       "https://workbook.example.edu",
			"WORKBOOK_OIDC_ISSUER":    "https://login.example.edu",
			"WORKBOOK_OIDC_CLIENT_ID": "workbook",
		}
	}
	for _, tc := range []struct {
		name, variable string
		edit           func(map[string]string)
	}{
		{"no base URL", "WORKBOOK_BASE_URL", func(m map[string]string) { delete(m, "WORKBOOK_BASE_URL") }},
		{"no client id", "WORKBOOK_OIDC_CLIENT_ID", func(m map[string]string) { delete(m, "WORKBOOK_OIDC_CLIENT_ID") }},
		{"client id without issuer", "WORKBOOK_OIDC_ISSUER", func(m map[string]string) { delete(m, "WORKBOOK_OIDC_ISSUER") }},
		{"only without issuer", "WORKBOOK_OIDC_ONLY", func(m map[string]string) {
			delete(m, "WORKBOOK_OIDC_ISSUER")
			delete(m, "WORKBOOK_OIDC_CLIENT_ID")
			m["WORKBOOK_OIDC_ONLY"] = "true"
		}},
		{"only not a boolean", "WORKBOOK_OIDC_ONLY", func(m map[string]string) { m["WORKBOOK_OIDC_ONLY"] = "mostly" }},
		{"plain http far away", "WORKBOOK_OIDC_ISSUER", func(m map[string]string) { m["WORKBOOK_OIDC_ISSUER"] = "http://login.example.edu" }},
		{"not a URL", "WORKBOOK_OIDC_ISSUER", func(m map[string]string) { m["WORKBOOK_OIDC_ISSUER"] = "login.example.edu" }},
		{"query", "WORKBOOK_OIDC_ISSUER", func(m map[string]string) { m["WORKBOOK_OIDC_ISSUER"] = "https://login.example.edu/?tenant=1" }},
		{"long name", "WORKBOOK_OIDC_NAME", func(m map[string]string) { m["WORKBOOK_OIDC_NAME"] = strings.Repeat("x", 41) }},
		{"bidi name", "WORKBOOK_OIDC_NAME", func(m map[string]string) { m["WORKBOOK_OIDC_NAME"] = "School \u202eaccount" }},
		{"control name", "WORKBOOK_OIDC_NAME", func(m map[string]string) { m["WORKBOOK_OIDC_NAME"] = "School\naccount" }},
		{"empty name", "WORKBOOK_OIDC_NAME", func(m map[string]string) { m["WORKBOOK_OIDC_NAME"] = "" }},
	} {
		env := good()
		tc.edit(env)
		_, err := Load(MapEnv(env))
		if err == nil || !strings.HasPrefix(err.Error(), tc.variable+":") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v should be one line starting with %s", tc.name, err, tc.variable)
		}
	}
}
