package drills

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// Num writes a number as a person would: grouped digits from 100 up
// ("6,944"), at most three significant digits below ("12.5", "0.35").
func Num(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "—"
	}
	if math.Abs(x) >= 100 {
		return group(strconv.FormatFloat(math.Round(x), 'f', 0, 64))
	}
	return strconv.FormatFloat(roundSig(x, 3), 'f', -1, 64)
}

// roundSig rounds x to n significant digits.
func roundSig(x float64, n int) float64 {
	if x == 0 {
		return 0
	}
	p := math.Pow(10, float64(n)-math.Ceil(math.Log10(math.Abs(x))))
	return math.Round(x*p) / p
}

// group puts commas between groups of three digits.
func group(digits string) string {
	neg := strings.HasPrefix(digits, "-")
	digits = strings.TrimPrefix(digits, "-")
	var b strings.Builder
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Count writes a large count in words: "40 million", "2.5 billion".
func Count(x float64) string {
	switch {
	case x >= 1e12:
		return Num(x/1e12) + " trillion"
	case x >= 1e9:
		return Num(x/1e9) + " billion"
	case x >= 1e6:
		return Num(x/1e6) + " million"
	}
	return Num(x)
}

var superDigits = []rune("⁰¹²³⁴⁵⁶⁷⁸⁹")

// Sci writes x as a power of ten with a short mantissa: "2.3×10⁸", "10⁵".
func Sci(x float64) string {
	if x <= 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return Num(x)
	}
	e := math.Floor(math.Log10(x))
	m := roundSig(x/math.Pow(10, e), 2)
	if m >= 10 {
		m, e = m/10, e+1
	}
	if m == 1 {
		return "10" + sup(int(e))
	}
	return strconv.FormatFloat(m, 'f', -1, 64) + "×10" + sup(int(e))
}

// sup writes an exponent in superscript digits.
func sup(n int) string {
	var b strings.Builder
	for _, d := range strconv.Itoa(n) {
		if d == '-' {
			b.WriteRune('⁻')
			continue
		}
		b.WriteRune(superDigits[d-'0'])
	}
	return b.String()
}

// Bytes writes an amount of data in the largest decimal unit that keeps
// it at 1 or more: "2 KB", "1.5 MB", "3.2 TB".
func Bytes(x float64) string {
	units := []string{"B", "KB", "MB", "GB", "TB", "PB", "EB"}
	i := 0
	for i < len(units)-1 && x >= 1000 {
		x /= 1000
		i++
	}
	return Num(x) + " " + units[i]
}

// In writes a value in a unit: "6,944 requests/s", "12.5 TB".
func In(v float64, u Unit) string {
	if u.Bytes == 0 && v >= 1e6 {
		return Count(v) + " " + u.Symbol
	}
	return Num(v) + " " + u.Symbol
}
