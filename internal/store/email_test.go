package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// linkFixture is two accounts, ada with two sessions and bob with one.
type linkFixture struct {
	st       *store.Store
	ada, bob store.User
	now      time.Time
}

func newLinkFixture(t *testing.T, b testenv.Backend) linkFixture {
	t.Helper()
	ctx := context.Background()
	f := linkFixture{st: MustOpen(t, b), now: time.Now().UTC().Truncate(time.Second)}
	var err error
	if f.ada, err = f.st.CreateUser(ctx, "ada@example.org", "old-hash", ""); err != nil {
		t.Fatal(err)
	}
	if f.bob, err = f.st.CreateUser(ctx, "bob@example.org", "bob-hash", ""); err != nil {
		t.Fatal(err)
	}
	for id, user := range map[string]int64{"s1": f.ada.ID, "s2": f.ada.ID, "bob-s": f.bob.ID} {
		if err := f.st.CreateSession(ctx, store.Session{ID: id, UserID: user, CreatedAt: f.now}, 0); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f linkFixture) link(t *testing.T, user int64, purpose, hash string, ttl time.Duration, at time.Time) store.EmailToken {
	t.Helper()
	tok, err := f.st.CreateEmailToken(context.Background(), user, purpose, hash, ttl, at)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// A link is live until it expires, for its own purpose only; used and
// expired links are forgotten when the next one is made.
func TestEmailLinkLife(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			f := newLinkFixture(t, b)
			if f.ada.EmailVerified() {
				t.Fatal("a new account is confirmed")
			}
			if _, err := f.st.CreateEmailToken(ctx, 999999, store.TokenReset, "h-none", time.Minute, f.now); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("a link for no account: %v", err)
			}
			r1 := f.link(t, f.ada.ID, store.TokenReset, "h-r1", 30*time.Minute, f.now)
			if r1.Email != "ada@example.org" || !r1.ExpiresAt.Equal(f.now.Add(30*time.Minute)) {
				t.Fatalf("token %+v", r1)
			}
			f.link(t, f.ada.ID, store.TokenVerify, "h-v", time.Hour, f.now)
			if _, u, err := f.st.LiveEmailToken(ctx, "h-r1", store.TokenReset, f.now.Add(29*time.Minute)); err != nil || u.ID != f.ada.ID {
				t.Errorf("live: %v %v", u.ID, err)
			}
			for _, c := range []struct {
				hash, purpose string
				after         time.Duration
			}{
				{"h-r1", store.TokenReset, 30 * time.Minute},
				{"h-r1", store.TokenVerify, 0},
				{"h-v", store.TokenReset, 0},
				{"nope", store.TokenReset, 0},
			} {
				if _, _, err := f.st.LiveEmailToken(ctx, c.hash, c.purpose, f.now.Add(c.after)); !apperr.Is(err, apperr.NotFound) {
					t.Errorf("%s as %s at +%v: %v", c.hash, c.purpose, c.after, err)
				}
			}
			if _, err := f.st.ResetPassword(ctx, "h-r1", "new-hash", f.now.Add(31*time.Minute)); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("expired reset: %v", err)
			}
			if u, _ := f.st.UserByID(ctx, f.ada.ID); u.PasswordHash != "old-hash" {
				t.Error("an expired link changed the password")
			}
			f.link(t, f.ada.ID, store.TokenVerify, "h-v2", time.Hour, f.now.Add(3*time.Hour))
			var n int64
			if err := f.st.SQL().QueryRowContext(ctx, rebind(f.st, "SELECT count(*) FROM email_tokens WHERE user_id = ?"), f.ada.ID).Scan(&n); err != nil || n != 1 {
				t.Errorf("%d of ada's links kept, %v", n, err)
			}
		})
	}
}

// Requests racing to spend one reset link: one wins. The reset changes
// the password, confirms the address, ends every session of the account
// (and only of it) and retires its other reset links.
func TestResetPasswordSpendsTheLinkOnce(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			f := newLinkFixture(t, b)
			f.link(t, f.ada.ID, store.TokenReset, "h-r1", 30*time.Minute, f.now)
			f.link(t, f.ada.ID, store.TokenReset, "h-r2", 30*time.Minute, f.now)
			var wg sync.WaitGroup
			errs := make([]error, 8)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = f.st.ResetPassword(ctx, "h-r1", "new-hash", f.now.Add(time.Minute))
				}()
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				if err == nil {
					won++
				} else if !apperr.Is(err, apperr.NotFound) {
					t.Errorf("racing reset: %v", err)
				}
			}
			if won != 1 {
				t.Fatalf("%d racing resets won, want 1", won)
			}
			u, _ := f.st.UserByID(ctx, f.ada.ID)
			if u.PasswordHash != "new-hash" || !u.EmailVerified() || !u.EmailVerifiedAt.Equal(f.now.Add(time.Minute)) {
				t.Errorf("after reset: %+v", u)
			}
			for id, want := range map[string]bool{"s1": false, "s2": false, "bob-s": true} {
				if _, _, err := f.st.SessionWithUser(ctx, id); (err == nil) != want {
					t.Errorf("session %s: %v, want alive %v", id, err, want)
				}
			}
			if _, err := f.st.ResetPassword(ctx, "h-r2", "other", f.now.Add(2*time.Minute)); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("the second reset link still works: %v", err)
			}
			if b2, _ := f.st.UserByID(ctx, f.bob.ID); b2.PasswordHash != "bob-hash" {
				t.Error("another account's password changed")
			}
		})
	}
}

// Confirming keeps the first time and works once; a link sent to an
// address the account no longer has confirms nothing.
func TestVerifyEmail(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			f := newLinkFixture(t, b)
			f.link(t, f.ada.ID, store.TokenVerify, "h-v", 48*time.Hour, f.now)
			f.link(t, f.ada.ID, store.TokenVerify, "h-v2", 48*time.Hour, f.now)
			u, err := f.st.VerifyEmail(ctx, "h-v", f.now.Add(time.Minute))
			if err != nil || !u.EmailVerifiedAt.Equal(f.now.Add(time.Minute)) {
				t.Fatalf("verify: %v %v", u.EmailVerifiedAt, err)
			}
			if _, err := f.st.VerifyEmail(ctx, "h-v", f.now.Add(time.Hour)); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("second use: %v", err)
			}
			if u, err = f.st.VerifyEmail(ctx, "h-v2", f.now.Add(time.Hour)); err != nil || !u.EmailVerifiedAt.Equal(f.now.Add(time.Minute)) {
				t.Errorf("a second link moved the time: %v %v", u.EmailVerifiedAt, err)
			}

			bv := f.link(t, f.bob.ID, store.TokenVerify, "h-bob", time.Hour, f.now)
			if _, err := f.st.SQL().ExecContext(ctx, rebind(f.st, "UPDATE users SET email = ? WHERE id = ?"), "bobby@example.org", f.bob.ID); err != nil {
				t.Fatal(err)
			}
			if _, _, err := f.st.LiveEmailToken(ctx, bv.TokenHash, store.TokenVerify, f.now); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("a link to the old address is live: %v", err)
			}
			if _, err := f.st.VerifyEmail(ctx, bv.TokenHash, f.now); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("a link to the old address confirmed the new one: %v", err)
			}
			if b2, _ := f.st.UserByID(ctx, f.bob.ID); b2.EmailVerified() {
				t.Error("bob's new address is confirmed")
			}

			if err := f.st.SetEmailVerified(ctx, f.bob.ID, f.now); err != nil {
				t.Fatal(err)
			}
			if b2, _ := f.st.UserByID(ctx, f.bob.ID); !b2.EmailVerified() {
				t.Error("SetEmailVerified did not confirm")
			}
			if err := f.st.SetEmailVerified(ctx, 999999, f.now); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("no account: %v", err)
			}
		})
	}
}

// rebind turns ? placeholders into $n for PostgreSQL.
func rebind(st *store.Store, q string) string {
	if st.Dialect() != "postgres" {
		return q
	}
	out, n := []byte{}, 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			out = append(out, '$', byte('0'+n))
			continue
		}
		out = append(out, q[i])
	}
	return string(out)
}
