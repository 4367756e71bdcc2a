package srs

import (
	"testing"
	"time"
)

func TestSM2Intervals(t *testing.T) {
	now := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	s := New(now)
	// Good, good, good: 1 day, 6 days, then 6 × ease (2.5 → stays 2.5 with grade 4).
	want := []int{1, 6, 15, 38}
	for i, w := range want {
		s = Review(s, Good, now)
		if s.IntervalDays != w {
			t.Fatalf("review %d: interval %d, want %d (ease %.2f)", i+1, s.IntervalDays, w, s.Ease)
		}
		if !s.Due.Equal(now.Add(time.Duration(w) * 24 * time.Hour)) {
			t.Fatalf("due %v", s.Due)
		}
	}
	// Easy raises the ease; hard lowers it; never below 1.3.
	e := Review(New(now), Easy, now).Ease
	if e <= InitialEase {
		t.Errorf("easy ease %.2f", e)
	}
	h := New(now)
	for range 20 {
		h = Review(h, Hard, now)
	}
	if h.Ease != MinEase {
		t.Errorf("ease after many hard answers %.3f, want the floor", h.Ease)
	}
	// A lapse resets repetitions and brings the card back in ten minutes.
	l := Review(s, Again, now)
	if l.Repetitions != 0 || l.Lapses != 1 || !l.Due.Equal(now.Add(10*time.Minute)) {
		t.Errorf("after a lapse: %+v", l)
	}
	if l = Review(l, Good, now); l.IntervalDays != 1 {
		t.Errorf("relearned interval %d", l.IntervalDays)
	}
}

func TestStreak(t *testing.T) {
	loc := time.UTC
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, loc)
	d := func(day, hour int) time.Time { return time.Date(2026, 3, day, hour, 0, 0, 0, loc) }
	cases := []struct {
		reviews []time.Time
		want    int
	}{
		{nil, 0},
		{[]time.Time{d(10, 8)}, 1},
		{[]time.Time{d(9, 23), d(8, 1), d(7, 5)}, 3},                    // not yet today: yesterday counts
		{[]time.Time{d(10, 1), d(9, 1), d(7, 1)}, 2},                    // a gap ends it
		{[]time.Time{d(8, 1), d(7, 1)}, 0},                              // two days ago: broken
		{[]time.Time{d(10, 1), d(10, 2), d(9, 3), d(9, 4), d(8, 5)}, 3}, // several a day
	}
	for i, c := range cases {
		if got := Streak(c.reviews, now, loc); got != c.want {
			t.Errorf("case %d: streak %d, want %d", i, got, c.want)
		}
	}
}
