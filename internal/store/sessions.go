package store

import (
	"context"

	"gorm.io/gorm"
)

// CreateSession stores a new session. When its user then holds more than
// maxPerUser sessions, the ones unused for longest are ended, so a user
// never has more than maxPerUser live sessions (0: no cap).
func (s *Store) CreateSession(ctx context.Context, sess Session, maxPerUser int) error {
	sess.CreatedAt, sess.LastSeenAt = sess.CreatedAt.UTC(), sess.LastSeenAt.UTC()
	if sess.LastSeenAt.IsZero() {
		sess.LastSeenAt = sess.CreatedAt
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&sess).Error; err != nil {
			return err
		}
		if maxPerUser <= 0 {
			return nil
		}
		var extra []string
		err := tx.Model(&Session{}).Where("user_id = ?", sess.UserID).
			Order("last_seen_at DESC, created_at DESC, id").Offset(maxPerUser).Pluck("id", &extra).Error
		if err != nil || len(extra) == 0 {
			return err
		}
		return tx.Where("id IN ?", extra).Delete(&Session{}).Error
	})
	// The account's oldest sessions may have ended to make room.
	s.accountChanged(ctx, err, sess.UserID)
	return mapErr(err, "session")
}

// SessionsOf lists a user's sessions, the most recently used first.
func (s *Store) SessionsOf(ctx context.Context, userID int64) ([]Session, error) {
	var rows []Session
	err := s.db.WithContext(ctx).Where("user_id = ?", userID).
		Order("last_seen_at DESC, created_at DESC, id").Find(&rows).Error
	return rows, mapErr(err, "sessions")
}

// DeleteSessionsOf ends every session of a user except the one with id
// except (empty: all of them) and returns how many ended.
func (s *Store) DeleteSessionsOf(ctx context.Context, userID int64, except string) (int64, error) {
	q := s.db.WithContext(ctx).Where("user_id = ?", userID)
	if except != "" {
		q = q.Where("id <> ?", except)
	}
	res := q.Delete(&Session{})
	s.accountChanged(ctx, res.Error, userID)
	return res.RowsAffected, mapErr(res.Error, "sessions")
}

// DeleteSessionOf ends one of a user's sessions; another user's session,
// or one that has ended, is not found.
func (s *Store) DeleteSessionOf(ctx context.Context, userID int64, id string) error {
	res := s.db.WithContext(ctx).Where("id = ? AND user_id = ?", id, userID).Delete(&Session{})
	s.sessionEnded(ctx, res.Error, id)
	if res.Error == nil && res.RowsAffected == 0 {
		return mapErr(gorm.ErrRecordNotFound, "session")
	}
	return mapErr(res.Error, "session")
}
