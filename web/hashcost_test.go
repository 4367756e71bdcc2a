package web

import (
	"context"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// TestServerHashesAtTheRealCost: the tests hash cheaply, the server does
// not. An account registered on a server with a hasher at the default
// cost (app.Open wires one for cmd/server; its own test checks that) is
// stored as argon2id at OWASP's minimum profile, 19 MiB and 2 passes.
func TestServerHashesAtTheRealCost(t *testing.T) {
	a := MustStartDeps(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil, func(d *Deps) { d.Hasher = auth.NewHasher(1, 4) })
	MustRegister(t, a, "cost@example.org")
	u, err := a.store.UserByEmail(context.Background(), "cost@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("stored hash %.40q…, want argon2id at m=19456,t=2,p=1", u.PasswordHash)
	}
	// And a test app's hash is the cheap one, or this file proves nothing.
	b := MustStart(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()}, nil)
	MustRegister(t, b, "cheap@example.org")
	if v, _ := b.store.UserByEmail(context.Background(), "cheap@example.org"); !strings.HasPrefix(v.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("test app's hash %.40q…, want the cheap parameters", v.PasswordHash)
	}
}
