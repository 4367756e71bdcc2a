package limiter

import (
	"strings"
	"testing"
)

// run is n shots of one fresh client, sent every ms apart, each answered
// took ms later, with the ones at the positions (from 0) in refused
// refused.
func run(n, every, took int, refused func(i int) bool) []shot {
	out := make([]shot, n)
	for i := range out {
		out[i] = at(i*every, took, !refused(i))
	}
	return out
}

// after refuses every shot from the k-th (from 0) on.
func after(k int) func(int) bool { return func(i int) bool { return i >= k } }

// The count checks judge a fresh client's first window only: a window
// that restarts after it (a fixed window on a slow machine) is for the
// span check, an over-count inside it fails, a refusal before the quota
// fails whatever the timing, and a run too slow to fill the window
// passes without being conclusive (the check tries a fresh client).
func TestJudgeFirstWindow(t *testing.T) {
	// One after another every 80 ms, a quota of 20 (or 21) per 2 s:
	// refused from the 20th until 2 s after the first, then one more for
	// each that leaves the window.
	slow := func(q int) func(int) bool { return func(i int) bool { return i >= q && i*80 < 2000 } }
	// A fixed window on a slow machine: a quota at once, a pause, then
	// requests every 50 ms, let through again once the window restarts
	// 2 s after the first.
	fixed := run(20, 5, 3, after(20))
	for ms := 1500; ms < 3000; ms += 50 {
		fixed = append(fixed, at(ms, 3, ms >= 2000))
	}
	for _, tc := range []struct {
		name             string
		shots            []shot
		conclusive, pass bool
		says             string
	}{
		{"exact, quick", run(40, 5, 3, after(20)), true, true, "exactly the quota"},
		{"exact, slow", run(40, 80, 70, slow(20)), true, true, "exactly the quota"},
		{"fixed window, slow", fixed, true, true, "exactly the quota"},
		{"one too many", run(40, 5, 3, after(21)), true, false, "more than the quota"},
		{"one too many, slow", run(40, 80, 70, slow(21)), true, false, "more than the quota"},
		{"too strict", run(40, 5, 3, after(19)), true, false, "too strict"},
		{"too strict, slow", run(40, 90, 80, after(19)), true, false, "too strict"},
		// A count that never expires, on a slow machine: 20 admitted over
		// more than 2 s, then refused for good. Not this check's to judge.
		{"no expiry, very slow", run(40, 150, 140, after(20)), false, true, "no more than the quota"},
		{"too slow to judge", run(40, 100, 95, after(40)), false, true, "no more than the quota"},
		// Answered 1.9 s after the first was sent: maybe decided in the
		// next window, so not counted.
		{"beyond the window", append(run(20, 5, 3, after(20)), at(1890, 20, true)), false, true, "no more than the quota"},
	} {
		o, conclusive := judgeFirstWindow(tc.shots, "A fresh client sent requests")
		if conclusive != tc.conclusive || o.Passed != tc.pass || !strings.Contains(o.Message, tc.says) {
			t.Errorf("%s: conclusive %v, passed %v, %q; want %v, %v, saying %q", tc.name, conclusive, o.Passed, o.Message, tc.conclusive, tc.pass, tc.says)
		}
	}
}

// A refusal is proven early only when fewer than the quota admitted
// requests could have been decided in the 2 s before it.
func TestRefusedEarly(t *testing.T) {
	// 20 admitted answered slowly, long after the refusal was sent: they
	// may all have been decided before it.
	slow := append(run(20, 1, 1000, after(20)), at(30, 5, false))
	if _, _, early := refusedEarly(slow); early {
		t.Error("slow admissions that may precede the refusal proved it early")
	}
	// 19 admitted, then a refusal, all within the first window.
	if at, before, early := refusedEarly(run(20, 90, 5, after(19))); !early || at != 20 || before != 19 {
		t.Errorf("19 then a refusal: at %d, before %d, early %v", at, before, early)
	}
	// 9 counted and 11 let through failing open, then a refusal: a Redis
	// call that timed out may still have counted its request, so the
	// refusal may be right (a busy Redis, not a strict count).
	busy := run(21, 5, 3, after(20))
	for i := 9; i < 20; i++ {
		busy[i].failOpen = true
	}
	if at, before, early := refusedEarly(busy); early {
		t.Errorf("a refusal after 9 counted and 11 failing open proved early: at %d, before %d", at, before)
	}
	busy[8].failOpen, busy[8].allowed = false, false
	if at, _, early := refusedEarly(busy); !early || at != 9 {
		t.Errorf("a refusal after 8 counted: at %d, early %v; want at 9", at, early)
	}
	// A refusal after the first window is not judged, even with no
	// admission in the 2 s before it.
	old := append(run(20, 1, 5, after(20)), at(2200, 5, false))
	if _, _, early := refusedEarly(old); early {
		t.Error("a refusal after the first window was judged")
	}
}

// Requests sent at once that the service answered one at a time, mostly
// after the first window, prove nothing about a count decided in steps.
func TestJudgeAtOnce(t *testing.T) {
	burst := func(answeredEvery int) []shot {
		out := make([]shot, 200)
		for i := range out {
			out[i] = at(0, 5+i*answeredEvery, i < 20)
		}
		return out
	}
	if o, conclusive := judgeAtOnce(burst(1)); !o.Passed || !conclusive {
		t.Errorf("a quick burst, exactly the quota: passed %v, conclusive %v", o.Passed, conclusive)
	}
	if o, conclusive := judgeAtOnce(burst(20)); !o.Passed || conclusive {
		t.Errorf("a burst answered one at a time: passed %v, conclusive %v", o.Passed, conclusive)
	}
}
