package config

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c, err := Load(MapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.DataDir != "./data" || c.DatabaseURL != "" || c.RedisURL != "" ||
		c.PostgresImage != "postgres:15" || c.RedisImage != "redis:7" || c.SessionIdle != 72*time.Hour ||
		c.LoginIPLimit != 100 {
		t.Errorf("defaults: %+v", c)
	}
	if c.SecureCookies() {
		t.Error("secure cookies without an https base URL")
	}
}

func TestFileVariants(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "db")
	if err := os.WriteFile(p, []byte("postgres://u:secret@db:5432/workbook\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(MapEnv(map[string]string{"DATABASE_URL_FILE": p, "WORKBOOK_BASE_URL": "https://w.example.org/"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseURL != "postgres://u:secret@db:5432/workbook" {
		t.Errorf("DATABASE_URL from file = %q", c.DatabaseURL)
	}
	if !c.SecureCookies() || c.BaseURL != "https://w.example.org" {
		t.Errorf("base url %q", c.BaseURL)
	}
	// The plain variable wins over the file.
	c, _ = Load(MapEnv(map[string]string{"DATABASE_URL": "postgres://x@y/z", "DATABASE_URL_FILE": p}))
	if c.DatabaseURL != "postgres://x@y/z" {
		t.Errorf("plain variable lost to the file: %q", c.DatabaseURL)
	}
}

func TestInvalid(t *testing.T) {
	for env, wantName := range map[[2]string]string{
		{"WORKBOOK_ADDR", "8080"}:                           "WORKBOOK_ADDR",
		{"DATABASE_URL", "mysql://x"}:                       "DATABASE_URL",
		{"REDIS_URL", "http://x"}:                           "REDIS_URL",
		{"WORKBOOK_SESSION_IDLE", "soon"}:                   "WORKBOOK_SESSION_IDLE",
		{"WORKBOOK_SESSION_MAX", "-1h"}:                     "WORKBOOK_SESSION_MAX",
		{"WORKBOOK_LOG_LEVEL", "loud"}:                      "WORKBOOK_LOG_LEVEL",
		{"WORKBOOK_DEV", "maybe"}:                           "WORKBOOK_DEV",
		{"WORKBOOK_TRUSTED_PROXIES", "10.0.0.0/8,nonsense"}: "WORKBOOK_TRUSTED_PROXIES",
		{"WORKBOOK_BASE_URL", "ftp://x"}:                    "WORKBOOK_BASE_URL",
		{"WORKBOOK_REPLICA_URL", "app-1:8080"}:              "WORKBOOK_REPLICA_URL",
		{"WORKBOOK_REPLICA_URL", "http://app-1:8080/x"}:     "WORKBOOK_REPLICA_URL",
		{"WORKBOOK_LOGIN_IP_LIMIT", "5"}:                    "WORKBOOK_LOGIN_IP_LIMIT",
		{"WORKBOOK_LOGIN_IP_LIMIT", "lots"}:                 "WORKBOOK_LOGIN_IP_LIMIT",
		{"REDIS_URL_FILE", "/does/not/exist"}:               "REDIS_URL_FILE",
		{"WORKBOOK_GRADER_NETWORK", "two words"}:            "WORKBOOK_GRADER_NETWORK",
		{"WORKBOOK_REGISTRATION", "sometimes"}:              "WORKBOOK_REGISTRATION",
		{"WORKBOOK_REGISTRATION", "domains:"}:               "WORKBOOK_REGISTRATION",
		{"WORKBOOK_REGISTRATION", "domains:bad_domain"}:     "WORKBOOK_REGISTRATION",
		{"WORKBOOK_REGISTRATION", "open:example.edu"}:       "WORKBOOK_REGISTRATION",
	} {
		_, err := Load(MapEnv(map[string]string{env[0]: env[1]}))
		if err == nil || !strings.Contains(err.Error(), wantName) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s=%q: error %v should be one line naming %s", env[0], env[1], err, wantName)
		}
	}
}

func TestUsageListsEveryVariable(t *testing.T) {
	u := Usage()
	col := -1 // where the defaults begin: the same on every line
	for _, v := range Vars {
		i := strings.Index(u, "  "+v.Name+" ")
		if i < 0 {
			t.Errorf("--help does not list %s", v.Name)
			continue
		}
		line := u[i+2:]
		line, _, _ = strings.Cut(line, "\n")
		rest := strings.TrimLeft(line[len(v.Name):], " ")
		at := len(line) - len(rest)
		if col < 0 {
			col = at
		}
		if at != col || len(rest) == 0 {
			t.Errorf("--help: %s's default begins at column %d, the others' at %d:\n%s", v.Name, at, col, line)
		}
	}
}

func TestREADMEDocumentsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Vars {
		if !strings.Contains(string(b), "| `"+v.Name+"` |") {
			t.Errorf("README's configuration table lacks %s", v.Name)
		}
	}
}

func TestRegistrationPolicy(t *testing.T) {
	c, err := Load(MapEnv(nil))
	if err != nil || c.Registration.Mode != RegistrationOpen || !c.Registration.DomainAllowed("a@anywhere.org") {
		t.Fatalf("default policy %+v, %v: want open", c.Registration, err)
	}
	c, err = Load(MapEnv(map[string]string{"WORKBOOK_REGISTRATION": " Domains: example.edu, @School.org ,"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Registration.String(); got != "domains:example.edu,school.org" {
		t.Errorf("policy %q", got)
	}
	for email, want := range map[string]bool{
		"ada@example.edu":      true,
		"ada@EXAMPLE.EDU":      true,
		"bo@school.org":        true,
		"cy@sub.example.edu":   false,
		"dee@example.edu.evil": false,
		"eve@elsewhere.com":    false,
		"no-at-sign":           false,
	} {
		if got := c.Registration.DomainAllowed(email); got != want {
			t.Errorf("DomainAllowed(%q) = %v, want %v", email, got, want)
		}
	}
	for _, mode := range []string{"invite", "closed", "OPEN"} {
		c, err := Load(MapEnv(map[string]string{"WORKBOOK_REGISTRATION": mode}))
		if err != nil || c.Registration.Mode != strings.ToLower(mode) || !c.Registration.DomainAllowed("x@y.z") {
			t.Errorf("%s: %+v, %v", mode, c.Registration, err)
		}
	}
}

// A password kept in a file of its own (a compose secret) goes into a
// DATABASE_URL that names the user only; given twice, or without a URL
// or a user, it is refused, naming the variable.
func TestDatabasePasswordFromAFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "postgres_password")
	if err := os.WriteFile(p, []byte("s3cr:t/@pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(MapEnv(map[string]string{"DATABASE_URL": "postgres://workbook@postgres:5432/workbook?sslmode=disable", "DATABASE_PASSWORD_FILE": p}))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(c.DatabaseURL)
	if err != nil || u.User.Username() != "workbook" || u.Host != "postgres:5432" || u.RawQuery != "sslmode=disable" {
		t.Fatalf("DATABASE_URL with the password: %q (%v)", c.DatabaseURL, err)
	}
	if pw, _ := u.User.Password(); pw != "s3cr:t/@pw" {
		t.Errorf("the password read back from the URL is %q", pw)
	}
	for _, env := range []map[string]string{
		{"DATABASE_PASSWORD_FILE": p},
		{"DATABASE_URL": "postgres://workbook:other@postgres/workbook", "DATABASE_PASSWORD_FILE": p},
		{"DATABASE_URL": "postgres://postgres/workbook", "DATABASE_PASSWORD": "x"},
	} {
		if _, err := Load(MapEnv(env)); err == nil || !strings.Contains(err.Error(), "DATABASE_PASSWORD") {
			t.Errorf("%v: error %v, want one naming DATABASE_PASSWORD", env, err)
		}
	}
}
