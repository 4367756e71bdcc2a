package main

import (
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/sdworkbook/workbook/internal/config"
)

// composeDefault replaces compose's ${NAME:-default} by its default, as
// the stack runs when nothing is set, and a required ${NAME:?message} by
// a stand-in value.
var composeDefault = regexp.MustCompile(`\$\{[A-Z_]+(?::-([^}]*)|:\?[^}]*)\}`)

// TestComposeTrustsOnlyNginx: in the shipped stack the app believes
// X-Forwarded-For from nginx's fixed address and nothing else, and nginx
// overwrites that header with the address it sees, so a client cannot
// choose the address its attempts count against.
func TestComposeTrustsOnlyNginx(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
			Networks    yaml.Node         `yaml:"networks"` // a list or a map
			Secrets     []string          `yaml:"secrets"`
		} `yaml:"services"`
		Secrets map[string]struct {
			File string `yaml:"file"`
		} `yaml:"secrets"`
		Networks map[string]struct {
			IPAM struct {
				Config []struct {
					Subnet string `yaml:"subnet"`
				} `yaml:"config"`
			} `yaml:"ipam"`
		} `yaml:"networks"`
	}
	if regexp.MustCompile(`\$\{POSTGRES_PASSWORD[:}]`).Match(raw) {
		t.Error("the stack passes the database password through the environment; it must come from the secret file")
	}
	filled := composeDefault.ReplaceAllStringFunc(string(raw), func(m string) string {
		if v, ok := strings.CutPrefix(m[strings.Index(m, ":"):], ":-"); ok {
			return strings.TrimSuffix(v, "}")
		}
		return "stand-in"
	})
	if err := yaml.Unmarshal([]byte(filled), &compose); err != nil {
		t.Fatal(err)
	}
	var nginxNets map[string]struct {
		IPv4 string `yaml:"ipv4_address"`
	}
	if n := compose.Services["nginx"].Networks; n.Kind != 0 {
		if err := n.Decode(&nginxNets); err != nil {
			t.Fatalf("nginx's networks: %v", err)
		}
	}
	nginx := nginxNets["default"].IPv4
	addr, err := netip.ParseAddr(nginx)
	if err != nil {
		t.Fatalf("nginx has no fixed address on the default network: %q", nginx)
	}
	subnets := compose.Networks["default"].IPAM.Config
	if len(subnets) != 1 {
		t.Fatalf("the default network has %d fixed subnets, want 1", len(subnets))
	}
	if p, err := netip.ParsePrefix(subnets[0].Subnet); err != nil || !p.Contains(addr) {
		t.Errorf("nginx's address %s is not in the network's subnet %q", addr, subnets[0].Subnet)
	}
	checkPasswordIsASecret(t, compose.Services["postgres"].Secrets, compose.Services["postgres"].Environment["POSTGRES_PASSWORD_FILE"], compose.Secrets["postgres_password"].File)
	for _, svc := range []string{"app", "grader"} {
		checkPasswordIsASecret(t, compose.Services[svc].Secrets, compose.Services[svc].Environment["DATABASE_PASSWORD_FILE"], compose.Secrets["postgres_password"].File)
	}
	env := compose.Services["app"].Environment
	pw := filepath.Join(t.TempDir(), "postgres_password")
	if err := os.WriteFile(pw, []byte("stand-in\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env["DATABASE_PASSWORD_FILE"] = pw
	cfg, err := config.Load(config.MapEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	if u, err := url.Parse(cfg.DatabaseURL); err != nil || u.User.String() != "workbook:stand-in" {
		t.Errorf("the app's database URL with the secret's password: %q", cfg.DatabaseURL)
	}
	if len(cfg.TrustedProxies) != 1 || cfg.TrustedProxies[0] != nginx {
		t.Errorf("the app trusts %q as proxies; want exactly nginx's address %s", cfg.TrustedProxies, nginx)
	}

	checkNginxOverwritesXFF(t)
}

// checkPasswordIsASecret: a service reads the database password from the
// postgres_password secret, mounted where its variable points, and the
// secret is a file.
func checkPasswordIsASecret(t *testing.T, secrets []string, fileVar, secretFile string) {
	t.Helper()
	if !slices.Contains(secrets, "postgres_password") || fileVar != "/run/secrets/postgres_password" || secretFile == "" {
		t.Errorf("a service does not read the database password from the postgres_password secret file (secrets %v, variable %q, file %q)", secrets, fileVar, secretFile)
	}
}

// checkNginxOverwritesXFF: every location that passes to the app sets
// X-Forwarded-For to the address nginx sees.
func checkNginxOverwritesXFF(t *testing.T) {
	conf, err := os.ReadFile("../../deploy/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	// A location inherits the server's proxy_set_header lines only when it
	// sets none of its own: each location that passes to the app must then
	// get X-Forwarded-For from the server or set it itself.
	xffLine := regexp.MustCompile(`(?m)^\s*proxy_set_header\s+X-Forwarded-For\s+(\S+);`)
	xff := xffLine.FindAllStringSubmatch(string(conf), -1)
	parts := strings.Split(string(conf), "\n    location ")
	serverSets := xffLine.MatchString(parts[0])
	for _, loc := range parts[1:] {
		if !strings.Contains(loc, "proxy_pass ") {
			continue
		}
		own := strings.Contains(loc, "proxy_set_header")
		if own && !xffLine.MatchString(loc) || !own && !serverSets {
			name, _, _ := strings.Cut(loc, "{")
			t.Errorf("location %s passes to the app without setting X-Forwarded-For", strings.TrimSpace(name))
		}
	}
	if len(xff) == 0 {
		t.Error("nginx sets no X-Forwarded-For")
	}
	if !regexp.MustCompile(`(?m)^\s*proxy_set_header\s+X-Request-ID\s+\$workbook_request_id;`).MatchString(parts[0]) {
		t.Error("nginx passes no X-Request-ID to the app: its access log and the app's would not share an id")
	}
	for _, m := range xff {
		if m[1] != "$remote_addr" {
			t.Errorf("nginx sets X-Forwarded-For to %s; want $remote_addr (overwrite, never append what the client sent)", m[1])
		}
	}
}

// Every long-running service of the stack has a health check, the image
// has one of its own, and each process gets time to stop cleanly.
func TestComposeChecksHealthAndStopsGracefully(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Healthcheck struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
			StopGrace string `yaml:"stop_grace_period"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"postgres", "redis", "app", "grader", "nginx"} {
		svc, ok := compose.Services[name]
		if !ok || len(svc.Healthcheck.Test) == 0 {
			t.Errorf("service %s has no health check", name)
		}
	}
	for _, name := range []string{"app", "grader"} {
		if compose.Services[name].StopGrace == "" {
			t.Errorf("service %s has no stop_grace_period: Docker kills it after 10 s", name)
		}
	}
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, stage := range strings.Split(string(df), "\nFROM ")[1:] {
		name := strings.Fields(stage)[len(strings.Fields(strings.SplitN(stage, "\n", 2)[0]))-1]
		if strings.Contains(stage, "ENTRYPOINT") && !strings.Contains(stage, "HEALTHCHECK") {
			t.Errorf("the image's stage %s has no HEALTHCHECK", name)
		}
	}
}
