package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// CreateUser inserts an account; an empty role makes a learner. Being
// first makes nobody an admin: the first admin comes from a setup link
// (ClaimSetup, Register) or `server admin create-user`.
func (s *Store) CreateUser(ctx context.Context, email, passwordHash string, role Role) (User, error) {
	if role == "" {
		role = RoleLearner
	}
	u := User{Email: email, PasswordHash: passwordHash, Role: role}
	return u, mapErr(s.db.WithContext(ctx).Create(&u).Error, "account")
}

// HasAdmin reports whether any account is an admin.
func (s *Store) HasAdmin(ctx context.Context) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&User{}).Where("role = ?", RoleAdmin).Limit(1).Count(&n).Error
	return n > 0, mapErr(err, "account")
}

// SetPassword replaces an account's password hash and ends every session
// of the account, in one transaction: whoever knew the old password is
// logged out everywhere. A caller that keeps the person logged in starts
// a fresh session afterwards.
func (s *Store) SetPassword(ctx context.Context, userID int64, passwordHash string) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return setPassword(tx, userID, passwordHash, time.Now().UTC())
	})
	s.accountChanged(ctx, err, userID)
	return mapErr(err, "account")
}

// setPassword is SetPassword inside the caller's transaction.
func setPassword(tx *gorm.DB, userID int64, passwordHash string, now time.Time) error {
	res := tx.Model(&User{}).Where("id = ?", userID).
		Updates(map[string]any{"password_hash": passwordHash, "updated_at": now})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return gorm.ErrRecordNotFound
	}
	return tx.Where("user_id = ?", userID).Delete(&Session{}).Error
}

// UserByEmail finds an account by its normalised email.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	var u User
	err := s.db.WithContext(ctx).Where("email = ?", email).Take(&u).Error
	return u, mapErr(err, "account")
}

// UserByID finds an account.
func (s *Store) UserByID(ctx context.Context, id int64) (User, error) {
	var u User
	err := s.db.WithContext(ctx).Take(&u, id).Error
	return u, mapErr(err, "account")
}

// SetRole changes an account's role.
func (s *Store) SetRole(ctx context.Context, id int64, role Role) error {
	res := s.db.WithContext(ctx).Model(&User{}).Where("id = ?", id).
		Updates(map[string]any{"role": role, "updated_at": time.Now().UTC()})
	if res.Error == nil && res.RowsAffected == 0 {
		return mapErr(gorm.ErrRecordNotFound, "account")
	}
	s.accountChanged(ctx, res.Error, id)
	return mapErr(res.Error, "account")
}

// SessionWithUser loads a session and its account.
func (s *Store) SessionWithUser(ctx context.Context, id string) (Session, User, error) {
	var sess Session
	if err := s.db.WithContext(ctx).Take(&sess, "id = ?", id).Error; err != nil {
		return Session{}, User{}, mapErr(err, "session")
	}
	u, err := s.UserByID(ctx, sess.UserID)
	return sess, u, err
}

// TouchSession records activity on a session.
func (s *Store) TouchSession(ctx context.Context, id string, now time.Time) error {
	return mapErr(s.db.WithContext(ctx).Model(&Session{}).Where("id = ?", id).
		Update("last_seen_at", now.UTC()).Error, "session")
}

// DeleteSession ends a session; ending one that is gone is not an error.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	err := s.db.WithContext(ctx).Delete(&Session{}, "id = ?", id).Error
	s.sessionEnded(ctx, err, id)
	return mapErr(err, "session")
}

// DeleteExpiredSessions removes sessions idle since before idleBefore or
// created before createdBefore, and returns how many went.
func (s *Store) DeleteExpiredSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("last_seen_at < ? OR created_at < ?", idleBefore.UTC(), createdBefore.UTC()).
		Delete(&Session{})
	return res.RowsAffected, mapErr(res.Error, "session")
}
