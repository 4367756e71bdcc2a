package labs

import "testing"

func TestNumbersForLearners(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Thousands(0), "0"}, {Thousands(999), "999"}, {Thousands(1000), "1,000"},
		{Thousands(1112446), "1,112,446"}, {Thousands(-12345), "-12,345"}, {Thousands(int64(3844)), "3,844"},
		{Millis(0), "under 0.01 ms"}, {Millis(0.004), "under 0.01 ms"}, {Millis(0.4219), "0.42 ms"},
		{Millis(12.54), "12.5 ms"}, {Millis(1249.6), "1,250 ms"},
		{Rate(2.46), "2.5"}, {Rate(1112445.7), "1,112,446"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
