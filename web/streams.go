package web

import (
	"fmt"
	"io"
	"net/http"
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

// streamsEnd tells the live streams on this replica that it is shutting
// down: each one ends, and the browser's EventSource connects again, to
// another replica behind a load balancer, or to this one when it is back.
type streamsEnd struct {
	once sync.Once
	ch   chan struct{}
}

func newStreamsEnd() *streamsEnd { return &streamsEnd{ch: make(chan struct{})} }

// end ends every stream, now and from now on.
func (e *streamsEnd) end() { e.once.Do(func() { close(e.ch) }) }

// EndStreams ends every live stream this replica serves or forwards, so
// that a graceful shutdown does not wait for them: call it when shutdown
// begins (http.Server.RegisterOnShutdown).
func (s *Server) EndStreams() { s.ending.end() }

// reconnectMS is how soon a browser connects again after a stream ended
// because its replica is shutting down.
const reconnectMS = 1000

// endForShutdown writes the reconnection delay to a stream that is about to
// end because the replica is shutting down.
func endForShutdown(w io.Writer) {
	_, _ = fmt.Fprintf(w, "retry: %d\n\n", reconnectMS)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}
