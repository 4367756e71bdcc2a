package main

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

func openTestStore(t *testing.T, be testenv.Backend) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{PostgresURL: be.DatabaseURL, SQLitePath: filepath.Join(be.DataDir, "workbook.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var setupURL = regexp.MustCompile(`setup_url=(\S+)`)

// startLogged runs the server on addr until the returned stop is called.
// The server answers only after it has announced itself (the setup link
// included), so once it is ready its log is whole.
func startLogged(t *testing.T, addr string, env config.Getenv) (*syncBuffer, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, nil, env, logs, logs) }()
	for i := 0; i < 1200; i++ {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return logs, func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("server did not stop")
		}
	}
}

// A fresh server prints a one-time setup link while it has no admin: the
// first registrant is a learner, the link makes the admin once, and a
// server started again with an admin prints none.
func TestSetupLinkFromTheLog(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			addr := freeAddr(t)
			env := config.MapEnv(map[string]string{
				"WORKBOOK_ADDR": addr, "WORKBOOK_DATA_DIR": be.DataDir, "DATABASE_URL": be.DatabaseURL, "REDIS_URL": be.RedisURL,
				"WORKBOOK_GRADER_WORKERS": "0",
			})
			start := func() (*syncBuffer, func()) { return startLogged(t, addr, env) }
			logs, stop := start()
			m := setupURL.FindStringSubmatch(logs.String())
			if m == nil {
				stop()
				t.Fatalf("no setup link in the log:\n%s", logs.String())
			}
			link := strings.Trim(m[1], `"`)
			if !strings.HasPrefix(link, "http://"+addr+"/setup/") {
				t.Errorf("setup link %q is not on this server", link)
			}
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			post := func(u string, form url.Values) int {
				t.Helper()
				resp, err := client.PostForm(u, form)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if code := post("http://"+addr+"/register", url.Values{"email": {"first@example.org"}, "password": {"a long enough password"}}); code != http.StatusSeeOther {
				t.Fatalf("first registration: %d", code)
			}
			if code := post(link, url.Values{"email": {"root@example.org"}, "password": {"a long enough password"}}); code != http.StatusSeeOther {
				t.Fatalf("setup: %d", code)
			}
			if code := post(link, url.Values{"email": {"second@example.org"}, "password": {"a long enough password"}}); code != http.StatusNotFound {
				t.Errorf("second use of the setup link: %d, want 404", code)
			}
			stop()

			st := openTestStore(t, be)
			for email, want := range map[string]store.Role{"first@example.org": store.RoleLearner, "root@example.org": store.RoleAdmin} {
				if u, err := st.UserByEmail(context.Background(), email); err != nil || u.Role != want {
					t.Errorf("%s: %s, %v; want %s", email, u.Role, err, want)
				}
			}
			if _, err := st.UserByEmail(context.Background(), "second@example.org"); err == nil {
				t.Error("the second use made an account")
			}

			logs, stop = start()
			stop()
			if strings.Contains(logs.String(), "setup_url") {
				t.Errorf("a server with an admin printed a setup link:\n%s", logs.String())
			}
		})
	}
}

// reset-password sets the password from a file and ends the account's
// sessions; the password never comes from the command line.
func TestResetPassword(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			ctx := context.Background()
			env := config.MapEnv(map[string]string{"WORKBOOK_DATA_DIR": be.DataDir, "DATABASE_URL": be.DatabaseURL, "REDIS_URL": be.RedisURL})
			dir := t.TempDir()
			pw := filepath.Join(dir, "pw")
			_ = os.WriteFile(pw, []byte("the first password\n"), 0o600)
			var out, errb bytes.Buffer
			if code := run(ctx, []string{"admin", "create-user", "--email", "ada@example.org", "--password-file", pw}, env, &out, &errb); code != 0 {
				t.Fatalf("create-user exit %d: %s", code, errb.String())
			}
			st := openTestStore(t, be)
			ada, err := st.UserByEmail(ctx, "ada@example.org")
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			for _, id := range []string{"laptop", "phone"} {
				if err := st.CreateSession(ctx, store.Session{ID: id, UserID: ada.ID, CreatedAt: now}, 20); err != nil {
					t.Fatal(err)
				}
			}

			_ = os.WriteFile(pw, []byte("the second password\r\n"), 0o600)
			out.Reset()
			if code := run(ctx, []string{"admin", "reset-password", "--email", "Ada@Example.org", "--password-file", pw}, env, &out, &errb); code != 0 {
				t.Fatalf("reset-password exit %d: %s", code, errb.String())
			}
			if !strings.Contains(out.String(), "password of ada@example.org reset") {
				t.Errorf("reset-password said %q", out.String())
			}
			ada, _ = st.UserByEmail(ctx, "ada@example.org")
			if ok, _ := auth.VerifyPassword(ada.PasswordHash, "the second password"); !ok {
				t.Error("the new password does not verify")
			}
			if rows, _ := st.SessionsOf(ctx, ada.ID); len(rows) != 0 {
				t.Errorf("%d sessions left after the reset", len(rows))
			}

			// The email may come first; - reads standard input in real use.
			_ = os.WriteFile(pw, []byte("the third password"), 0o600)
			if code := run(ctx, []string{"admin", "reset-password", "ada@example.org", "--password-file", pw}, env, &out, &errb); code != 0 {
				t.Fatalf("reset-password EMAIL exit %d: %s", code, errb.String())
			}
			ada, _ = st.UserByEmail(ctx, "ada@example.org")
			if ok, _ := auth.VerifyPassword(ada.PasswordHash, "the third password"); !ok {
				t.Error("the third password does not verify")
			}

			for _, tc := range []struct {
				args []string
				code int
				want string
			}{
				{[]string{"admin", "reset-password", "--email", "nobody@example.org", "--password-file", pw}, 1, "no account has the email nobody@example.org"},
				{[]string{"admin", "reset-password", "--email", "ada@example.org"}, 2, "--password-file is required"},
				{[]string{"admin", "reset-password", "--email", "ada@example.org", "--password", "x"}, 2, "flag provided but not defined"},
				{[]string{"admin", "reset-password", "--email", "ada@example.org", "--password-file", filepath.Join(dir, "missing")}, 2, "reading the password"},
				{[]string{"admin", "frobnicate"}, 2, "unknown command"},
			} {
				errb.Reset()
				if code := run(ctx, tc.args, env, &out, &errb); code != tc.code || !strings.Contains(errb.String(), tc.want) {
					t.Errorf("%v: exit %d, %q; want %d and %q", tc.args, code, errb.String(), tc.code, tc.want)
				}
			}
			_ = os.WriteFile(pw, []byte("short"), 0o600)
			errb.Reset()
			if code := run(ctx, []string{"admin", "reset-password", "--email", "ada@example.org", "--password-file", pw}, env, &out, &errb); code != 2 || !strings.Contains(errb.String(), "password: Use at least 12") {
				t.Errorf("short password: exit %d, %q", code, errb.String())
			}
		})
	}
}
