package web

import (
	"sync"

	"github.com/sdworkbook/workbook/internal/apperr"
)

const (
	// maxSubmissionStreams bounds the live submission streams one replica
	// holds open; each is a Redis subscription.
	maxSubmissionStreams = 500
	// maxStreamsPerUser bounds one person's share of them, so a learner
	// with many tabs (or a script) cannot hold every slot.
	maxStreamsPerUser = 6
)

// streamSlots counts the live streams of one kind on this replica, in all
// and per user.
type streamSlots struct {
	max, perUser int

	mu     sync.Mutex
	total  int
	byUser map[int64]int
}

func newStreamSlots(max, perUser int) *streamSlots {
	return &streamSlots{max: max, perUser: perUser, byUser: map[int64]int{}}
}

// take holds a slot for user until release is called, or answers with the
// reason there is none: the user's own share is spent, or every slot is.
func (s *streamSlots) take(user int64) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.byUser[user] >= s.perUser:
		return nil, apperr.New(apperr.TooMany,
			"You are following %d gradings live already, the most one person can. Close a tab with a submission page, then reload this one.", s.perUser)
	case s.total >= s.max:
		return nil, apperr.New(apperr.TooMany, "Too many live streams are open; reload the page in a moment.")
	}
	s.total++
	s.byUser[user]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.total--
			if s.byUser[user]--; s.byUser[user] <= 0 {
				delete(s.byUser, user)
			}
		})
	}, nil
}
