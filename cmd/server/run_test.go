package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

func TestMain(m *testing.M) {
	if serveChild() {
		return
	}
	testenv.Main(m)
}

// syncBuffer is a bytes.Buffer safe for the server's log writer and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func freeAddr(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestHelpAndBadConfig(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, config.MapEnv(nil), &out, &errb); code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	if !strings.Contains(out.String(), "WORKBOOK_DATA_DIR") || !strings.Contains(out.String(), "./data") {
		t.Errorf("--help output:\n%s", out.String())
	}
	out.Reset()
	code := run(context.Background(), nil, config.MapEnv(map[string]string{"WORKBOOK_SESSION_IDLE": "forever"}), &out, &errb)
	if code != 2 {
		t.Errorf("invalid config exit %d, want 2", code)
	}
	if lines := strings.Split(strings.TrimSpace(errb.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "WORKBOOK_SESSION_IDLE") {
		t.Errorf("invalid config message: %q", errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"frobnicate"}, config.MapEnv(nil), &out, &errb); code != 2 {
		t.Errorf("unknown command exit %d", code)
	}
}

func TestServeStartsAndStopsGracefully(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			addr := freeAddr(t)
			env := config.MapEnv(map[string]string{
				"WORKBOOK_ADDR": addr, "WORKBOOK_DATA_DIR": be.DataDir,
				"DATABASE_URL": be.DatabaseURL, "REDIS_URL": be.RedisURL,
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			logs := &syncBuffer{}
			done := make(chan int, 1)
			go func() { done <- run(ctx, nil, env, logs, logs) }()

			ready := false
			for i := 0; i < 1200 && !ready; i++ { // up to a minute on a loaded machine
				resp, err := http.Get("http://" + addr + "/readyz")
				if err == nil {
					ready = resp.StatusCode == http.StatusOK
					resp.Body.Close()
				}
				if !ready {
					time.Sleep(50 * time.Millisecond)
				}
			}
			if !ready {
				t.Fatalf("never ready; logs:\n%s", logs.String())
			}
			if !strings.Contains(logs.String(), "http://"+addr) {
				t.Errorf("start-up log does not give the URL:\n%s", logs.String())
			}
			cancel() // what SIGTERM does through signal.NotifyContext
			select {
			case code := <-done:
				if code != 0 {
					t.Errorf("exit %d; logs:\n%s", code, logs.String())
				}
			case <-time.After(15 * time.Second):
				t.Fatal("server did not stop")
			}
			if !strings.Contains(logs.String(), "stopped cleanly") {
				t.Errorf("no clean stop in logs:\n%s", logs.String())
			}
			if be.DatabaseURL == "" {
				if _, err := os.Stat(filepath.Join(be.DataDir, "workbook.db")); err != nil {
					t.Errorf("embedded default made no SQLite file: %v", err)
				}
			}
		})
	}
}

func TestMigrateAndCreateUser(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			env := map[string]string{"WORKBOOK_DATA_DIR": be.DataDir, "DATABASE_URL": be.DatabaseURL, "REDIS_URL": be.RedisURL}
			var out, errb bytes.Buffer
			if code := run(context.Background(), []string{"migrate"}, config.MapEnv(env), &out, &errb); code != 0 {
				t.Fatalf("migrate exit %d: %s", code, errb.String())
			}
			pw := filepath.Join(t.TempDir(), "pw")
			_ = os.WriteFile(pw, []byte("a long enough password\n"), 0o600)
			args := []string{"admin", "create-user", "--email", "Teacher@Example.org", "--password-file", pw, "--role", "instructor"}
			if code := run(context.Background(), args, config.MapEnv(env), &out, &errb); code != 0 {
				t.Fatalf("create-user exit %d: %s", code, errb.String())
			}
			if !strings.Contains(out.String(), "instructor account teacher@example.org") {
				t.Errorf("create-user said %q", out.String())
			}
			st, err := store.Open(context.Background(), store.Options{PostgresURL: be.DatabaseURL, SQLitePath: filepath.Join(be.DataDir, "workbook.db")})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			u, err := st.UserByEmail(context.Background(), "teacher@example.org")
			if err != nil || u.Role != store.RoleInstructor {
				t.Fatalf("created user %+v, %v", u, err)
			}

			_ = os.WriteFile(pw, []byte("short\n"), 0o600)
			errb.Reset()
			args[3] = "other@example.org"
			if code := run(context.Background(), args, config.MapEnv(env), &out, &errb); code != 2 || !strings.Contains(errb.String(), "password") {
				t.Errorf("short password: exit %d, %q", code, errb.String())
			}
			errb.Reset()
			if code := run(context.Background(), []string{"admin", "create-user", "--email", "x@example.org", "--password-file", pw, "--role", "root"}, config.MapEnv(env), &out, &errb); code != 2 {
				t.Errorf("bad role exit %d", code)
			}
		})
	}
}
