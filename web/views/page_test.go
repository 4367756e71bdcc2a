package views

import "testing"

func TestBadgeText(t *testing.T) {
	for n, want := range map[int]string{1: "1", 99: "99", 100: "99+", 5000: "99+"} {
		if got := badgeText(n); got != want {
			t.Errorf("badgeText(%d) = %q, want %q", n, got, want)
		}
	}
}
