package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// The navigation's record, read in one query, says what the separate
// queries it replaces say: lessons opened, questions answered, which cards
// are due and which were first scheduled today, unread notices and, for an
// instructor, the submissions waiting for a look up to the limit.
func TestNavRecord(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			st := MustOpen(t, b)
			teacher := mustUserAs(t, st, "t@example.org", store.RoleInstructor)
			ada := mustUserAs(t, st, "ada@example.org", store.RoleLearner)
			bob := mustUserAs(t, st, "bob@example.org", store.RoleLearner)
			now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
			today := now.Truncate(24 * time.Hour)
			arrangeNavRecord(t, st, ada, now, today)
			cl := mustClass(t, st, teacher, "Spring", ada, bob)
			mustAssign(t, st, cl, "quota")
			reviewed := mustSubmit(t, st, ada, "quota", 80)
			mustSubmit(t, st, ada, "quota", 90)
			mustSubmit(t, st, bob, "quota", 70)
			saveReview(t, st, cl, teacher, reviewed, 85, "fine") // tells ada; no longer waits

			r, err := st.NavRecord(ctx, ada.ID, now, today, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(r.Lessons)
			if !slices.Equal(r.Lessons, []string{"cap", "sharding"}) || !slices.Equal(r.Questions, []string{"design-a-cache"}) {
				t.Errorf("lessons %v, questions %v", r.Lessons, r.Questions)
			}
			cards := map[string]store.NavCard{}
			for _, c := range r.Cards {
				cards[c.ID] = c
			}
			want := map[string]store.NavCard{
				"overdue":  {ID: "overdue", Due: true, Today: false},
				"now":      {ID: "now", Due: true, Today: true},
				"tomorrow": {ID: "tomorrow", Due: false, Today: true},
			}
			if len(cards) != len(want) {
				t.Errorf("cards %+v", r.Cards)
			}
			for id, w := range want {
				if cards[id] != w {
					t.Errorf("card %s: %+v, want %+v", id, cards[id], w)
				}
			}
			if r.Unread != 1 || r.Waiting != 0 {
				t.Errorf("ada: %d unread, %d waiting; want 1 and 0", r.Unread, r.Waiting)
			}
			for _, c := range []struct{ limit, want int }{{100, 2}, {1, 1}} {
				r, err := st.NavRecord(ctx, teacher.ID, now, today, teacher.ID, c.limit)
				if err != nil {
					t.Fatal(err)
				}
				if r.Waiting != c.want || r.Unread != 0 || len(r.Cards)+len(r.Lessons)+len(r.Questions) != 0 {
					t.Errorf("instructor, limit %d: %+v; want %d waiting and nothing else", c.limit, r, c.want)
				}
			}
		})
	}
}

// arrangeNavRecord gives the learner two lessons opened, a question
// answered, and three cards: overdue, due this very moment (and first
// scheduled at the start of today), and due tomorrow.
func arrangeNavRecord(t *testing.T, st *store.Store, u store.User, now, today time.Time) {
	t.Helper()
	ctx := context.Background()
	for _, slug := range []string{"cap", "sharding"} {
		if err := st.OpenLesson(ctx, u.ID, slug, now.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SaveQuestionAnswer(ctx, u.ID, "design-a-cache", "a cache", now); err != nil {
		t.Fatal(err)
	}
	for _, c := range []store.CardState{
		{CardID: "overdue", DueAt: now.Add(-24 * time.Hour), CreatedAt: today.Add(-48 * time.Hour)},
		{CardID: "now", DueAt: now, CreatedAt: today},
		{CardID: "tomorrow", DueAt: now.Add(24 * time.Hour), CreatedAt: now.Add(-time.Minute)},
	} {
		c.UserID, c.Ease, c.LastReviewedAt = u.ID, 2.5, c.CreatedAt
		if err := st.ReviewCard(ctx, c, 4); err != nil {
			t.Fatal(err)
		}
	}
}
