package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Identity links an account to the person an OpenID Connect provider knows
// as Subject. Issuer and Subject together never change for that person at
// that provider, unlike their email address.
type Identity struct {
	ID          int64 `gorm:"primaryKey"`
	UserID      int64
	Issuer      string
	Subject     string
	Email       string // as the provider gave it at the last sign-in
	CreatedAt   time.Time
	LastLoginAt time.Time
}

// TableName names the table; "identities" alone would not say whose.
func (Identity) TableName() string { return "user_identities" }

// SignInIdentity finds the account linked to subject at issuer, notes the
// sign-in and the address the provider gives now, and returns the account.
// It is NotFound when no account is linked.
func (s *Store) SignInIdentity(ctx context.Context, issuer, subject, email string, now time.Time) (User, error) {
	var u User
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var id Identity
		if err := tx.Where("issuer = ? AND subject = ?", issuer, subject).Take(&id).Error; err != nil {
			return err
		}
		if err := tx.Model(&Identity{}).Where("id = ?", id.ID).
			Updates(map[string]any{"email": email, "last_login_at": now.UTC()}).Error; err != nil {
			return err
		}
		return tx.Take(&u, id.UserID).Error
	})
	return u, mapErr(err, "identity")
}

// LinkIdentity attaches subject at issuer to an existing account, whose
// address the provider has verified: the account's address counts as
// confirmed from then on. It is a Conflict when that subject is linked
// already, or when the account already has another identity at this issuer.
func (s *Store) LinkIdentity(ctx context.Context, userID int64, issuer, subject, email string, now time.Time) error {
	id := Identity{UserID: userID, Issuer: issuer, Subject: subject, Email: email, CreatedAt: now.UTC(), LastLoginAt: now.UTC()}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&id).Error; err != nil {
			return err
		}
		return tx.Model(&User{}).Where("id = ? AND email = ? AND email_verified_at IS NULL", userID, email).
			Update("email_verified_at", now.UTC()).Error
	})
	s.accountChanged(ctx, err, userID)
	return mapErr(err, "identity")
}

// CreateUserWithIdentity makes an account with a confirmed address and
// links it to subject at issuer, both or neither. With invited, it also uses up the pending
// invitation for the address, whose role the account gets; without one
// it is NotFound. It is a Conflict when the email or the subject is taken.
func (s *Store) CreateUserWithIdentity(ctx context.Context, email, passwordHash string, role Role, invited bool,
	issuer, subject string, now time.Time) (User, error) {
	verified := now.UTC() // the provider vouched for the address
	u := User{Email: email, PasswordHash: passwordHash, Role: role, EmailVerifiedAt: &verified}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if invited {
			inv, err := useInvitationFor(tx, email, now)
			if err != nil {
				return err
			}
			u.Role = inv.Role
		}
		if err := tx.Create(&u).Error; err != nil {
			return err
		}
		id := Identity{UserID: u.ID, Issuer: issuer, Subject: subject, Email: email, CreatedAt: now.UTC(), LastLoginAt: now.UTC()}
		return tx.Create(&id).Error
	})
	return u, mapErr(err, "account")
}

// PendingInvitationFor finds the invitation waiting for an address; a
// used or expired one is not found.
func (s *Store) PendingInvitationFor(ctx context.Context, email string, now time.Time) (Invitation, error) {
	var inv Invitation
	err := s.db.WithContext(ctx).Where("email = ? AND used_at IS NULL", email).Order("id DESC").Take(&inv).Error
	if err == nil && !inv.Pending(now) {
		err = gorm.ErrRecordNotFound
	}
	return inv, mapErr(err, "invitation")
}

// useInvitationFor uses up the pending invitation for email inside tx; of
// two uses at once, only the one that marks it goes on.
func useInvitationFor(tx *gorm.DB, email string, now time.Time) (Invitation, error) {
	var inv Invitation
	err := tx.Where("email = ? AND used_at IS NULL", email).Order("id DESC").Take(&inv).Error
	if err == nil && !inv.Pending(now) {
		err = gorm.ErrRecordNotFound
	}
	if err != nil {
		return inv, err
	}
	res := tx.Model(&Invitation{}).Where("id = ? AND used_at IS NULL", inv.ID).Update("used_at", now.UTC())
	if res.Error == nil && res.RowsAffected != 1 {
		return inv, gorm.ErrRecordNotFound
	}
	return inv, res.Error
}

// Identities lists the provider identities linked to an account.
func (s *Store) Identities(ctx context.Context, userID int64) ([]Identity, error) {
	var ids []Identity
	err := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("id").Find(&ids).Error
	return ids, mapErr(err, "identity")
}
