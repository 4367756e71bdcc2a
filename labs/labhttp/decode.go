package labhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// MaxBody is the body size DecodeJSON reads when given no limit.
const MaxBody = 64 << 10

// DecodeJSON reads r's body, at most limit bytes (MaxBody when limit <= 0),
// as exactly one JSON object into v, a pointer to a struct. Its errors
// are *Error naming the field at fault: an empty or malformed body ("body",
// 400), too large ("body", 413), a field v does not have (that field, 400),
// or a value of the wrong type, such as "10" or 1.5 for a whole number
// (that field, 400). Ranges are the handler's to check (Invalid, 422).
func DecodeJSON(r *http.Request, v any, limit int64) error {
	if limit <= 0 {
		limit = MaxBody
	}
	if r.Body == nil {
		return BadRequest("body", "The request needs a JSON object as its body.")
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge(mbe.Limit)
		}
		return BadRequest("body", "The request body could not be read.")
	}
	if int64(len(b)) > limit {
		return tooLarge(limit)
	}
	return Unmarshal(b, v)
}

func tooLarge(limit int64) *Error {
	e := withField(http.StatusRequestEntityTooLarge, CodeInvalid, "body", "The body is larger than the %d bytes this endpoint accepts.", limit)
	return e
}

// Unmarshal is DecodeJSON for a body already read.
func Unmarshal(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return BadRequest("body", "The request needs a JSON object as its body.")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return BadRequest("body", "The body must be one JSON object with nothing after it.")
	}
	return nil
}

// decodeError names the field a json error is about.
func decodeError(err error) *Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return BadRequest("body", "The body must be a JSON object.")
		}
		return BadRequest(te.Field, "%s must be %s, not %s.", te.Field, kindOf(te.Type.Kind().String()), valueOf(te.Value))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		field, err := strconv.Unquote(name)
		if err != nil {
			field = strings.Trim(name, `"`)
		}
		msg := strconv.Quote(field) + " is not a field of this request."
		if field == "" {
			field = "body"
		}
		return BadRequest(field, "%s", msg)
	}
	return BadRequest("body", "The body is not valid JSON: %s.", strings.TrimPrefix(err.Error(), "json: "))
}

// valueOf names what a json type error found: "a string", or the number.
func valueOf(v string) string {
	if n, ok := strings.CutPrefix(v, "number "); ok {
		return n
	}
	switch v {
	case "array":
		return "a list"
	case "object":
		return "an object"
	case "bool":
		return "true or false"
	}
	return "a " + v
}

// kindOf names a Go kind as a learner would.
func kindOf(kind string) string {
	switch kind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "a whole number"
	case "float32", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "string":
		return "a string"
	case "slice", "array":
		return "a list"
	}
	return "an object"
}

// Query parses r's query string strictly: a malformed one is a 400 naming
// "query" (url.Values.Get would drop the bad part silently).
func Query(r *http.Request) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, BadRequest("query", "The query string could not be read: %s.", strings.TrimPrefix(err.Error(), "invalid URL escape "))
	}
	return q, nil
}

// QueryInt reads the whole number q[name]: def when absent or empty, a 400
// naming it when the whole value is not a whole number ("10abc" is not
// 10), a 422 when it is outside [lo, hi].
func QueryInt(q url.Values, name string, def, lo, hi int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, BadRequest(name, "%s must be a whole number, not %q.", name, clip(s, 40))
	}
	if n < int64(lo) || n > int64(hi) {
		return 0, Invalid(name, "%s must be from %d to %d (got %d).", name, lo, hi, n)
	}
	return int(n), nil
}

// QueryFloat reads the number q[name] as QueryInt does; NaN and infinities
// are refused.
func QueryFloat(q url.Values, name string, def, lo, hi float64) (float64, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, BadRequest(name, "%s must be a number, not %q.", name, clip(s, 40))
	}
	if f < lo || f > hi {
		return 0, Invalid(name, "%s must be from %g to %g (got %g).", name, lo, hi, f)
	}
	return f, nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
