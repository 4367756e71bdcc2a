package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/sdworkbook/workbook/internal/apperr"
)

// Invitation lets one person register with one email address, once,
// before it expires, with the role the admin chose. Only the SHA-256 of
// its link's token is stored.
type Invitation struct {
	ID        int64 `gorm:"primaryKey"`
	Email     string
	Role      Role
	TokenHash string
	CreatedBy int64
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// Pending reports whether the invitation can still be used at now.
func (i Invitation) Pending(now time.Time) bool { return i.UsedAt == nil && now.Before(i.ExpiresAt) }

// SetupToken is a one-time link that claims the first admin account.
type SetupToken struct {
	TokenHash string `gorm:"primaryKey"`
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CreateInvitation stores an invitation, replacing any earlier one for the
// same address, unless maxPending invitations are already pending. Used
// and expired invitations are cleared on the way.
func (s *Store) CreateInvitation(ctx context.Context, inv Invitation, maxPending int) (Invitation, error) {
	inv.CreatedAt, inv.ExpiresAt, inv.UsedAt = inv.CreatedAt.UTC(), inv.ExpiresAt.UTC(), nil
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("used_at IS NOT NULL OR expires_at <= ? OR email = ?", inv.CreatedAt, inv.Email).
			Delete(&Invitation{}).Error; err != nil {
			return err
		}
		var n int64
		if err := tx.Model(&Invitation{}).Count(&n).Error; err != nil {
			return err
		}
		if n >= int64(maxPending) {
			return apperr.New(apperr.TooMany, "%d invitations are waiting to be used; revoke some before inviting more.", maxPending)
		}
		return tx.Create(&inv).Error
	})
	if _, ok := apperr.As(err); ok {
		return Invitation{}, err
	}
	return inv, mapErr(err, "invitation")
}

// PendingInvitations lists the invitations that can still be used at now,
// newest first.
func (s *Store) PendingInvitations(ctx context.Context, now time.Time) ([]Invitation, error) {
	var rows []Invitation
	err := s.db.WithContext(ctx).Where("used_at IS NULL").Order("created_at DESC, id DESC").Find(&rows).Error
	out := rows[:0]
	for _, r := range rows {
		if r.Pending(now) {
			out = append(out, r)
		}
	}
	return out, mapErr(err, "invitations")
}

// InvitationByToken finds a pending invitation by its token's hash; a
// used, expired or unknown one is not found.
func (s *Store) InvitationByToken(ctx context.Context, hash string, now time.Time) (Invitation, error) {
	var inv Invitation
	err := s.db.WithContext(ctx).Where("token_hash = ?", hash).Take(&inv).Error
	if err == nil && !inv.Pending(now) {
		err = gorm.ErrRecordNotFound
	}
	return inv, mapErr(err, "invitation")
}

// DeleteInvitation revokes an invitation.
func (s *Store) DeleteInvitation(ctx context.Context, id int64) (Invitation, error) {
	var inv Invitation
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Take(&inv, id).Error; err != nil {
			return err
		}
		return tx.Delete(&Invitation{}, id).Error
	})
	return inv, mapErr(err, "invitation")
}

// CreateSetupToken stores a setup link's hash, good until expires.
func (s *Store) CreateSetupToken(ctx context.Context, hash string, now, expires time.Time) error {
	t := SetupToken{TokenHash: hash, CreatedAt: now.UTC(), ExpiresAt: expires.UTC()}
	return mapErr(s.db.WithContext(ctx).Create(&t).Error, "setup link")
}

// SetupTokenUsable reports whether a setup link can still claim the first
// admin account: it exists, has not expired, and there is no admin yet.
func (s *Store) SetupTokenUsable(ctx context.Context, hash string, now time.Time) (bool, error) {
	var t SetupToken
	err := s.db.WithContext(ctx).Where("token_hash = ?", hash).Take(&t).Error
	if err != nil {
		if apperr.Is(mapErr(err, "setup link"), apperr.NotFound) {
			return false, nil
		}
		return false, mapErr(err, "setup link")
	}
	if !now.Before(t.ExpiresAt) {
		return false, nil
	}
	admin, err := s.HasAdmin(ctx)
	return !admin, err
}

// ClaimSetup makes an existing account the admin with a setup link, which
// is then used up, along with every other setup link.
func (s *Store) ClaimSetup(ctx context.Context, hash string, userID int64, now time.Time) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := consumeSetup(tx, hash, now); err != nil {
			return err
		}
		res := tx.Model(&User{}).Where("id = ?", userID).Updates(map[string]any{"role": RoleAdmin, "updated_at": now.UTC()})
		if res.Error == nil && res.RowsAffected == 0 {
			return gorm.ErrRecordNotFound
		}
		return res.Error
	})
	s.accountChanged(ctx, err, userID)
	if _, ok := apperr.As(err); ok {
		return err
	}
	return mapErr(err, "account")
}

// errSetupUsed is the one answer for a setup link that cannot be used, so
// a link's state is not told apart to whoever holds a wrong one.
func errSetupUsed() error {
	return apperr.New(apperr.NotFound, "This setup link has been used or has expired.")
}

// consumeSetup uses up the setup link with hash inside tx, or fails when
// it is unknown or expired or an admin already exists. Every setup link
// goes with it: there is one first admin.
func consumeSetup(tx *gorm.DB, hash string, now time.Time) error {
	var t SetupToken
	if err := tx.Where("token_hash = ?", hash).Take(&t).Error; err != nil {
		if apperr.Is(mapErr(err, ""), apperr.NotFound) {
			return errSetupUsed()
		}
		return err
	}
	// The delete decides between two uses at once: only one removes the row.
	res := tx.Where("token_hash = ?", hash).Delete(&SetupToken{})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 || !now.Before(t.ExpiresAt) {
		return errSetupUsed()
	}
	var admins int64
	if err := tx.Model(&User{}).Where("role = ?", RoleAdmin).Count(&admins).Error; err != nil {
		return err
	}
	if admins > 0 {
		return errSetupUsed()
	}
	return tx.Where("1 = 1").Delete(&SetupToken{}).Error
}
