package labs

import (
	"strconv"
)

// Thousands writes n with a comma between thousands: 3,844.
func Thousands[T ~int | ~int64 | ~uint64](n T) string {
	if n < 0 {
		return "-" + Thousands(-n)
	}
	s := strconv.FormatUint(uint64(n), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Millis writes a duration in milliseconds with the precision it deserves:
// "under 0.01 ms", "0.42 ms", "12.5 ms", "1,250 ms".
func Millis(ms float64) string {
	switch {
	case ms < 0.01:
		return "under 0.01 ms"
	case ms < 10:
		return strconv.FormatFloat(ms, 'f', 2, 64) + " ms"
	case ms < 100:
		return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
	}
	return Thousands(int64(ms+0.5)) + " ms"
}

// Rate writes a rate per second as a whole number with commas, or with
// one decimal below 10: "1,112,446", "2.5".
func Rate(perS float64) string {
	if perS < 10 {
		return strconv.FormatFloat(perS, 'f', 1, 64)
	}
	return Thousands(int64(perS + 0.5))
}
