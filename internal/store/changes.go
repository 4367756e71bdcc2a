package store

import "context"

// AccountChange says what changed: an account (its role, password,
// address or sessions: UserID) or one session (SessionID), so that whoever
// keeps copies of sessions and accounts can drop them.
type AccountChange struct {
	UserID    int64  // 0 when only SessionID is known
	SessionID string // "" when the whole account changed
}

// OnAccountChange registers f to hear of every change to an account or
// its sessions made through this store, after it is committed. Set it
// before the store is used; nil stops it.
func (s *Store) OnAccountChange(f func(context.Context, AccountChange)) { s.changed = f }

func (s *Store) accountChanged(ctx context.Context, err error, userID int64) {
	if userID != 0 {
		s.ForgetLearner(userID) // a deleted account takes its record with it
	}
	if err == nil && s.changed != nil && userID != 0 {
		s.changed(ctx, AccountChange{UserID: userID})
	}
}

func (s *Store) sessionEnded(ctx context.Context, err error, id string) {
	if err == nil && s.changed != nil {
		s.changed(ctx, AccountChange{SessionID: id})
	}
}
