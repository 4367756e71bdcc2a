package labs

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

// TestNumbersAreWholeValues: JSON takes numbers only as JSON numbers, and
// a form's number is its whole value: "10abc" is never 10.
func TestNumbersAreWholeValues(t *testing.T) {
	l := echoLab{}
	for _, body := range []string{`{"n": "10abc"}`, `{"n": "4"}`, `{"n": " 4"}`, `{"rate": "0.5"}`, `{"rate": "0.5x"}`,
		`{"n": "4e0"}`, `{"flag": "true"}`, `{"flag": 1}`, `{"n": true}`, `{"n": [4]}`, `{"n": {"v": 4}}`} {
		_, errs := ParseDesign(l, []byte(body))
		field := body[2 : strings.Index(body[2:], `"`)+2]
		if errs[field] == "" {
			t.Errorf("%s: errors %v, want one naming %s", body, errs, field)
		}
	}
	form := func(vals map[string]string) (Design, FieldErrors) {
		raw, errs := FormValues(l, func(k string) string { return vals[k] })
		if len(errs) > 0 {
			return nil, errs
		}
		return Validate(l, raw)
	}
	for _, v := range []string{"10abc", "4 4", "0x4", "4_0", "NaN", "Inf", "4e", "--4", "4\x00", "٤", "four"} {
		if _, errs := form(map[string]string{"n": v}); errs["n"] == "" {
			t.Errorf("form n=%q accepted", v)
		}
	}
	for _, v := range []string{"yes please", "2", "truee"} {
		if _, errs := form(map[string]string{"flag": v}); errs["flag"] == "" {
			t.Errorf("form flag=%q accepted", v)
		}
	}
	d, errs := form(map[string]string{"n": " 7 ", "rate": "2.5e-1", "flag": "true", "mode": "b"})
	if len(errs) != 1 || errs["n"] == "" { // mode b allows at most 5: the lab's own rule still applies
		t.Errorf("a form over the lab's rule: %v %v", d, errs)
	}
	d, errs = form(map[string]string{"n": " 5 ", "rate": "2.5e-1", "flag": "false", "mode": "b"})
	if len(errs) > 0 || d.Int("n") != 5 || d.Float("rate") != 0.25 || d.Bool("flag") || d.String("mode") != "b" {
		t.Errorf("a good form: %v %v", d, errs)
	}
	if d, errs := form(nil); len(errs) > 0 || d.Int("n") != 3 {
		t.Errorf("an empty form takes the defaults: %v %v", d, errs)
	}
}

// FuzzFormValues: any form value for a number field either is refused with
// a message naming the field or is exactly the number its whole text says.
func FuzzFormValues(f *testing.F) {
	for _, s := range []string{"3", "10abc", " 7 ", "1e1", "0x1p3", "NaN", "-0", "5.0", "", "on", "\xff"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, n, flag string) {
		raw, errs := FormValues(echoLab{}, func(k string) string { return map[string]string{"n": n, "rate": n, "flag": flag}[k] })
		if len(errs) > 0 {
			for k, msg := range errs {
				if msg == "" || (k != "n" && k != "rate" && k != "flag") {
					t.Fatalf("refusal %q: %q", k, msg)
				}
			}
			return
		}
		if strings.TrimSpace(n) != "" {
			want, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
			if err != nil || raw["n"] != want {
				t.Fatalf("n=%q read as %v (ParseFloat: %v, %v)", n, raw["n"], want, err)
			}
		}
		d, verrs := Validate(echoLab{}, raw)
		if len(verrs) > 0 {
			return
		}
		if x := d.Int("n"); x < 1 || x > 10 {
			t.Fatalf("accepted n=%d from %q", x, n)
		}
		if r := d.Float("rate"); r < 0 || r > 1 || math.IsNaN(r) {
			t.Fatalf("accepted rate=%v from %q", r, n)
		}
	})
}
