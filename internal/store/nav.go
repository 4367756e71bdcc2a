package store

import (
	"context"
	"strings"
	"time"
)

// NavRecord is what the navigation of a signed-in page counts from: the
// learner's deck and card schedules, for the cards due, and the notices.
type NavRecord struct {
	Lessons   []string  // lessons opened
	Questions []string  // questions answered
	Cards     []NavCard // card schedules
	Unread    int       // unread notices
	Waiting   int       // submissions waiting for the instructor's look, up to the limit asked
	// Interviews are the closed stages of the learner's mock interviews.
	Interviews []ClosedStage
}

// NavCard is one card schedule as the navigation needs it.
type NavCard struct {
	ID    string
	Due   bool // due now or earlier
	Today bool // scheduled first on or after the start of today
}

// NavRecord reads a user's NavRecord in one query. waitingFor names the
// instructor whose waiting submissions are counted, up to limit; 0 counts
// none.
func (s *Store) NavRecord(ctx context.Context, userID int64, now, today time.Time, waitingFor int64, limit int) (NavRecord, error) {
	parts := []string{
		"SELECT 'lesson' AS kind, lesson_slug AS ref, 0 AS a, 0 AS b FROM lesson_progress WHERE user_id = ?",
		"SELECT 'question', question_slug, 0, 0 FROM question_answers WHERE user_id = ?",
		"SELECT 'card', card_id, CASE WHEN due_at <= ? THEN 1 ELSE 0 END, CASE WHEN created_at >= ? THEN 1 ELSE 0 END " +
			"FROM card_states WHERE user_id = ?",
		"SELECT 'notices', '', COUNT(*), 0 FROM notices WHERE user_id = ? AND read_at IS NULL",
		closedStagesSQL,
	}
	args := []any{userID, userID, now.UTC(), today.UTC(), userID, userID, userID}
	if waitingFor != 0 {
		parts = append(parts, "SELECT 'waiting', '', COUNT(*), 0 FROM (?) AS waiting")
		args = append(args, s.waitingQuery(ctx, waitingFor).Distinct("submissions.id").Limit(limit))
	}
	var rows []struct {
		Kind, Ref string
		A, B      int64
	}
	if err := s.db.WithContext(ctx).Raw(strings.Join(parts, " UNION ALL "), args...).Scan(&rows).Error; err != nil {
		return NavRecord{}, mapErr(err, "navigation counts")
	}
	var r NavRecord
	for _, row := range rows {
		switch row.Kind {
		case "lesson":
			r.Lessons = append(r.Lessons, row.Ref)
		case "question":
			r.Questions = append(r.Questions, row.Ref)
		case "card":
			r.Cards = append(r.Cards, NavCard{ID: row.Ref, Due: row.A == 1, Today: row.B == 1})
		case "notices":
			r.Unread = int(row.A)
		case "waiting":
			r.Waiting = int(row.A)
		case "interview":
			if c, ok := closedStageOf(row.Ref, row.A); ok {
				r.Interviews = append(r.Interviews, c)
			}
		}
	}
	return r, nil
}
