package drills

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestParseEstimate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		u    Unit
		want float64
	}{
		{"6944", unitRequests, 6944},
		{"6,944", unitRequests, 6944},
		{"1,000,000", unitRequests, 1e6},
		{"6.9k", unitRequests, 6900},
		{"6.9 K", unitRequests, 6900},
		{"7e3", unitRequests, 7000},
		{"7E+3 req/s", unitRequests, 7000},
		{"~7000 rps", unitRequests, 7000},
		{"≈ 7,000 requests/s", unitRequests, 7000},
		{"2×10^8", unitRequests, 2e8},
		{"2 x 10⁸", unitRequests, 2e8},
		{"10^5", unitRequests, 1e5},
		{"10⁵", unitRequests, 1e5},
		{"40 million", unitMessages, 40e6},
		{"2.5bn", unitLinks, 2.5e9},
		{"2.5 B", unitLinks, 2.5e9},
		{"4 servers", unitServers, 4},
		{"12 TB", unitTB, 12},
		{"12000 GB", unitTB, 12},
		{"1.2e13 bytes", unitTB, 12},
		{"0.5 PB", unitTB, 500},
		{"12", unitTB, 12},
		{"800 GB", unitGB, 800},
		{"1.157 GB/s", unitMBps, 1157},
		{"40 MB", unitMBps, 40},
		{"37 Gbps", unitGbps, 37},
		{"37 Gbit/s", unitGbps, 37},
		{"4.6 GB/s", unitGbps, 36.8},
		{"7 characters", unitChars, 7},
		{"70 min", unitMinutes, 70},
		{"0", unitMinutes, 0},
	} {
		got, err := ParseEstimate(tc.in, tc.u)
		if err != nil || math.Abs(got-tc.want) > 1e-9*tc.want {
			t.Errorf("ParseEstimate(%q, %s) = %v, %v; want %v", tc.in, tc.u.Symbol, got, err, tc.want)
		}
	}
}

func TestParseEstimateRefuses(t *testing.T) {
	for _, tc := range []struct {
		in, u, says string
	}{
		{"", "requests/s", "Enter your estimate"},
		{"lots", "requests/s", `"lots" as a number`},
		{"-5", "requests/s", "negative"},
		{"6,94", "requests/s", "groups of three"},
		{"1.2.3", "requests/s", "more than one decimal point"},
		{"12 XB", "TB", `"xb"`},
		{"12 TB/s", "TB", "not a rate"},
		{"5 parsecs", "servers", `"parsecs"`},
		{"2 × 3", "requests/s", "power of ten"},
		{"1e400", "requests/s", "too large"},
		{strings.Repeat("9", 61), "requests/s", "too long"},
	} {
		u := map[string]Unit{"requests/s": unitRequests, "TB": unitTB, "servers": unitServers}[tc.u]
		_, err := ParseEstimate(tc.in, u)
		if err == nil || !IsParseError(err) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("ParseEstimate(%q) error %v, want one saying %q", tc.in, err, tc.says)
		}
	}
}

// FuzzParseEstimate: whatever is typed, the parser answers a finite,
// non-negative number or a sentence; and a number it prints reads back.
func FuzzParseEstimate(f *testing.F) {
	for _, s := range []string{"6,944", "6.9k", "7e3", "12 TB", "2×10^8", "10⁵", "37 Gbps", "~5 servers", "1,5", "e5", "-1", "10^", "×"} {
		f.Add(s)
	}
	units := []Unit{unitRequests, unitTB, unitGbps, unitServers, unitChars, unitMessages}
	f.Fuzz(func(t *testing.T, s string) {
		for _, u := range units {
			v, err := ParseEstimate(s, u)
			if err != nil {
				if !IsParseError(err) || err.Error() == "" || strings.Contains(err.Error(), "strconv") {
					t.Fatalf("%q: error %q is not a sentence for the learner", s, err)
				}
				continue
			}
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				t.Fatalf("%q in %s = %v", s, u.Symbol, v)
			}
			back, err := ParseEstimate(strconv.FormatFloat(v, 'g', -1, 64), u)
			if err != nil || back != v {
				t.Fatalf("%q = %v, which reads back as %v, %v", s, v, back, err)
			}
		}
	})
}
