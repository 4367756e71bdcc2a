package containers

import (
	"os"
	"strconv"
	"testing"
	"time"
)

func TestLeftoverRules(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	const livePID, deadPID = 1000, 2000
	alive := func(pid int) bool { return pid == livePID }
	labels := func(owner string, pid int, deadline time.Time) map[string]string {
		l := GradingLabels(owner, "s1", now.Add(-time.Minute), deadline)
		l[LabelPID] = strconv.Itoa(pid)
		return l
	}
	soon, past := now.Add(time.Minute), now.Add(-3*time.Minute)
	for _, c := range []struct {
		name   string
		labels map[string]string
		owner  string
		left   bool
	}{
		{"mine, its process gone", labels("me", deadPID, soon), "me", true},
		{"mine, from this pid before this process began (a restarted container)", labels("me", os.Getpid(), soon), "me", true},
		{"mine, from this process (a job running now)", func() map[string]string {
			l := GradingLabels("me", "s2", time.Now(), time.Now().Add(time.Minute))
			return l
		}(), "me", false},
		{"mine, its process alive (another grader of the same owner)", labels("me", livePID, soon), "me", false},
		{"mine, no pid label", func() map[string]string { l := labels("me", 0, soon); delete(l, LabelPID); return l }(), "me", false},
		{"another owner's, process gone, deadline ahead", labels("you", deadPID, soon), "me", false},
		{"another owner's, deadline a minute past (within the margin)", labels("you", livePID, now.Add(-time.Minute)), "me", false},
		{"another owner's, deadline long past", labels("you", livePID, past), "me", true},
		{"another owner's, no deadline", labels("you", deadPID, time.Time{}), "me", false},
		{"no owner given: only deadlines count", labels("", deadPID, soon), "", false},
		{"not a grading container", map[string]string{LabelOwner: "me", LabelPID: strconv.Itoa(deadPID), LabelDeadline: past.Format(time.RFC3339)}, "me", false},
		{"another role", func() map[string]string { l := labels("me", deadPID, past); l[LabelRole] = "web"; return l }(), "me", false},
	} {
		why := leftover(c.labels, c.owner, 2*time.Minute, now, alive)
		if (why != "") != c.left {
			t.Errorf("%s: leftover %q, want left over %v", c.name, why, c.left)
		}
	}
}
