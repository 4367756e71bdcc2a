package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/sdworkbook/workbook/internal/apperr"
)

// NewAccount is an account to create and what it is created with.
type NewAccount struct {
	Email        string
	PasswordHash string
	// Role is the account's role; empty makes a learner. An invitation's
	// role, or admin for a setup link, takes its place.
	Role Role
	// InvitationHash, when set, uses up that pending invitation, whose
	// email must be Email.
	InvitationHash string
	// SetupHash, when set, uses up that setup link: the account is the
	// first admin.
	SetupHash string
	// ClassID, when set, joins the new account to that class.
	ClassID int64
}

// Register creates an account in one transaction with everything it was
// made with: the invitation or setup link is used up only if the account
// is created, and the account exists only if they were still good. A
// taken email is a Conflict; a used, expired or unknown invitation or
// setup link is NotFound.
func (s *Store) Register(ctx context.Context, a NewAccount, now time.Time) (User, error) {
	u := User{Email: a.Email, PasswordHash: a.PasswordHash, Role: a.Role}
	if u.Role == "" {
		u.Role = RoleLearner
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if a.InvitationHash != "" {
			var inv Invitation
			err := tx.Where("token_hash = ?", a.InvitationHash).Take(&inv).Error
			if err == nil && (!inv.Pending(now) || inv.Email != a.Email) {
				err = gorm.ErrRecordNotFound
			}
			if err != nil {
				return mapErr(err, "invitation")
			}
			res := tx.Model(&Invitation{}).Where("id = ? AND used_at IS NULL", inv.ID).Update("used_at", now.UTC())
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected != 1 {
				return mapErr(gorm.ErrRecordNotFound, "invitation")
			}
			u.Role = inv.Role
		}
		if a.SetupHash != "" {
			if err := consumeSetup(tx, a.SetupHash, now); err != nil {
				return err
			}
			u.Role = RoleAdmin
		}
		if err := tx.Create(&u).Error; err != nil {
			return mapErr(err, "account")
		}
		if a.ClassID != 0 {
			m := ClassMember{ClassID: a.ClassID, UserID: u.ID, JoinedAt: now.UTC()}
			if err := tx.Create(&m).Error; err != nil {
				return mapErr(err, "class")
			}
		}
		return nil
	})
	if _, ok := apperr.As(err); ok {
		return User{}, err
	}
	return u, mapErr(err, "account")
}
