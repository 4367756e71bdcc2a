package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

func TestIdentities(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			st := MustOpen(t, b)
			now := time.Now()
			const iss = "https://login.example.edu"

			if _, err := st.SignInIdentity(ctx, iss, "sub-1", "ada@example.edu", now); !apperr.Is(err, apperr.NotFound) {
				t.Fatalf("unknown identity: %v, want NotFound", err)
			}
			ada, err := st.CreateUserWithIdentity(ctx, "ada@example.edu", "x", store.RoleLearner, false, iss, "sub-1", now)
			if err != nil {
				t.Fatal(err)
			}
			if !ada.EmailVerified() {
				t.Error("an account made through the provider has an unconfirmed address")
			}
			// The provider's address changed: the subject still opens the account.
			got, err := st.SignInIdentity(ctx, iss, "sub-1", "ada.lovelace@example.edu", now.Add(time.Hour))
			if err != nil || got.ID != ada.ID || got.Email != "ada@example.edu" {
				t.Fatalf("sign-in by subject: %+v, %v", got, err)
			}
			ids, err := st.Identities(ctx, ada.ID)
			if err != nil || len(ids) != 1 || ids[0].Email != "ada.lovelace@example.edu" || !ids[0].LastLoginAt.After(ids[0].CreatedAt) {
				t.Fatalf("identities %+v, %v", ids, err)
			}

			// Neither the subject nor the address can be taken twice, and a
			// failed creation leaves no account behind.
			if _, err := st.CreateUserWithIdentity(ctx, "other@example.edu", "x", store.RoleLearner, false, iss, "sub-1", now); !apperr.Is(err, apperr.Conflict) {
				t.Errorf("second account for one subject: %v, want Conflict", err)
			}
			if _, err := st.UserByEmail(ctx, "other@example.edu"); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("an account was left behind: %v", err)
			}
			if _, err := st.CreateUserWithIdentity(ctx, "ada@example.edu", "x", store.RoleLearner, false, iss, "sub-2", now); !apperr.Is(err, apperr.Conflict) {
				t.Errorf("taken address: %v, want Conflict", err)
			}

			// Linking: one identity per provider per account.
			bob, err := st.CreateUser(ctx, "bob@example.edu", "x", store.RoleLearner)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.LinkIdentity(ctx, bob.ID, iss, "sub-1", "bob@example.edu", now); !apperr.Is(err, apperr.Conflict) {
				t.Errorf("linking a subject another account has: %v, want Conflict", err)
			}
			if err := st.LinkIdentity(ctx, bob.ID, iss, "sub-bob", "bob@example.edu", now); err != nil {
				t.Fatal(err)
			}
			if u, _ := st.UserByID(ctx, bob.ID); !u.EmailVerified() {
				t.Error("linking by the provider's verified address left it unconfirmed")
			}
			if err := st.LinkIdentity(ctx, bob.ID, iss, "sub-bob-2", "bob@example.edu", now); !apperr.Is(err, apperr.Conflict) {
				t.Errorf("a second identity at one provider: %v, want Conflict", err)
			}
			if err := st.LinkIdentity(ctx, bob.ID, "https://other.example.org", "sub-bob", "bob@example.edu", now); err != nil {
				t.Errorf("an identity at another provider: %v", err)
			}
			if got, err := st.SignInIdentity(ctx, iss, "sub-bob", "bob@example.edu", now); err != nil || got.ID != bob.ID {
				t.Errorf("linked sign-in: %+v, %v", got, err)
			}
		})
	}
}

// TestIdentityFromInvitation: an account made by signing in can use up the
// invitation waiting for its address, and takes its role; no invitation,
// no account.
func TestIdentityFromInvitation(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			st := MustOpen(t, b)
			now := time.Now()
			const iss = "https://login.example.edu"
			admin, err := st.CreateUser(ctx, "admin@example.edu", "x", store.RoleAdmin)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.CreateUserWithIdentity(ctx, "tess@example.edu", "x", store.RoleLearner, true, iss, "tess", now); !apperr.Is(err, apperr.NotFound) {
				t.Fatalf("without an invitation: %v, want NotFound", err)
			}
			inv := store.Invitation{Email: "tess@example.edu", Role: store.RoleInstructor, TokenHash: "h1", CreatedBy: admin.ID,
				CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if _, err := st.CreateInvitation(ctx, inv, 10); err != nil {
				t.Fatal(err)
			}
			if got, err := st.PendingInvitationFor(ctx, "tess@example.edu", now); err != nil || got.Role != store.RoleInstructor {
				t.Fatalf("pending invitation %+v, %v", got, err)
			}
			if _, err := st.PendingInvitationFor(ctx, "tess@example.edu", now.Add(2*time.Hour)); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("an expired invitation is pending: %v", err)
			}
			u, err := st.CreateUserWithIdentity(ctx, "tess@example.edu", "x", store.RoleLearner, true, iss, "tess", now)
			if err != nil || u.Role != store.RoleInstructor {
				t.Fatalf("account from an invitation %+v, %v", u, err)
			}
			if _, err := st.PendingInvitationFor(ctx, "tess@example.edu", now); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("the invitation is still pending: %v", err)
			}
		})
	}
}
