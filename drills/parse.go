package drills

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxEstimateLen is the longest estimate the parser reads, in bytes.
const MaxEstimateLen = 60

// ParseError says, in a sentence for the learner, why an estimate could
// not be read.
type ParseError struct{ Msg string }

func (e *ParseError) Error() string { return e.Msg }

func bad(format string, args ...any) error {
	if len(args) == 0 {
		return &ParseError{Msg: format}
	}
	return &ParseError{Msg: sprintf(format, args...)}
}

// magnitudes are the words that multiply a number, longest first so
// "mn" is tried before "m".
var magnitudes = []struct {
	word string
	mul  float64
}{
	{"thousand", 1e3}, {"million", 1e6}, {"billion", 1e9}, {"trillion", 1e12},
	{"mn", 1e6}, {"bn", 1e9}, {"k", 1e3}, {"m", 1e6}, {"b", 1e9}, {"t", 1e12},
}

// ParseEstimate reads an estimate as a learner types it, in unit u: plain
// or grouped digits ("6944", "6,944"), a decimal point, an exponent ("7e3",
// "2×10^8", "2 x 10⁸"), a multiplier ("6.9k", "40 million", "2 bn"), and
// for data a unit that may differ from u's ("12 TB", "12000 GB", "1.5
// Gbps"). A leading "~" or "≈" is allowed. The value is returned in u.
func ParseEstimate(s string, u Unit) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, bad("Enter your estimate, like 6,944, 6.9k or 7e3.")
	}
	if len(s) > MaxEstimateLen {
		return 0, bad("That is too long for a number; write it like 6.9k or 7e3.")
	}
	if !utf8.ValidString(s) {
		return 0, bad("Write the estimate with digits, like 6,944 or 7e3.")
	}
	for _, p := range []string{"~", "≈", "about"} {
		s = strings.TrimSpace(strings.TrimPrefix(s, p))
	}
	if strings.HasPrefix(s, "-") {
		return 0, bad("An estimate cannot be negative.")
	}
	v, rest, err := scanNumber(strings.TrimPrefix(s, "+"))
	if err != nil {
		return 0, err
	}
	f, err := unitFactor(normalise(rest), u)
	if err != nil {
		return 0, err
	}
	v *= f
	if math.IsInf(v, 0) || math.IsNaN(v) || v > 1e30 {
		return 0, bad("That number is too large to be an estimate here.")
	}
	return v, nil
}

// normalise lower-cases the text after the number and drops its spaces.
func normalise(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), ""))
}

// scanNumber reads the number at the start of s, with its exponent or
// power of ten, and returns the text after it.
func scanNumber(s string) (float64, string, error) {
	i := 0
	for i < len(s) && (isDigit(s[i]) || s[i] == ',' || s[i] == '.') {
		i++
	}
	mant := s[:i]
	if strings.Trim(mant, ",.") == "" || !strings.ContainsAny(mant, "0123456789") {
		return 0, "", bad("We could not read %q as a number; start with digits, like 6,944, 6.9k or 7e3.", clip(s))
	}
	plain, err := ungroup(mant)
	if err != nil {
		return 0, "", err
	}
	rest := s[i:]
	if e, n := scanExponent(rest); n > 0 {
		plain += "e" + e
		rest = rest[n:]
	}
	v, err := strconv.ParseFloat(plain, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, "", bad("That number is too large to be an estimate here.")
	}
	if err != nil {
		return 0, "", bad("We could not read %q as a number; write it like 6,944, 6.9k or 7e3.", mant)
	}
	// "10^5", "2 × 10^8", "2x10⁸": a power of ten.
	p, n, err := scanPower(rest, plain)
	if err != nil {
		return 0, "", err
	}
	if n > 0 {
		return p(v), rest[n:], nil
	}
	return v, rest, nil
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// ungroup checks the commas of a number (groups of three, before any
// point) and removes them.
func ungroup(mant string) (string, error) {
	if strings.Count(mant, ".") > 1 {
		return "", bad("%q has more than one decimal point.", mant)
	}
	if !strings.Contains(mant, ",") {
		return mant, nil
	}
	whole, _, _ := strings.Cut(mant, ".")
	groups := strings.Split(whole, ",")
	ok := len(groups[0]) >= 1 && len(groups[0]) <= 3 && !strings.Contains(mant[len(whole):], ",")
	for _, g := range groups[1:] {
		ok = ok && len(g) == 3
	}
	if !ok {
		return "", bad("Use commas only between groups of three digits (6,944) and a point for decimals (6.9).")
	}
	return strings.ReplaceAll(mant, ",", ""), nil
}

// scanExponent reads "e5", "E+5" or "e-3" at the start of s: the exponent
// and how many bytes it took (0: none).
func scanExponent(s string) (string, int) {
	if len(s) < 2 || (s[0] != 'e' && s[0] != 'E') {
		return "", 0
	}
	j := 1
	if s[j] == '+' || s[j] == '-' {
		j++
	}
	k := j
	for k < len(s) && isDigit(s[k]) && k-j < 4 {
		k++
	}
	if k == j {
		return "", 0
	}
	return s[1:k], k
}

// superscripts are the digits of a written power (10⁵).
var superscripts = map[rune]byte{'⁰': '0', '¹': '1', '²': '2', '³': '3', '⁴': '4', '⁵': '5', '⁶': '6', '⁷': '7', '⁸': '8', '⁹': '9', '⁻': '-'}

// scanPower reads a power of ten after a number: "^5" when the number was
// 10 itself, or "× 10^8" / "x10⁸" / "*10^8" after any number. It returns
// how to apply it and how many bytes it took (0: none).
func scanPower(rest, number string) (func(float64) float64, int, error) {
	t := strings.TrimLeft(rest, " ")
	skipped := len(rest) - len(t)
	if number == "10" {
		if e, n, ok := scanPowerDigits(t); ok {
			return func(float64) float64 { return math.Pow(10, e) }, skipped + n, nil
		}
	}
	for _, times := range []string{"×", "x", "X", "*", "·"} {
		if !strings.HasPrefix(t, times) {
			continue
		}
		u := strings.TrimLeft(t[len(times):], " ")
		if !strings.HasPrefix(u, "10") && (times == "x" || times == "X") {
			return nil, 0, nil // not a multiplication: a unit, perhaps
		}
		if !strings.HasPrefix(u, "10") {
			return nil, 0, bad("After %q write a power of ten, like 2 × 10^8.", times)
		}
		e, n, ok := scanPowerDigits(u[2:])
		if !ok {
			return nil, 0, bad("Write the power of ten like 10^8.")
		}
		took := skipped + (len(t) - len(u)) + 2 + n
		return func(v float64) float64 { return v * math.Pow(10, e) }, took, nil
	}
	return nil, 0, nil
}

// scanPowerDigits reads "^8", "^-3" or "⁸" and returns the exponent.
func scanPowerDigits(s string) (float64, int, bool) {
	var digits []byte
	n := 0
	if strings.HasPrefix(s, "^") {
		n = 1
		for n < len(s) && (isDigit(s[n]) || (n == 1 && s[n] == '-')) {
			digits = append(digits, s[n])
			n++
		}
	} else {
		for n < len(s) {
			r, size := utf8.DecodeRuneInString(s[n:])
			d, ok := superscripts[r]
			if !ok {
				break
			}
			digits = append(digits, d)
			n += size
		}
	}
	if len(digits) == 0 || len(digits) > 3 {
		return 0, 0, false
	}
	e, err := strconv.Atoi(string(digits))
	if err != nil {
		return 0, 0, false
	}
	return float64(e), n, true
}

// unitFactor turns the text after the number (normalised) into the
// factor that brings the number into u: a multiplier, a unit, or both.
func unitFactor(rest string, u Unit) (float64, error) {
	if f, ok, err := unitOnly(rest, u); ok {
		return f, err
	}
	for _, m := range magnitudes {
		if m.word == "b" && u.Bytes > 0 {
			continue // "12 b" of data is bytes, not billions
		}
		after, found := strings.CutPrefix(rest, m.word)
		if !found {
			continue
		}
		if f, ok, err := unitOnly(after, u); ok {
			return m.mul * f, err
		}
	}
	return 0, bad("%s", unknownUnit(rest, u))
}

// unitOnly reads rest as a unit alone (or nothing): its factor, an error
// for a unit that does not fit u, and whether rest was a unit at all.
func unitOnly(rest string, u Unit) (float64, bool, error) {
	if rest == "" {
		return 1, true, nil
	}
	if u.Bytes > 0 {
		bytes, rate, ok := dataUnit(rest)
		if !ok {
			return 0, false, nil
		}
		if rate && !u.Rate {
			return 0, true, bad("This asks for an amount of data in %s, not a rate.", u.Symbol)
		}
		return bytes / u.Bytes, true, nil
	}
	for _, w := range append([]string{normalise(u.Symbol)}, u.Words...) {
		if rest == w {
			return 1, true, nil
		}
	}
	return 0, false, nil
}

// dataPrefixes are the decimal prefixes of data units.
var dataPrefixes = map[string]float64{"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "p": 1e15}

// dataUnit reads a unit of data ("tb", "mb/s", "gbps", "gbit/s"): the
// bytes one of it is and whether it is per second.
func dataUnit(s string) (bytes float64, rate, ok bool) {
	bits := false
	for _, suf := range []struct {
		text       string
		bits, rate bool
	}{
		{"bps", true, true}, {"bits/s", true, true}, {"bit/s", true, true}, {"bytes/s", false, true},
		{"byte/s", false, true}, {"b/s", false, true}, {"bits", true, false}, {"bit", true, false},
		{"bytes", false, false}, {"byte", false, false}, {"b", false, false},
	} {
		if p, found := strings.CutSuffix(s, suf.text); found {
			s, bits, rate = p, suf.bits, suf.rate
			ok = true
			break
		}
	}
	if !ok {
		return 0, false, false
	}
	mul, known := dataPrefixes[s]
	if !known {
		return 0, false, false
	}
	if bits {
		mul /= 8
	}
	return mul, rate, true
}

// unknownUnit is the sentence for text after a number that is neither a
// multiplier nor a unit that fits.
func unknownUnit(rest string, u Unit) string {
	switch {
	case u.Bytes > 0 && u.Rate:
		return sprintf("We could not read %q after the number; answer in %s (MB/s, GB/s and Gbps work too).", clip(rest), u.Symbol)
	case u.Bytes > 0:
		return sprintf("We could not read %q after the number; answer in %s (GB, TB and PB work too).", clip(rest), u.Symbol)
	}
	return sprintf("We could not read %q after the number; answer in %s, like 6,944, 6.9k or 7e3.", clip(rest), u.Symbol)
}

// clip shortens text quoted back to the learner.
func clip(s string) string {
	if len(s) > 12 {
		for i := 12; i > 0; i-- {
			if utf8.RuneStart(s[i]) {
				return s[:i] + "…"
			}
		}
	}
	return s
}

// IsParseError reports whether err is a parse error (a learner's slip).
func IsParseError(err error) bool {
	var pe *ParseError
	return errors.As(err, &pe)
}
