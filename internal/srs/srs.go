// Package srs schedules flashcard reviews with the SM-2 algorithm
// (Wozniak, 1990): each answer's grade updates the card's ease factor and
// stretches or resets its interval. One change from the paper: a failed card
// comes back after ten minutes, in the same session, instead of tomorrow.
package srs

import (
	"math"
	"time"
)

// Grades a learner can give, on SM-2's 0–5 scale.
const (
	Again = 1 // forgot
	Hard  = 3 // recalled with serious difficulty
	Good  = 4 // recalled after hesitation
	Easy  = 5 // perfect recall
)

// InitialEase is SM-2's starting ease factor; MinEase its floor.
const (
	InitialEase = 2.5
	MinEase     = 1.3
	relearn     = 10 * time.Minute
	day         = 24 * time.Hour
	maxInterval = 3650 // days
)

// State is a card's schedule.
type State struct {
	Ease         float64
	IntervalDays int
	Repetitions  int
	Lapses       int
	Due          time.Time
}

// New is the state of a card never reviewed.
func New(now time.Time) State { return State{Ease: InitialEase, Due: now} }

// ValidGrade reports whether g is one of the grades offered.
func ValidGrade(g int) bool { return g == Again || g == Hard || g == Good || g == Easy }

// Review returns the state after answering with grade at now.
func Review(s State, grade int, now time.Time) State {
	if s.Ease < MinEase {
		s.Ease = InitialEase
	}
	q := float64(grade)
	s.Ease = math.Max(MinEase, s.Ease+0.1-(5-q)*(0.08+(5-q)*0.02))
	if grade < 3 {
		if s.Repetitions > 0 {
			s.Lapses++
		}
		s.Repetitions = 0
		s.IntervalDays = 0
		s.Due = now.Add(relearn)
		return s
	}
	switch s.Repetitions {
	case 0:
		s.IntervalDays = 1
	case 1:
		s.IntervalDays = 6
	default:
		s.IntervalDays = int(math.Round(float64(s.IntervalDays) * s.Ease))
	}
	s.IntervalDays = min(max(s.IntervalDays, 1), maxInterval)
	s.Repetitions++
	s.Due = now.Add(time.Duration(s.IntervalDays) * day)
	return s
}

// Streak counts consecutive days (in loc) with at least one review, ending
// today or yesterday; times may be in any order.
func Streak(reviews []time.Time, now time.Time, loc *time.Location) int {
	days := map[string]bool{}
	for _, t := range reviews {
		days[t.In(loc).Format(time.DateOnly)] = true
	}
	d := now.In(loc)
	if !days[d.Format(time.DateOnly)] {
		d = d.AddDate(0, 0, -1)
	}
	n := 0
	for days[d.Format(time.DateOnly)] {
		n++
		d = d.AddDate(0, 0, -1)
	}
	return n
}
