package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/sdworkbook/workbook/internal/apperr"
)

// APIToken is a personal access token: a script sends it as a bearer
// token and acts as the user. Only its SHA-256 is stored.
type APIToken struct {
	ID         int64 `gorm:"primaryKey"`
	UserID     int64
	Name       string
	TokenHash  string
	Prefix     string // the first characters, to tell tokens apart
	CreatedAt  time.Time
	LastUsedAt *time.Time
	// ExpiresAt is when the token stops working, chosen at creation.
	ExpiresAt time.Time
	Scope     TokenScope
}

// TokenScope is what a token may do.
type TokenScope string

// The scopes: a read-only token may only read (GET and HEAD requests).
const (
	ScopeReadOnly  TokenScope = "read-only"
	ScopeReadWrite TokenScope = "read-write"
)

// ParseTokenScope validates a scope name.
func ParseTokenScope(s string) (TokenScope, bool) {
	switch sc := TokenScope(s); sc {
	case ScopeReadOnly, ScopeReadWrite:
		return sc, true
	}
	return "", false
}

// Expired reports whether the token no longer works at now.
func (t APIToken) Expired(now time.Time) bool { return !now.Before(t.ExpiresAt) }

// TableName names the table (gorm would split "API" oddly).
func (APIToken) TableName() string { return "api_tokens" }

// tokenTouchEvery bounds how often using a token writes last_used_at.
const tokenTouchEvery = time.Minute

// CreateToken stores a token (its hash, never the token) for t.UserID,
// unless they already hold max tokens, expired ones included.
func (s *Store) CreateToken(ctx context.Context, t APIToken, max int) (APIToken, error) {
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	if _, ok := ParseTokenScope(string(t.Scope)); !ok || !t.ExpiresAt.After(t.CreatedAt) {
		return APIToken{}, apperr.New(apperr.Invalid, "A token needs a scope and an expiry after its creation.")
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&APIToken{}).Where("user_id = ?", t.UserID).Count(&n).Error; err != nil {
			return err
		}
		if n >= int64(max) {
			return apperr.New(apperr.TooMany, "You already have %d access tokens; revoke one you no longer use first.", max)
		}
		return tx.Create(&t).Error
	})
	if _, ok := apperr.As(err); ok {
		return APIToken{}, err
	}
	return t, mapErr(err, "access token")
}

// Tokens returns a user's tokens, newest first.
func (s *Store) Tokens(ctx context.Context, userID int64) ([]APIToken, error) {
	var rows []APIToken
	err := s.db.WithContext(ctx).Where("user_id = ?", userID).Order("created_at DESC, id DESC").Find(&rows).Error
	return rows, mapErr(err, "access tokens")
}

// DeleteToken revokes one of a user's tokens; another user's is not found.
func (s *Store) DeleteToken(ctx context.Context, userID, id int64) (APIToken, error) {
	var t APIToken
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("id = ? AND user_id = ?", id, userID).Take(&t).Error; err != nil {
			return err
		}
		return tx.Delete(&APIToken{}, t.ID).Error
	})
	return t, mapErr(err, "access token")
}

// UserByToken returns a token by its hash and the account it belongs to.
// Using a live token notes when it was last used; an expired one is
// returned as it is (the caller refuses it, saying why) and not touched.
func (s *Store) UserByToken(ctx context.Context, hash string, now time.Time) (APIToken, User, error) {
	var t APIToken
	if err := s.db.WithContext(ctx).Where("token_hash = ?", hash).Take(&t).Error; err != nil {
		return APIToken{}, User{}, mapErr(err, "access token")
	}
	u, err := s.UserByID(ctx, t.UserID)
	if err != nil {
		return APIToken{}, User{}, err
	}
	if !t.Expired(now) && (t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > tokenTouchEvery) {
		err := s.db.WithContext(ctx).Model(&APIToken{}).Where("id = ?", t.ID).Update("last_used_at", now.UTC()).Error
		if err != nil {
			return APIToken{}, User{}, mapErr(err, "access token")
		}
	}
	return t, u, nil
}
