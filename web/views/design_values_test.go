package views

import (
	"testing"

	"github.com/sdworkbook/workbook/labs"
)

// A submitted design reads with the form's labels and units, numbers
// grouped in thousands and rounded to three decimals; fields the form does
// not know keep their name and come last.
func TestDesignRowsUseLabelsAndUnits(t *testing.T) {
	fields := []labs.Field{
		{Name: "window_ms", Label: "Window", Unit: "ms"},
		{Name: "storage", Label: "Storage"},
		{Name: "hedge", Label: "Hedged reads"},
		{Name: "ratio"},
	}
	d := labs.Design{"window_ms": 1112446.0, "storage": "redis", "hedge": true, "ratio": 0.123456, "zz_extra": -2500.5}
	want := [][2]string{
		{"Window", "1,112,446 ms"},
		{"Storage", "redis"},
		{"Hedged reads", "yes"},
		{"ratio", "0.123"},
		{"zz_extra", "-2,500.5"},
	}
	got := designRows(fields, d)
	if len(got) != len(want) {
		t.Fatalf("rows %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d = %q, want %q", i, got[i], want[i])
		}
	}
	for in, out := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 12345678: "12,345,678", 0.0004: "0", 1.5: "1.5"} {
		if g := groupedNumber(in); g != out {
			t.Errorf("groupedNumber(%v) = %q, want %q", in, g, out)
		}
	}
}
