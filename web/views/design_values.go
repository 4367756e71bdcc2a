package views

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// designValue shows a design's value as a person reads it: numbers with
// thousands separators and at most three decimals, then the field's unit;
// yes or no for a switch.
func designValue(v any, unit string) string {
	var s string
	switch x := v.(type) {
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case float64:
		s = groupedNumber(x)
	case float32:
		s = groupedNumber(float64(x))
	case int:
		s = groupedNumber(float64(x))
	case int64:
		s = groupedNumber(float64(x))
	default:
		return fmt.Sprint(v)
	}
	if unit != "" {
		s += " " + unit
	}
	return s
}

// groupedNumber writes 1234567.891 as "1,234,567.891" and 0.5 as "0.5".
func groupedNumber(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(math.Round(f*1000)/1000, 'f', -1, 64)
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if frac != "" {
		b.WriteString("." + frac)
	}
	return sign + b.String()
}
