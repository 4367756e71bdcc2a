package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/sdworkbook/workbook/internal/apperr"
)

// What an emailed link is for.
const (
	TokenReset  = "reset"  // choose a new password
	TokenVerify = "verify" // confirm the address
)

// EmailToken is a single-use link sent by email. Only the SHA-256 of the
// token is stored; the token itself exists only in the email.
type EmailToken struct {
	ID        int64 `gorm:"primaryKey"`
	TokenHash string
	UserID    int64
	Purpose   string
	Email     string // the address it was sent to
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// TableName names the table.
func (EmailToken) TableName() string { return "email_tokens" }

// CreateEmailToken stores a new link's token for the user, sent to their
// current address, and forgets their links that are used or expired.
func (s *Store) CreateEmailToken(ctx context.Context, userID int64, purpose, tokenHash string, ttl time.Duration, now time.Time) (EmailToken, error) {
	now = now.UTC()
	var t EmailToken
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var u User
		if err := tx.Take(&u, userID).Error; err != nil {
			return err
		}
		if err := tx.Where("user_id = ? AND (used_at IS NOT NULL OR expires_at <= ?)", userID, now).
			Delete(&EmailToken{}).Error; err != nil {
			return err
		}
		t = EmailToken{TokenHash: tokenHash, UserID: userID, Purpose: purpose, Email: u.Email,
			CreatedAt: now, ExpiresAt: now.Add(ttl)}
		return tx.Create(&t).Error
	})
	return t, mapErr(err, "email link")
}

// LiveEmailToken finds the link with this token hash and purpose, with its
// account, if it is unused, unexpired at now, and was sent to the
// account's current address; otherwise it is not found.
func (s *Store) LiveEmailToken(ctx context.Context, tokenHash, purpose string, now time.Time) (EmailToken, User, error) {
	var t EmailToken
	err := s.db.WithContext(ctx).
		Where("token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?", tokenHash, purpose, now.UTC()).
		Take(&t).Error
	if err != nil {
		return EmailToken{}, User{}, mapErr(err, "email link")
	}
	u, err := s.UserByID(ctx, t.UserID)
	if err != nil {
		return EmailToken{}, User{}, err
	}
	if u.Email != t.Email {
		return EmailToken{}, User{}, apperr.New(apperr.NotFound, "email link not found")
	}
	return t, u, nil
}

// spend marks a live link used, in tx, and returns it; a link that another
// request spent first, or that expired, is not found.
func spend(tx *gorm.DB, tokenHash, purpose string, now time.Time) (EmailToken, error) {
	res := tx.Model(&EmailToken{}).
		Where("token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?", tokenHash, purpose, now).
		Update("used_at", now)
	if res.Error != nil {
		return EmailToken{}, res.Error
	}
	if res.RowsAffected != 1 {
		return EmailToken{}, gorm.ErrRecordNotFound
	}
	var t EmailToken
	err := tx.Where("token_hash = ?", tokenHash).Take(&t).Error
	return t, err
}

// confirm marks the address a link went to confirmed at now, keeping an
// earlier confirmation; when the account's address is another by now, the
// link is not found.
func confirm(tx *gorm.DB, t EmailToken, now time.Time) error {
	res := tx.Model(&User{}).Where("id = ? AND email = ?", t.UserID, t.Email).Updates(map[string]any{
		"email_verified_at": gorm.Expr("COALESCE(email_verified_at, ?)", now),
		"updated_at":        now,
	})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return gorm.ErrRecordNotFound
	}
	return nil
}

// ResetPassword spends a live reset link in one transaction: the account
// gets the new password hash, its address counts as confirmed (the link
// reached it), every session of the account ends, and its other reset
// links stop working. A link that is not live is not found, and then
// nothing changes.
func (s *Store) ResetPassword(ctx context.Context, tokenHash, passwordHash string, now time.Time) (User, error) {
	now = now.UTC()
	var u User
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		t, err := spend(tx, tokenHash, TokenReset, now)
		if err != nil {
			return err
		}
		if err := confirm(tx, t, now); err != nil {
			return err
		}
		if err := setPassword(tx, t.UserID, passwordHash, now); err != nil {
			return err
		}
		if err := tx.Model(&EmailToken{}).Where("user_id = ? AND purpose = ? AND used_at IS NULL", t.UserID, TokenReset).
			Update("used_at", now).Error; err != nil {
			return err
		}
		return tx.Take(&u, t.UserID).Error
	})
	s.accountChanged(ctx, err, u.ID)
	return u, mapErr(err, "email link")
}

// VerifyEmail spends a live confirmation link and marks the account's
// address confirmed at now (an earlier confirmation stands).
func (s *Store) VerifyEmail(ctx context.Context, tokenHash string, now time.Time) (User, error) {
	now = now.UTC()
	var u User
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		t, err := spend(tx, tokenHash, TokenVerify, now)
		if err != nil {
			return err
		}
		if err := confirm(tx, t, now); err != nil {
			return err
		}
		return tx.Take(&u, t.UserID).Error
	})
	s.accountChanged(ctx, err, u.ID)
	return u, mapErr(err, "email link")
}

// SetEmailVerified marks an account's address confirmed at now, for an
// address proved some other way (an identity provider that vouches for it).
func (s *Store) SetEmailVerified(ctx context.Context, userID int64, now time.Time) error {
	res := s.db.WithContext(ctx).Model(&User{}).Where("id = ?", userID).Updates(map[string]any{
		"email_verified_at": gorm.Expr("COALESCE(email_verified_at, ?)", now.UTC()),
		"updated_at":        now.UTC(),
	})
	if res.Error == nil && res.RowsAffected == 0 {
		return mapErr(gorm.ErrRecordNotFound, "account")
	}
	s.accountChanged(ctx, res.Error, userID)
	return mapErr(res.Error, "account")
}
