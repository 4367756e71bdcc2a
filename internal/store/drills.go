package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"gorm.io/gorm"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/migrations"
)

// DrillAttempt is one graded estimation drill: the problem is its kind and
// seed, so it can be generated, shown and graded again.
type DrillAttempt struct {
	ID     int64 `gorm:"primaryKey"`
	UserID int64
	Kind   string
	Seed   int64
	// Answers is the JSON of the estimates as typed, by field.
	Answers    string
	RightCount int
	Asked      int
	Correct    bool
	StartedAt  time.Time
	FinishedAt time.Time
	DurationMS int64 `gorm:"column:duration_ms"`
}

// DrillLimits bound the attempts a learner may store.
type DrillLimits struct {
	PerMinute, PerDay int
}

// AddDrillAttempt stores an attempt unless the learner has stored
// PerMinute in the last minute or PerDay in the last day; then it stores
// nothing and says when to try again. The count and the insert run one
// at a time per learner, so a burst cannot pass the limit together.
func (s *Store) AddDrillAttempt(ctx context.Context, a *DrillAttempt, lim DrillLimits) error {
	a.StartedAt, a.FinishedAt = a.StartedAt.UTC(), a.FinishedAt.UTC()
	now := a.FinishedAt
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.dialect == migrations.Postgres {
			if err := tx.Exec("SELECT 1 FROM users WHERE id = ? FOR UPDATE", a.UserID).Error; err != nil {
				return err
			}
		}
		for _, w := range []struct {
			window time.Duration
			max    int
			what   string
		}{{time.Minute, lim.PerMinute, "a minute"}, {24 * time.Hour, lim.PerDay, "a day"}} {
			if w.max <= 0 {
				continue
			}
			var times []time.Time
			if err := tx.Model(&DrillAttempt{}).Where("user_id = ? AND finished_at > ?", a.UserID, now.Add(-w.window)).
				Order("finished_at").Limit(w.max).Pluck("finished_at", &times).Error; err != nil {
				return err
			}
			if len(times) >= w.max {
				wait := times[0].Add(w.window).Sub(now)
				return &apperr.Error{Code: apperr.TooMany, RetryAfterSeconds: max(1, int(wait.Seconds()+0.999)),
					Message: fmt.Sprintf("You have saved %d drill attempts in %s, the most we keep; this one was graded but not saved.", w.max, w.what)}
			}
		}
		return tx.Create(a).Error
	})
	if apperr.Is(err, apperr.TooMany) {
		return err
	}
	return s.learnerChanged(ctx, mapErr(err, "drill attempt"), a.UserID)
}

// DrillAttemptOf returns one of a learner's attempts; another learner's is
// not found, like a missing one.
func (s *Store) DrillAttemptOf(ctx context.Context, userID, id int64) (DrillAttempt, error) {
	var a DrillAttempt
	err := s.db.WithContext(ctx).Where("id = ? AND user_id = ?", id, userID).Take(&a).Error
	return a, mapErr(err, "drill attempt")
}

// DrillKindStats are a learner's figures for one kind of drill.
type DrillKindStats struct {
	Kind              string
	Attempts, Correct int
	// BestMS is the fastest correct attempt with a time, in milliseconds
	// (0: none yet).
	BestMS int64
	// Streak is the correct attempts in a row, the latest first.
	Streak int
}

// DrillStats are a learner's drill figures.
type DrillStats struct {
	Kinds    map[string]DrillKindStats
	Attempts int
	// Streak is the correct attempts in a row across kinds, the latest
	// first (counted over the last StreakWindow attempts).
	Streak int
	// BestMS is the fastest correct attempt of any kind (0: none).
	BestMS int64
	// Recent are the latest attempts, newest first.
	Recent []DrillAttempt
}

// StreakWindow bounds the attempts read to count streaks.
const StreakWindow = 1000

// recentDrills is how many attempts DrillStats lists.
const recentDrills = 10

// clone copies figures so a cached copy is never shared.
func (d DrillStats) clone() DrillStats {
	d.Kinds = maps.Clone(d.Kinds)
	d.Recent = slices.Clone(d.Recent)
	return d
}

// DrillStatsOf returns a learner's drill figures: from the learner cache
// when it has them, else with two queries.
func (s *Store) DrillStatsOf(ctx context.Context, userID int64) (DrillStats, error) {
	e, gen, ok := s.cachedLearner(userID)
	if ok && e.hasDrills {
		return e.drills.clone(), nil
	}
	st, err := s.drillStats(ctx, userID)
	if err != nil {
		return st, err
	}
	s.keepLearner(userID, gen, func(e *learnerEntry) { e.drills, e.hasDrills = st.clone(), true })
	return st, nil
}

func (s *Store) drillStats(ctx context.Context, userID int64) (DrillStats, error) {
	st := DrillStats{Kinds: map[string]DrillKindStats{}}
	var rows []struct {
		Kind     string
		Attempts int
		Correct  int
		BestMS   *int64
	}
	db := s.db.WithContext(ctx)
	err := db.Model(&DrillAttempt{}).Select("kind, COUNT(*) AS attempts, "+
		"SUM(CASE WHEN correct THEN 1 ELSE 0 END) AS correct, MIN(CASE WHEN correct AND duration_ms > 0 THEN duration_ms END) AS best_ms").
		Where("user_id = ?", userID).Group("kind").Scan(&rows).Error
	if err != nil {
		return st, mapErr(err, "drill attempts")
	}
	for _, r := range rows {
		k := DrillKindStats{Kind: r.Kind, Attempts: r.Attempts, Correct: r.Correct}
		if r.BestMS != nil {
			k.BestMS = *r.BestMS
			if st.BestMS == 0 || k.BestMS < st.BestMS {
				st.BestMS = k.BestMS
			}
		}
		st.Kinds[r.Kind] = k
		st.Attempts += r.Attempts
	}
	var latest []DrillAttempt
	err = db.Where("user_id = ?", userID).Order("finished_at DESC, id DESC").Limit(StreakWindow).Find(&latest).Error
	if err != nil {
		return st, mapErr(err, "drill attempts")
	}
	countStreaks(&st, latest)
	st.Recent = latest[:min(len(latest), recentDrills)]
	return st, nil
}

// countStreaks counts the correct attempts in a row from the latest, for
// all kinds together and for each kind.
func countStreaks(st *DrillStats, latest []DrillAttempt) {
	broken := map[string]bool{}
	overall := true
	for _, a := range latest {
		overall = overall && a.Correct
		if overall {
			st.Streak++
		}
		if broken[a.Kind] {
			continue
		}
		if !a.Correct {
			broken[a.Kind] = true
			continue
		}
		k := st.Kinds[a.Kind]
		k.Streak++
		st.Kinds[a.Kind] = k
	}
}
