package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/migrations"
)

func mustUser(t *testing.T, st *store.Store, email string) store.User {
	t.Helper()
	u, err := st.CreateUser(context.Background(), email, "hash", store.RoleLearner)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func sessionIDs(t *testing.T, st *store.Store, userID int64) []string {
	t.Helper()
	rows, err := st.SessionsOf(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

// Sessions: listed most recently used first with their browser; capped per
// user by ending the least recently used; ended one at a time only by
// their owner, all but one, or all with a new password.
func TestSessionsOfAUser(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			st := MustOpen(t, b)
			ada, bob := mustUser(t, st, "ada@example.org"), mustUser(t, st, "bob@example.org")
			now := time.Now().UTC().Truncate(time.Second)
			for i := range 4 {
				s := store.Session{ID: fmt.Sprintf("ada-%d", i), UserID: ada.ID, CreatedAt: now.Add(time.Duration(i) * time.Minute), UserAgent: fmt.Sprintf("Browser %d", i)}
				if err := st.CreateSession(ctx, s, 3); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.CreateSession(ctx, store.Session{ID: "bob-0", UserID: bob.ID, CreatedAt: now}, 3); err != nil {
				t.Fatal(err)
			}
			// The cap of 3 ended ada's least recently used session, not bob's.
			if got := fmt.Sprint(sessionIDs(t, st, ada.ID)); got != "[ada-3 ada-2 ada-1]" {
				t.Fatalf("ada's sessions %s, want [ada-3 ada-2 ada-1]", got)
			}
			rows, _ := st.SessionsOf(ctx, ada.ID)
			if rows[0].UserAgent != "Browser 3" || !rows[0].CreatedAt.Equal(now.Add(3*time.Minute)) || !rows[0].LastSeenAt.Equal(rows[0].CreatedAt) {
				t.Errorf("session row %+v", rows[0])
			}
			// Using a session keeps it: after a touch, ada-1 is the most recent
			// and the next login ends ada-2 instead.
			if err := st.TouchSession(ctx, "ada-1", now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := st.CreateSession(ctx, store.Session{ID: "ada-4", UserID: ada.ID, CreatedAt: now.Add(2 * time.Hour)}, 3); err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(sessionIDs(t, st, ada.ID)); got != "[ada-4 ada-1 ada-3]" {
				t.Fatalf("after a touch and a login: %s, want [ada-4 ada-1 ada-3]", got)
			}

			if err := st.DeleteSessionOf(ctx, bob.ID, "ada-1"); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("bob ending ada's session: %v, want not found", err)
			}
			if err := st.DeleteSessionOf(ctx, ada.ID, "ada-1"); err != nil {
				t.Fatal(err)
			}
			if err := st.DeleteSessionOf(ctx, ada.ID, "ada-1"); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("ending an ended session: %v, want not found", err)
			}
			if n, err := st.DeleteSessionsOf(ctx, ada.ID, "ada-4"); err != nil || n != 1 {
				t.Fatalf("log out the others: %d, %v; want 1", n, err)
			}
			if got := fmt.Sprint(sessionIDs(t, st, ada.ID)); got != "[ada-4]" {
				t.Fatalf("after logging out the others: %s", got)
			}

			// A new password ends every session of the account, and only its.
			if err := st.SetPassword(ctx, ada.ID, "new hash"); err != nil {
				t.Fatal(err)
			}
			if ids := sessionIDs(t, st, ada.ID); len(ids) != 0 {
				t.Errorf("sessions after a new password: %v", ids)
			}
			if u, _ := st.UserByID(ctx, ada.ID); u.PasswordHash != "new hash" {
				t.Errorf("password hash %q", u.PasswordHash)
			}
			if ids := sessionIDs(t, st, bob.ID); len(ids) != 1 {
				t.Errorf("bob's sessions %v", ids)
			}
			if err := st.SetPassword(ctx, 9999, "x"); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("SetPassword on a missing account: %v", err)
			}
		})
	}
}

// Register: an invitation and a setup link are used up with the account
// they create, once; a class join comes with the account.
func TestRegisterWithInvitationsAndSetupLinks(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			st := MustOpen(t, b)
			now := time.Now().UTC()
			if ok, err := st.HasAdmin(ctx); err != nil || ok {
				t.Fatalf("fresh database has an admin: %v %v", ok, err)
			}
			teacher, err := st.CreateUser(ctx, "teacher@example.org", "h", store.RoleInstructor)
			if err != nil {
				t.Fatal(err)
			}
			cl, err := st.CreateClass(ctx, teacher.ID, "Spring", now)
			if err != nil {
				t.Fatal(err)
			}
			ivy := checkInvitationUsedOnce(t, st, teacher, cl, now)
			checkInvitationsRefusedAndCapped(t, st, teacher, now)
			checkSetupLinks(t, st, ivy, now)
		})
	}
}

// checkInvitationUsedOnce: an invitation gives its role, to its email only,
// once, and the account joins the class it came with; it returns the
// account.
func checkInvitationUsedOnce(t *testing.T, st *store.Store, teacher store.User, cl store.Class, now time.Time) store.User {
	t.Helper()
	ctx := context.Background()
	_, err := st.CreateInvitation(ctx, store.Invitation{Email: "ivy@example.org", Role: store.RoleInstructor, TokenHash: "inv-1", CreatedBy: teacher.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, 5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Register(ctx, store.NewAccount{Email: "eve@example.org", PasswordHash: "h", InvitationHash: "inv-1"}, now); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("another email with the invitation: %v, want not found", err)
	}
	if _, err := st.UserByEmail(ctx, "eve@example.org"); !apperr.Is(err, apperr.NotFound) {
		t.Error("a refused invitation still made the account")
	}
	ivy, err := st.Register(ctx, store.NewAccount{Email: "ivy@example.org", PasswordHash: "h", InvitationHash: "inv-1", ClassID: cl.ID}, now)
	if err != nil || ivy.Role != store.RoleInstructor {
		t.Fatalf("invited account %+v, %v", ivy, err)
	}
	if joined, _ := st.ClassesJoined(ctx, ivy.ID); len(joined) != 1 || joined[0].ID != cl.ID {
		t.Errorf("classes joined with the account: %+v", joined)
	}
	if _, err := st.InvitationByToken(ctx, "inv-1", now); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("a used invitation is still found: %v", err)
	}
	if _, err := st.Register(ctx, store.NewAccount{Email: "ivy2@example.org", PasswordHash: "h", InvitationHash: "inv-1"}, now); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("second use of an invitation: %v", err)
	}
	return ivy
}

// checkInvitationsRefusedAndCapped: an expired invitation admits nobody; a
// taken address keeps its invitation unused; inviting an address again
// replaces its link; the pending invitations are capped.
func checkInvitationsRefusedAndCapped(t *testing.T, st *store.Store, teacher store.User, now time.Time) {
	t.Helper()
	ctx := context.Background()
	_, _ = st.CreateInvitation(ctx, store.Invitation{Email: "old@example.org", Role: store.RoleLearner, TokenHash: "inv-old", CreatedBy: teacher.ID, CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}, 5)
	if _, err := st.Register(ctx, store.NewAccount{Email: "old@example.org", PasswordHash: "h", InvitationHash: "inv-old"}, now); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("expired invitation: %v", err)
	}
	_, _ = st.CreateInvitation(ctx, store.Invitation{Email: "teacher@example.org", Role: store.RoleLearner, TokenHash: "inv-taken", CreatedBy: teacher.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, 5)
	if _, err := st.Register(ctx, store.NewAccount{Email: "teacher@example.org", PasswordHash: "h", InvitationHash: "inv-taken"}, now); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("invitation for a taken address: %v, want conflict", err)
	}
	if _, err := st.InvitationByToken(ctx, "inv-taken", now); err != nil {
		t.Errorf("the invitation was used up by a failed registration: %v", err)
	}
	// Inviting the same address again replaces the earlier link; the
	// pending count is capped.
	if _, err := st.CreateInvitation(ctx, store.Invitation{Email: "teacher@example.org", Role: store.RoleLearner, TokenHash: "inv-taken-2", CreatedBy: teacher.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := st.InvitationByToken(ctx, "inv-taken", now); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("a replaced invitation still works: %v", err)
	}
	// One pending so far (the used and expired ones are cleared): four
	// more fit under the cap of 5, the fifth does not.
	for i := range 5 {
		_, err := st.CreateInvitation(ctx, store.Invitation{Email: fmt.Sprintf("p%d@example.org", i), Role: store.RoleLearner, TokenHash: fmt.Sprintf("p%d", i), CreatedBy: teacher.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, 5)
		if i < 4 && err != nil {
			t.Fatal(err)
		}
		if i == 4 && !apperr.Is(err, apperr.TooMany) {
			t.Errorf("sixth pending invitation: %v, want too many", err)
		}
	}
	pending, err := st.PendingInvitations(ctx, now)
	if err != nil || len(pending) != 5 {
		t.Errorf("pending invitations %d, %v; want 5", len(pending), err)
	}
	if _, err := st.DeleteInvitation(ctx, pending[0].ID); err != nil {
		t.Fatal(err)
	}
}

// checkSetupLinks: one setup link claims the first admin; then none works.
func checkSetupLinks(t *testing.T, st *store.Store, ivy store.User, now time.Time) {
	t.Helper()
	ctx := context.Background()
	if err := st.CreateSetupToken(ctx, "setup-a", now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSetupToken(ctx, "setup-b", now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSetupToken(ctx, "setup-old", now.Add(-2*time.Hour), now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.SetupTokenUsable(ctx, "setup-old", now); ok {
		t.Error("an expired setup link is usable")
	}
	if _, err := st.Register(ctx, store.NewAccount{Email: "x@example.org", PasswordHash: "h", SetupHash: "setup-old"}, now); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("expired setup link: %v", err)
	}
	if ok, _ := st.SetupTokenUsable(ctx, "setup-a", now); !ok {
		t.Fatal("a fresh setup link is not usable")
	}
	root, err := st.Register(ctx, store.NewAccount{Email: "root@example.org", PasswordHash: "h", SetupHash: "setup-a"}, now)
	if err != nil || root.Role != store.RoleAdmin {
		t.Fatalf("setup account %+v, %v", root, err)
	}
	for _, h := range []string{"setup-a", "setup-b"} {
		if ok, _ := st.SetupTokenUsable(ctx, h, now); ok {
			t.Errorf("setup link %s usable after the admin was made", h)
		}
	}
	if err := st.ClaimSetup(ctx, "setup-b", ivy.ID, now); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("claiming with a used-up link: %v", err)
	}
	if ok, _ := st.HasAdmin(ctx); !ok {
		t.Error("no admin after setup")
	}
}

// Two uses of one setup link at once make exactly one admin; and with an
// admin in place a new link does nothing.
func TestSetupLinkIsUsedOnceUnderConcurrency(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			st := MustOpen(t, b)
			now := time.Now().UTC()
			if err := st.CreateSetupToken(ctx, "once", now, now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make([]error, 8)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = st.Register(ctx, store.NewAccount{Email: fmt.Sprintf("r%d@example.org", i), PasswordHash: "h", SetupHash: "once"}, now)
				}()
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case !apperr.Is(err, apperr.NotFound):
					t.Errorf("a refused use: %v, want not found", err)
				}
			}
			users, _ := st.Users(ctx)
			admins := 0
			for _, u := range users {
				if u.Role == store.RoleAdmin {
					admins++
				}
			}
			if ok != 1 || admins != 1 || len(users) != 1 {
				t.Fatalf("%d uses succeeded, %d admins, %d accounts; want 1, 1, 1", ok, admins, len(users))
			}

			u := mustUser(t, st, "late@example.org")
			if err := st.CreateSetupToken(ctx, "late", now, now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := st.ClaimSetup(ctx, "late", u.ID, now); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("a setup link with an admin in place: %v", err)
			}
			if got, _ := st.UserByID(ctx, u.ID); got.Role != store.RoleLearner {
				t.Errorf("role %s", got.Role)
			}
		})
	}
}

// Tokens carry a scope and an expiry; an expired token is still returned
// (so the refusal can say why) but its use is not recorded.
func TestTokenExpiryAndScope(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			st := MustOpen(t, b)
			u := mustUser(t, st, "script@example.org")
			now := time.Now().UTC().Truncate(time.Second)
			if _, err := st.CreateToken(ctx, store.APIToken{UserID: u.ID, Name: "x", TokenHash: "bad", Prefix: "wbk_", CreatedAt: now, ExpiresAt: now.Add(time.Hour), Scope: "admin"}, 5); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("a token with an unknown scope: %v", err)
			}
			tok, err := st.CreateToken(ctx, store.APIToken{UserID: u.ID, Name: "ro", TokenHash: "h-ro", Prefix: "wbk_ab", CreatedAt: now, ExpiresAt: now.Add(7 * 24 * time.Hour), Scope: store.ScopeReadOnly}, 5)
			if err != nil {
				t.Fatal(err)
			}
			got, owner, err := st.UserByToken(ctx, "h-ro", now.Add(time.Hour))
			if err != nil || owner.ID != u.ID || got.Scope != store.ScopeReadOnly || !got.ExpiresAt.Equal(tok.ExpiresAt) || got.Expired(now.Add(time.Hour)) {
				t.Fatalf("token %+v owner %d, %v", got, owner.ID, err)
			}
			late := now.Add(8 * 24 * time.Hour)
			got, _, err = st.UserByToken(ctx, "h-ro", late)
			if err != nil || !got.Expired(late) {
				t.Fatalf("expired token %+v, %v", got, err)
			}
			if got.LastUsedAt == nil || !got.LastUsedAt.Equal(now.Add(time.Hour)) {
				t.Errorf("last used %v; the expired use must not count", got.LastUsedAt)
			}
		})
	}
}

// Tokens made before migration 00008 keep working as they did: read-write,
// and for 90 days from the upgrade rather than from their creation, so no
// script breaks on upgrade day.
func TestMigrationGivesOldTokensAnExpiry(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			st, err := store.Open(ctx, store.Options{PostgresURL: b.DatabaseURL, SQLitePath: filepath.Join(b.DataDir, "old.db")})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := migrations.UpTo(ctx, st.SQL(), st.Dialect(), 7); err != nil {
				t.Fatal(err)
			}
			long := time.Now().UTC().Add(-400 * 24 * time.Hour)
			q := "INSERT INTO users (email, password_hash, role, created_at, updated_at) VALUES ($1, 'h', 'learner', $2, $2)"
			q2 := "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at) VALUES ((SELECT id FROM users), 'old script', 'old-hash', 'wbk_ab', $1)"
			if st.Dialect() == migrations.SQLite {
				q, q2 = strings.ReplaceAll(strings.ReplaceAll(q, "$1", "?"), "$2", "?"), strings.ReplaceAll(q2, "$1", "?")
			}
			args := []any{"old@example.org", long, long}
			if st.Dialect() != migrations.SQLite {
				args = args[:2]
			}
			if _, err := st.SQL().ExecContext(ctx, q, args...); err != nil {
				t.Fatal(err)
			}
			if _, err := st.SQL().ExecContext(ctx, q2, long); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC()
			tok, _, err := st.UserByToken(ctx, "old-hash", now)
			if err != nil {
				t.Fatal(err)
			}
			if tok.Scope != store.ScopeReadWrite || tok.Expired(now) {
				t.Fatalf("old token after the migration: %+v", tok)
			}
			if d := tok.ExpiresAt.Sub(now); d < 89*24*time.Hour || d > 91*24*time.Hour {
				t.Errorf("old token expires in %v, want about 90 days from the upgrade", d)
			}
		})
	}
}
