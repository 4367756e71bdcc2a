// Package config reads the workbook's settings from typed environment
// variables. Every variable can also be given as NAME_FILE, the path of a
// file holding the value, so secrets can come from Docker or Kubernetes
// secret mounts instead of the environment.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is the server's whole configuration.
type Config struct {
	Addr           string        // WORKBOOK_ADDR
	DataDir        string        // WORKBOOK_DATA_DIR
	DatabaseURL    string        // DATABASE_URL; empty means SQLite in DataDir
	RedisURL       string        // REDIS_URL; empty means the embedded server
	BaseURL        string        // WORKBOOK_BASE_URL; https makes cookies Secure with the __Host- prefix
	ReplicaURL     string        // WORKBOOK_REPLICA_URL; empty: http://<hostname>:<port of WORKBOOK_ADDR>
	PostgresImage  string        // WORKBOOK_POSTGRES_IMAGE
	RedisImage     string        // WORKBOOK_REDIS_IMAGE
	GoImage        string        // WORKBOOK_GO_IMAGE
	PythonImage    string        // WORKBOOK_PYTHON_IMAGE
	SessionIdle    time.Duration // WORKBOOK_SESSION_IDLE
	SessionMax     time.Duration // WORKBOOK_SESSION_MAX
	TrustedProxies []string      // WORKBOOK_TRUSTED_PROXIES
	LoginIPLimit   int           // WORKBOOK_LOGIN_IP_LIMIT
	Registration   Registration  // WORKBOOK_REGISTRATION
	SMTP           SMTP          // WORKBOOK_SMTP_URL; zero: no email is sent
	MailFrom       string        // WORKBOOK_MAIL_FROM, as an RFC 5322 address
	LogLevel       string        // WORKBOOK_LOG_LEVEL
	LogFormat      string        // WORKBOOK_LOG_FORMAT
	Dev            bool          // WORKBOOK_DEV
	DebugAddr      string        // WORKBOOK_DEBUG_ADDR
	MetricsToken   string        // WORKBOOK_METRICS_TOKEN; empty: /metrics answers loopback only
	GraderWorkers  int           // WORKBOOK_GRADER_WORKERS
	GraderTimeout  time.Duration // WORKBOOK_GRADER_TIMEOUT
	GraderEnv      string        // WORKBOOK_GRADER_ENVIRONMENT
	GraderNetwork  string        // WORKBOOK_GRADER_NETWORK
	OIDC           OIDC          // WORKBOOK_OIDC_*: single sign-on
}

// Var describes one environment variable, for --help and the README.
type Var struct {
	Name    string
	Default string
	Help    string
	Secret  bool
}

// Vars lists every variable the server reads, in the order --help shows them.
var Vars = []Var{
	{"WORKBOOK_ADDR", ":8080", "address to listen on", false},
	{"WORKBOOK_DATA_DIR", "./data", "directory for the SQLite database and other local state", false},
	{"DATABASE_URL", "", "PostgreSQL URL (postgres://user:pass@host:5432/db); empty: SQLite in the data dir", true},
	{"DATABASE_PASSWORD", "", "the password for DATABASE_URL when the URL carries none: give it as DATABASE_PASSWORD_FILE (a compose or Kubernetes secret) to keep it out of the environment", true},
	{"REDIS_URL", "", "Redis URL (redis://host:6379/0); empty: an embedded Redis-protocol server on loopback, with a random password", true},
	{"WORKBOOK_BASE_URL", "", "public URL, e.g. https://workbook.example.org; https makes cookies Secure with the __Host- prefix", false},
	{"WORKBOOK_REPLICA_URL", "", "where the other replicas reach this one (http://app-1:8080), to serve a learner's lab instance that this replica runs; unique per replica; empty: http://<hostname>:<port of WORKBOOK_ADDR>", false},
	{"WORKBOOK_POSTGRES_IMAGE", "postgres:15", "PostgreSQL container image for the grader and tests", false},
	{"WORKBOOK_REDIS_IMAGE", "redis:7", "Redis container image for the grader and tests", false},
	{"WORKBOOK_GO_IMAGE", "workbook-local/go:1.24", "base image learners' Go services build on: Go 1.24 with go-redis v9.7.3 and pgx v5.7.2 in its module cache (scripts/images.sh go builds it; builds have no network)", false},
	{"WORKBOOK_PYTHON_IMAGE", "workbook-local/python:3.11", "base image learners' Python services build on: Python 3.11 with redis and psycopg2 (scripts/images.sh python builds it)", false},
	{"WORKBOOK_SESSION_IDLE", "72h", "a session ends after this long without a request", false},
	{"WORKBOOK_SESSION_MAX", "720h", "a session ends this long after login, however active", false},
	{"WORKBOOK_TRUSTED_PROXIES", "", "comma-separated IPs or CIDRs of the reverse proxies in front; from them the client is the right-most X-Forwarded-For address that is not a proxy; empty: none, the connecting address is the client's", false},
	{"WORKBOOK_LOGIN_IP_LIMIT", "100", "login attempts one IP may make across all accounts per 15 minutes (each account from one IP: 10); raise it for a big school behind one address", false},
	{"WORKBOOK_REGISTRATION", "open", "who may register: open, invite (a class join link or an admin's invitation), domains:example.edu,… or closed", false},
	{"WORKBOOK_SMTP_URL", "", "mail server for password resets and email confirmation: smtp://user:pass@host:587 (STARTTLS), smtps://user:pass@host:465 (TLS), or smtp://host:25?tls=none for a relay on this host; empty: no email, an administrator resets passwords", true},
	{"WORKBOOK_MAIL_FROM", "", "sender of those emails, e.g. Workbook <workbook@example.org>; required with WORKBOOK_SMTP_URL", false},
	{"WORKBOOK_OIDC_ISSUER", "", "OpenID Connect provider for single sign-on, as its discovery document names it (https://…); empty: off", false},
	{"WORKBOOK_OIDC_CLIENT_ID", "", "the workbook's client id at the provider (redirect URI: WORKBOOK_BASE_URL/auth/oidc/callback)", false},
	{"WORKBOOK_OIDC_CLIENT_SECRET", "", "the client's secret; empty for a public client (PKCE alone)", true},
	{"WORKBOOK_OIDC_NAME", "SSO", "the provider's name on the login page's button: Sign in with …", false},
	{"WORKBOOK_OIDC_ONLY", "false", "true: people sign in with the provider only; no registration, and password login for admins alone", false},
	{"WORKBOOK_LOG_LEVEL", "info", "debug, info, warn or error", false},
	{"WORKBOOK_LOG_FORMAT", "text", "text or json", false},
	{"WORKBOOK_DEV", "false", "development mode: reload content and templates' data on change", false},
	{"WORKBOOK_DEBUG_ADDR", "", "address of a listener for Go's profiler (/debug/pprof/: goroutines, heap); keep it on loopback, e.g. 127.0.0.1:6060; empty: none", false},
	{"WORKBOOK_METRICS_TOKEN", "", "bearer token for GET /metrics from other hosts (Authorization: Bearer …), at least 16 characters; empty: only loopback clients are answered", true},
	{"WORKBOOK_GRADER_WORKERS", "2", "submissions this process grades at once; 0: only enqueue (separate `server grader` processes grade)", false},
	{"WORKBOOK_GRADER_TIMEOUT", "90s", "time limit for grading one submission, environment start included", false},
	{"WORKBOOK_GRADER_ENVIRONMENT", "auto", "where to grade: containers, embedded, or auto (containers when a Docker engine answers)", false},
	{"WORKBOOK_GRADER_NETWORK", "", "Docker network the grading containers join, for a grader that runs in a container on it; empty: they publish their ports on 127.0.0.1", false},
}

// Getenv looks up one variable; os.LookupEnv has this shape.
type Getenv func(string) (string, bool)

// MapEnv adapts a map to Getenv, for tests and for run(ctx, args, env).
func MapEnv(m map[string]string) Getenv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// Load reads the configuration. The error names the variable at fault and is
// meant to be printed as one line.
func Load(getenv Getenv) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		Addr:          r.str("WORKBOOK_ADDR"),
		DataDir:       r.str("WORKBOOK_DATA_DIR"),
		DatabaseURL:   r.databaseURL(),
		RedisURL:      r.str("REDIS_URL"),
		BaseURL:       r.str("WORKBOOK_BASE_URL"),
		ReplicaURL:    r.str("WORKBOOK_REPLICA_URL"),
		PostgresImage: r.str("WORKBOOK_POSTGRES_IMAGE"),
		RedisImage:    r.str("WORKBOOK_REDIS_IMAGE"),
		GoImage:       r.str("WORKBOOK_GO_IMAGE"),
		PythonImage:   r.str("WORKBOOK_PYTHON_IMAGE"),
		SessionIdle:   r.duration("WORKBOOK_SESSION_IDLE"),
		SessionMax:    r.duration("WORKBOOK_SESSION_MAX"),
		LoginIPLimit:  r.integer("WORKBOOK_LOGIN_IP_LIMIT", 10, 1000000),
		LogLevel:      r.oneOf("WORKBOOK_LOG_LEVEL", "debug", "info", "warn", "error"),
		LogFormat:     r.oneOf("WORKBOOK_LOG_FORMAT", "text", "json"),
		Dev:           r.boolean("WORKBOOK_DEV"),
		DebugAddr:     r.str("WORKBOOK_DEBUG_ADDR"),
		MetricsToken:  r.str("WORKBOOK_METRICS_TOKEN"),
		GraderWorkers: r.integer("WORKBOOK_GRADER_WORKERS", 0, 64),
		GraderTimeout: r.duration("WORKBOOK_GRADER_TIMEOUT"),
		GraderEnv:     r.oneOf("WORKBOOK_GRADER_ENVIRONMENT", "auto", "containers", "embedded"),
		GraderNetwork: r.str("WORKBOOK_GRADER_NETWORK"),
		OIDC:          readOIDC(&r),
	}
	c.TrustedProxies = r.proxies("WORKBOOK_TRUSTED_PROXIES")
	c.Registration = r.registration("WORKBOOK_REGISTRATION")
	r.mail(&c)
	if r.err != nil {
		return Config{}, r.err
	}
	if err := c.check(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// check refuses settings that read well but cannot work.
func (c *Config) check() error {
	if err := c.checkURLs(); err != nil {
		return err
	}
	if c.SessionIdle <= 0 || c.SessionMax <= 0 {
		return errors.New("WORKBOOK_SESSION_IDLE and WORKBOOK_SESSION_MAX must be positive")
	}
	if c.GraderTimeout < 5*time.Second || c.GraderTimeout > time.Hour {
		return errors.New("WORKBOOK_GRADER_TIMEOUT: must be between 5s and 1h")
	}
	if n := c.GraderNetwork; n != "" && !dockerName(n) {
		return fmt.Errorf("WORKBOOK_GRADER_NETWORK: %q is not a Docker network name (letters, digits, _ . -)", n)
	}
	if c.DataDir == "" {
		return errors.New("WORKBOOK_DATA_DIR: must not be empty")
	}
	if t := c.MetricsToken; t != "" && (len(t) < 16 || strings.ContainsAny(t, " \t\r\n")) {
		return errors.New("WORKBOOK_METRICS_TOKEN: must be at least 16 characters, without spaces")
	}
	return nil
}

// checkURLs checks the addresses, and keeps the base URL without a
// trailing slash.
func (c *Config) checkURLs() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("WORKBOOK_ADDR: %q is not host:port (%v)", c.Addr, err)
	}
	if c.DatabaseURL != "" {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return errors.New("DATABASE_URL: must be a postgres:// URL")
		}
	}
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			return errors.New("REDIS_URL: must be a redis:// or rediss:// URL")
		}
	}
	if c.ReplicaURL != "" {
		u, err := url.Parse(c.ReplicaURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("WORKBOOK_REPLICA_URL: %q is not an http(s) URL of a host and port", c.ReplicaURL)
		}
		c.ReplicaURL = strings.TrimRight(c.ReplicaURL, "/")
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("WORKBOOK_BASE_URL: %q is not an http(s) URL", c.BaseURL)
		}
		c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	}
	return nil
}

// proxies reads a comma-separated list of IPs and CIDRs.
func (r *reader) proxies(name string) []string {
	var out []string
	if p := r.str(name); p != "" {
		for _, s := range strings.Split(p, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			if _, err := netip.ParsePrefix(s); err != nil {
				if ip := net.ParseIP(s); ip == nil {
					r.fail(name, fmt.Errorf("%q is neither an IP nor a CIDR", s))
				}
			}
			out = append(out, s)
		}
	}
	return out
}

// dockerName reports whether s can name a Docker network.
func dockerName(s string) bool {
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || i > 0 && (r == '_' || r == '.' || r == '-')
		if !ok {
			return false
		}
	}
	return len(s) <= 128
}

// SecureCookies reports whether the public URL is https, so cookies must be
// Secure and carry the __Host- prefix.
func (c Config) SecureCookies() bool { return strings.HasPrefix(c.BaseURL, "https://") }

// ReplicaAddress is where the other replicas reach this one: the
// configured URL, else this host's name and the port the server listens on.
func (c Config) ReplicaAddress() string {
	if c.ReplicaURL != "" {
		return c.ReplicaURL
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	_, port, _ := net.SplitHostPort(c.Addr)
	return "http://" + net.JoinHostPort(host, port)
}

// SQLitePath is where the embedded database lives.
func (c Config) SQLitePath() string { return filepath.Join(c.DataDir, "workbook.db") }

// Usage is the text of `server --help`.
func Usage() string {
	var b strings.Builder
	b.WriteString(`System Design Workbook server

Usage:
  server [serve]                    run the web server (default)
  server migrate                    apply database migrations and exit
  server grader                     grade submissions only (no web server), sharing the database and Redis
  server healthcheck                exit 0 when the local server's /readyz answers 200
  server backup FILE                copy the SQLite database to a new FILE, safe while serving
                                    (on PostgreSQL it prints the pg_dump command to use)
  server restore FILE               replace the SQLite database with a backup, the server stopped
  server admin create-user --email E --password-file F [--role learner|instructor|admin]
  server admin reset-password --email E --password-file F
                                    set an account's password and end its sessions
  server --help                     this text

Environment (each may also be given as NAME_FILE, a file holding the value):
`)
	width := 0 // the longest name's
	for _, v := range Vars {
		width = max(width, len(v.Name))
	}
	for _, v := range Vars {
		def := v.Default
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(&b, "  %-*s %-14s %s\n", width, v.Name, def, v.Help)
	}
	return b.String()
}

type reader struct {
	getenv Getenv
	err    error
}

// databaseURL is DATABASE_URL with DATABASE_PASSWORD put in, when given:
// a secret file holds the password alone, and the URL stays plain.
func (r *reader) databaseURL() string {
	raw, pw := r.str("DATABASE_URL"), r.str("DATABASE_PASSWORD")
	if pw == "" {
		return raw
	}
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		r.fail("DATABASE_PASSWORD", errors.New("set without DATABASE_URL, whose password it is"))
	case err != nil || u.User == nil || u.User.Username() == "":
		r.fail("DATABASE_PASSWORD", errors.New("DATABASE_URL must name the user (postgres://user@host:5432/db) for the password to go with"))
	default:
		if _, has := u.User.Password(); has {
			r.fail("DATABASE_PASSWORD", errors.New("DATABASE_URL already carries a password: give it in one place"))
			return raw
		}
		u.User = url.UserPassword(u.User.Username(), pw)
		return u.String()
	}
	return raw
}

func (r *reader) fail(name string, err error) {
	if r.err == nil {
		r.err = fmt.Errorf("%s: %v", name, err)
	}
}

func (r *reader) str(name string) string {
	def := ""
	for _, v := range Vars {
		if v.Name == name {
			def = v.Default
		}
	}
	if v, ok := r.getenv(name); ok {
		return strings.TrimSpace(v)
	}
	if path, ok := r.getenv(name + "_FILE"); ok && path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			r.fail(name+"_FILE", err)
			return def
		}
		return strings.TrimSpace(string(b))
	}
	return def
}

func (r *reader) duration(name string) time.Duration {
	s := r.str(name)
	d, err := time.ParseDuration(s)
	if err != nil {
		r.fail(name, fmt.Errorf("%q is not a duration like 30m or 72h", s))
	}
	return d
}

func (r *reader) boolean(name string) bool {
	s := r.str(name)
	b, err := strconv.ParseBool(s)
	if err != nil {
		r.fail(name, fmt.Errorf("%q is not true or false", s))
	}
	return b
}

func (r *reader) oneOf(name string, allowed ...string) string {
	s := strings.ToLower(r.str(name))
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	r.fail(name, fmt.Errorf("%q is not one of %s", s, strings.Join(allowed, ", ")))
	return allowed[0]
}

func (r *reader) integer(name string, lo, hi int) int {
	s := r.str(name)
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		r.fail(name, fmt.Errorf("%q is not a whole number from %d to %d", s, lo, hi))
		return lo
	}
	return n
}
