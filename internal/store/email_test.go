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

// Emailed links: live until used or expired, each used once even when two
// requests race, a reset changes the password, confirms the address, ends
// every session and retires the other reset links.
func TestEmailLinks(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			st := MustOpen(t, b)
			now := time.Now().UTC().Truncate(time.Second)
			ada, err := st.CreateUser(ctx, "ada@example.org", "old-hash", "")
			if err != nil {
				t.Fatal(err)
			}
			bob, _ := st.CreateUser(ctx, "bob@example.org", "bob-hash", "")
			if ada.EmailVerified() {
				t.Fatal("a new account is confirmed")
			}
			for _, id := range []string{"s1", "s2"} {
				if err := st.CreateSession(ctx, id, ada.ID, now); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.CreateSession(ctx, "bob-s", bob.ID, now); err != nil {
				t.Fatal(err)
			}

			if _, err := st.CreateEmailToken(ctx, 999999, store.TokenReset, "h-none", time.Minute, now); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("a link for no account: %v", err)
			}
			r1, err := st.CreateEmailToken(ctx, ada.ID, store.TokenReset, "h-r1", 30*time.Minute, now)
			if err != nil || r1.Email != "ada@example.org" || !r1.ExpiresAt.Equal(now.Add(30*time.Minute)) {
				t.Fatalf("token %+v, %v", r1, err)
			}
			st.CreateEmailToken(ctx, ada.ID, store.TokenReset, "h-r2", 30*time.Minute, now)
			st.CreateEmailToken(ctx, ada.ID, store.TokenVerify, "h-v", 48*time.Hour, now)

			// Live until it expires; a hash of another purpose is not it.
			if _, u, err := st.LiveEmailToken(ctx, "h-r1", store.TokenReset, now.Add(29*time.Minute)); err != nil || u.ID != ada.ID {
				t.Errorf("live: %v %v", u.ID, err)
			}
			for _, c := range []struct {
				hash, purpose string
				at            time.Time
			}{
				{"h-r1", store.TokenReset, now.Add(30 * time.Minute)},
				{"h-r1", store.TokenVerify, now},
				{"h-v", store.TokenReset, now},
				{"nope", store.TokenReset, now},
			} {
				if _, _, err := st.LiveEmailToken(ctx, c.hash, c.purpose, c.at); !apperr.Is(err, apperr.NotFound) {
					t.Errorf("%s as %s at +%v: %v", c.hash, c.purpose, c.at.Sub(now), err)
				}
			}
			if _, err := st.ResetPassword(ctx, "h-r1", "new-hash", now.Add(31*time.Minute)); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("expired reset: %v", err)
			}

			// Two requests spend the same link at once: one wins.
			var wg sync.WaitGroup
			errs := make([]error, 8)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = st.ResetPassword(ctx, "h-r1", "new-hash", now.Add(time.Minute))
				}()
			}
			wg.Wait()
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !apperr.Is(err, apperr.NotFound):
					t.Errorf("racing reset: %v", err)
				}
			}
			if won != 1 {
				t.Fatalf("%d racing resets won, want 1", won)
			}
			u, _ := st.UserByID(ctx, ada.ID)
			if u.PasswordHash != "new-hash" || !u.EmailVerified() || !u.EmailVerifiedAt.Equal(now.Add(time.Minute)) {
				t.Errorf("after reset: %+v", u)
			}
			for _, id := range []string{"s1", "s2"} {
				if _, _, err := st.SessionWithUser(ctx, id); !apperr.Is(err, apperr.NotFound) {
					t.Errorf("session %s survived the reset: %v", id, err)
				}
			}
			if _, _, err := st.SessionWithUser(ctx, "bob-s"); err != nil {
				t.Errorf("another account's session ended: %v", err)
			}
			if _, err := st.ResetPassword(ctx, "h-r2", "other", now.Add(2*time.Minute)); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("the second reset link still works: %v", err)
			}
			if b2, _ := st.UserByID(ctx, bob.ID); b2.PasswordHash != "bob-hash" {
				t.Error("another account's password changed")
			}

			// Confirmation keeps the first time; the link works once.
			u, err = st.VerifyEmail(ctx, "h-v", now.Add(time.Hour))
			if err != nil || !u.EmailVerifiedAt.Equal(now.Add(time.Minute)) {
				t.Errorf("verify: %v %v", u.EmailVerifiedAt, err)
			}
			if _, err := st.VerifyEmail(ctx, "h-v", now.Add(time.Hour)); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("second use: %v", err)
			}

			// A link goes to an address: once the account's address is
			// another, the link is dead.
			bv, _ := st.CreateEmailToken(ctx, bob.ID, store.TokenVerify, "h-bob", time.Hour, now)
			if _, err := st.SQL().ExecContext(ctx, rebind(st, "UPDATE users SET email = ? WHERE id = ?"), "bobby@example.org", bob.ID); err != nil {
				t.Fatal(err)
			}
			if _, _, err := st.LiveEmailToken(ctx, bv.TokenHash, store.TokenVerify, now); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("a link to the old address is live: %v", err)
			}
			if _, err := st.VerifyEmail(ctx, bv.TokenHash, now); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("a link to the old address confirmed the new one: %v", err)
			}
			if b2, _ := st.UserByID(ctx, bob.ID); b2.EmailVerified() {
				t.Error("bob's new address is confirmed")
			}

			// Used and expired links are forgotten when the next one is made.
			st.CreateEmailToken(ctx, ada.ID, store.TokenVerify, "h-v2", time.Hour, now.Add(3*time.Hour))
			var n int64
			if err := st.SQL().QueryRowContext(ctx, rebind(st, "SELECT count(*) FROM email_tokens WHERE user_id = ?"), ada.ID).Scan(&n); err != nil || n != 1 {
				t.Errorf("%d of ada's links kept, %v", n, err)
			}

			if err := st.SetEmailVerified(ctx, bob.ID, now); err != nil {
				t.Fatal(err)
			}
			if b2, _ := st.UserByID(ctx, bob.ID); !b2.EmailVerified() {
				t.Error("SetEmailVerified did not confirm")
			}
			if err := st.SetEmailVerified(ctx, 999999, now); !apperr.Is(err, apperr.NotFound) {
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
