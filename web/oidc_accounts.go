package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/store"
)

// ssoAccountResult is the account a sign-in opens.
type ssoAccountResult struct {
	user    store.User
	created bool
}

// ssoRefusal is a sign-in the workbook declines: the sentence the person
// reads, and the reason for the log.
type ssoRefusal struct {
	status  int
	message string
	reason  string
}

// ssoAccount finds or makes the account of the person the provider
// vouched for:
//
//  1. an account linked to the subject at this issuer (whatever the
//     provider says the address is now);
//  2. else, only if the provider says the address is verified, the account
//     with that address, which is then linked;
//  3. else a new account: in any mode when an admin's invitation waits
//     for the address (it gets the invitation's role), as with a password;
//     otherwise a learner, if the registration policy admits it: open;
//     domains (the address's domain must be listed); invite (the sign-in
//     started from a class join link); never when closed.
//
// A new account never becomes the admin (nor does any first registration):
// the provider decides who gets in, not who runs the workbook.
func (s *Server) ssoAccount(ctx context.Context, id ssoIdentity, next string) (ssoAccountResult, *ssoRefusal, error) {
	name := s.cfg.OIDC.Name
	issuer := s.cfg.OIDC.Issuer
	now := s.now()
	// Two tries: a sign-in racing another for the same person loses on a
	// unique key and then finds what the other one made.
	for try := 0; try < 2; try++ {
		u, err := s.store.SignInIdentity(ctx, issuer, id.Subject, id.Email, now)
		if err == nil {
			return ssoAccountResult{user: u}, nil, nil
		}
		if !apperr.Is(err, apperr.NotFound) {
			return ssoAccountResult{}, nil, err
		}
		if id.Email == "" || !id.EmailVerified {
			return ssoAccountResult{}, &ssoRefusal{http.StatusForbidden,
				fmt.Sprintf("Your %s account has no confirmed email address, so the workbook cannot tell which account is yours. Confirm your address there, then sign in again.", name),
				"email missing or not verified"}, nil
		}
		u, err = s.store.UserByEmail(ctx, id.Email)
		switch {
		case err == nil:
			err = s.store.LinkIdentity(ctx, u.ID, issuer, id.Subject, id.Email, now)
			if err == nil {
				s.log.Info("single sign-on linked to an account", "user_id", u.ID, "subject", id.Subject)
				return ssoAccountResult{user: u}, nil, nil
			}
			if !apperr.Is(err, apperr.Conflict) {
				return ssoAccountResult{}, nil, err
			}
			if _, again := s.store.SignInIdentity(ctx, issuer, id.Subject, id.Email, now); again == nil {
				continue // another sign-in linked it meanwhile
			}
			// The account is linked to someone else at the provider, who
			// had this address before: the address alone does not let a
			// second person in.
			return ssoAccountResult{}, &ssoRefusal{http.StatusConflict,
				fmt.Sprintf("The workbook account for %s is linked to another %s account. Sign in with that one, or ask an administrator.", id.Email, name),
				"the account with this address is linked to another subject"}, nil
		case !apperr.Is(err, apperr.NotFound):
			return ssoAccountResult{}, nil, err
		}
		invited, r, err := s.ssoMayCreate(ctx, id.Email, next)
		if r != nil || err != nil {
			return ssoAccountResult{}, r, err
		}
		u, err = s.store.CreateUserWithIdentity(ctx, id.Email, auth.UnusableHash(), store.RoleLearner, invited, issuer, id.Subject, now)
		if apperr.Is(err, apperr.Conflict) || invited && apperr.Is(err, apperr.NotFound) {
			continue // another sign-in made the account, or used the invitation
		}
		if err != nil {
			return ssoAccountResult{}, nil, err
		}
		s.log.Info("account created", "user_id", u.ID, "role", u.Role, "via", "single sign-on")
		return ssoAccountResult{user: u, created: true}, nil, nil
	}
	return ssoAccountResult{}, nil, apperr.New(apperr.Conflict, "Signing in collided with another sign-in for the same person. Please sign in again.")
}

// ssoMayCreate applies the registration policy to a new account made by
// signing in: a refusal, or go ahead (using up the invitation waiting for
// the address when invited).
func (s *Server) ssoMayCreate(ctx context.Context, email, next string) (invited bool, _ *ssoRefusal, _ error) {
	// An admin's invitation admits its address in every mode, as it does
	// for registration with a password: the provider vouches for the
	// address, so the invitation admits the person as its link would.
	_, err := s.store.PendingInvitationFor(ctx, email, s.now())
	if err == nil {
		return true, nil, nil
	}
	if !apperr.Is(err, apperr.NotFound) {
		return false, nil, err
	}
	return false, s.ssoPolicyRefusal(ctx, email, next), nil
}

// ssoPolicyRefusal is why the registration policy turns away a new
// account made by signing in without an invitation, or nil.
func (s *Server) ssoPolicyRefusal(ctx context.Context, email, next string) *ssoRefusal {
	name := s.cfg.OIDC.Name
	reg := s.cfg.Registration
	switch reg.Mode {
	case config.RegistrationClosed:
		return &ssoRefusal{http.StatusForbidden,
			fmt.Sprintf("This workbook is not taking new accounts. Ask an administrator to make yours; then sign in with %s.", name),
			"registration closed"}
	case config.RegistrationDomains:
		if !reg.DomainAllowed(email) {
			return &ssoRefusal{http.StatusForbidden,
				fmt.Sprintf("New accounts here are for addresses at %s, and your %s address is not one of them.", orList(reg.Domains), name),
				"domain not allowed"}
		}
	case config.RegistrationInvite:
		if !s.joinLinkValid(ctx, next) {
			return &ssoRefusal{http.StatusForbidden,
				fmt.Sprintf("New accounts here need an invitation. Open your class's join link, then sign in with %s from there.", name),
				"invite only: no invitation for the address, no join link"}
		}
	}
	return nil
}

// joinLinkValid reports whether next is a class's join link (/join/CODE)
// that opens a class: in invite mode, the invitation a sign-in carries.
func (s *Server) joinLinkValid(ctx context.Context, next string) bool {
	code, ok := strings.CutPrefix(next, "/join/")
	if !ok || code == "" || len(code) > 64 || strings.ContainsAny(code, "/?#") {
		return false
	}
	_, err := s.store.ClassByCode(ctx, strings.ToUpper(code))
	return err == nil
}

// orList joins names as "a", "a or b", "a, b or c".
func orList(names []string) string {
	if len(names) <= 1 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
