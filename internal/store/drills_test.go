package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// TestDrillAttemptsPerDay: past the day's limit an attempt is refused with
// the wait until the oldest of the day leaves the window; the figures
// count only what was kept, and another learner sees none of it.
func TestDrillAttemptsPerDay(t *testing.T) {
	for _, be := range testenv.Backends(t) {
		t.Run(be.Name, func(t *testing.T) {
			ctx := context.Background()
			st := MustOpen(t, be)
			u, other := mustUserAs(t, st, "day@example.org", store.RoleLearner), mustUserAs(t, st, "else@example.org", store.RoleLearner)
			lim := store.DrillLimits{PerMinute: 100, PerDay: 3}
			t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
			add := func(at time.Time, correct bool, took time.Duration) error {
				a := store.DrillAttempt{UserID: u.ID, Kind: "peak-qps", Seed: 1, Answers: "{}", Asked: 2, Correct: correct,
					StartedAt: at.Add(-took), FinishedAt: at, DurationMS: took.Milliseconds()}
				return st.AddDrillAttempt(ctx, &a, lim)
			}
			for i, took := range []time.Duration{30 * time.Second, 20 * time.Second, 40 * time.Second} {
				if err := add(t0.Add(time.Duration(i)*time.Hour), i != 1, took); err != nil {
					t.Fatal(err)
				}
			}
			err := add(t0.Add(5*time.Hour), true, time.Second)
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.TooMany || e.RetryAfterSeconds != 19*3600 {
				t.Fatalf("fourth attempt of the day: %v (retry after %v s)", err, e)
			}
			if err := add(t0.Add(24*time.Hour+time.Second), true, time.Second); err != nil {
				t.Fatalf("a day after the first: %v", err)
			}
			s, err := st.DrillStatsOf(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			k := s.Kinds["peak-qps"]
			if s.Attempts != 4 || k.Correct != 3 || s.Streak != 2 || k.Streak != 2 || s.BestMS != 1000 || len(s.Recent) != 4 {
				t.Errorf("figures %+v, kind %+v", s, k)
			}
			if s, _ := st.DrillStatsOf(ctx, other.ID); s.Attempts != 0 || len(s.Recent) != 0 {
				t.Errorf("another learner's figures: %+v", s)
			}
			if _, err := st.DrillAttemptOf(ctx, other.ID, s.Recent[0].ID); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("another learner's attempt: %v", err)
			}
		})
	}
}
