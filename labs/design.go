package labs

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Field types.
const (
	Int   = "int"
	Float = "float"
	Bool  = "bool"
	Enum  = "enum"
)

// Field is one knob of a design.
type Field struct {
	Name    string   `json:"name"`
	Label   string   `json:"label"`
	Type    string   `json:"type"`
	Default any      `json:"default"`
	Min     *float64 `json:"min,omitempty"`
	Max     *float64 `json:"max,omitempty"`
	Options []string `json:"options,omitempty"`
	Unit    string   `json:"unit,omitempty"`
	Help    string   `json:"help"`
}

// Range returns a pointer pair for Field.Min and Field.Max.
func Range(lo, hi float64) (*float64, *float64) { return &lo, &hi }

// Design is a validated design: every field present with its Go type
// (int, float64, bool or string).
type Design map[string]any

// Int returns an int field.
func (d Design) Int(name string) int { v, _ := d[name].(int); return v }

// Float returns a float field.
func (d Design) Float(name string) float64 { v, _ := d[name].(float64); return v }

// Bool returns a bool field.
func (d Design) Bool(name string) bool { v, _ := d[name].(bool); return v }

// String returns an enum field.
func (d Design) String(name string) string { v, _ := d[name].(string); return v }

// FieldErrors maps a field name to what is wrong with it.
type FieldErrors map[string]string

// maxDesignBytes bounds a design's JSON.
const maxDesignBytes = 16 << 10

// ParseDesign decodes a design from JSON and validates it against fields:
// unknown fields, wrong types and out-of-range values are named; missing
// fields take their defaults. It never panics on any input.
func ParseDesign(l Lab, raw []byte) (Design, FieldErrors) {
	if len(raw) > maxDesignBytes {
		return nil, FieldErrors{"design": "The design is too large."}
	}
	m := map[string]any{}
	if len(strings.TrimSpace(string(raw))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return nil, FieldErrors{"design": "The design must be a JSON object: " + err.Error()}
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, FieldErrors{"design": "The design must be one JSON object with nothing after it."}
		}
	}
	return Validate(l, m)
}

// Validate checks raw values, typed as JSON decodes them (with UseNumber)
// or as Go holds them, against the lab's fields and rules: a number field
// takes a number, never a string ("10abc" or "10" alike); a form's strings
// go through FormValues first.
func Validate(l Lab, raw map[string]any) (Design, FieldErrors) {
	fields := l.Fields()
	errs := FieldErrors{}
	known := map[string]bool{}
	d := Design{}
	for _, f := range fields {
		known[f.Name] = true
		v, ok := raw[f.Name]
		if !ok || v == nil || v == "" {
			d[f.Name] = f.Default
			continue
		}
		val, msg := coerce(f, v)
		if msg != "" {
			errs[f.Name] = msg
			continue
		}
		d[f.Name] = val
	}
	for k := range raw {
		if !known[k] {
			errs[k] = "Unknown field; this lab's fields are " + names(fields) + "."
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	for k, v := range l.Check(d) {
		errs[k] = v
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return d, nil
}

func names(fs []Field) string {
	var n []string
	for _, f := range fs {
		n = append(n, f.Name)
	}
	return strings.Join(n, ", ")
}

func coerce(f Field, v any) (any, string) {
	switch f.Type {
	case Bool:
		if x, ok := v.(bool); ok {
			return x, ""
		}
		return nil, "Must be true or false (a JSON boolean, not in quotes)."
	case Enum:
		s, ok := v.(string)
		if !ok || !slices.Contains(f.Options, s) {
			return nil, "Must be one of " + strings.Join(f.Options, ", ") + "."
		}
		return s, ""
	case Int, Float:
		var n float64
		switch x := v.(type) {
		case json.Number:
			var err error
			if n, err = x.Float64(); err != nil {
				return nil, "Must be a number."
			}
		case float64:
			n = x
		case int:
			n = float64(x)
		default:
			return nil, "Must be a number (a JSON number, not in quotes)."
		}
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return nil, "Must be a finite number."
		}
		if f.Type == Int && n != math.Trunc(n) {
			return nil, "Must be a whole number."
		}
		if f.Min != nil && n < *f.Min {
			return nil, fmt.Sprintf("Must be at least %g.", *f.Min)
		}
		if f.Max != nil && n > *f.Max {
			return nil, fmt.Sprintf("Must be at most %g.", *f.Max)
		}
		if f.Type == Int {
			return int(n), ""
		}
		return n, ""
	}
	return nil, "Unsupported field type."
}

// FormValues reads a form's fields for Validate: get returns a field's
// value ("" when it is absent). Numbers are parsed whole, so "10abc" is an
// error, not 10; a yes/no field takes true/false (or on/off, yes/no, 1/0);
// empty fields are left out, so they take their defaults.
func FormValues(l Lab, get func(name string) string) (map[string]any, FieldErrors) {
	raw, errs := map[string]any{}, FieldErrors{}
	for _, f := range l.Fields() {
		v := strings.TrimSpace(get(f.Name))
		switch {
		case v == "":
		case f.Type == Bool:
			b, ok := formBool(v)
			if !ok {
				errs[f.Name] = "Must be true or false."
				continue
			}
			raw[f.Name] = b
		case f.Type == Int || f.Type == Float:
			n, err := strconv.ParseFloat(v, 64)
			if err != nil || strings.Trim(v, "0123456789+-.eE") != "" {
				errs[f.Name] = "Must be a number."
				continue
			}
			raw[f.Name] = n
		default:
			raw[f.Name] = v
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return raw, nil
}

// formBool reads a yes/no field.
func formBool(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "true", "on", "1", "yes":
		return true, true
	case "false", "off", "0", "no":
		return false, true
	}
	return false, false
}
