package breaker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"

	"github.com/sdworkbook/workbook/labs"
)

// settingsExample is a PUT downstream body, for messages.
const settingsExample = `{"error_rate": 0.5, "latency_ms": 20, "latency": "uniform", "outage": false}`

// updateFields read each field of a PUT downstream body into a
// SettingsUpdate, or say what is wrong with its value.
var updateFields = map[string]func(v json.RawMessage, u *SettingsUpdate) string{
	"error_rate": func(v json.RawMessage, u *SettingsUpdate) string {
		var f float64
		if json.Unmarshal(v, &f) != nil {
			return "Must be a number between 0 and 1."
		}
		u.ErrorRate = &f
		return ""
	},
	"latency_ms": func(v json.RawMessage, u *SettingsUpdate) string {
		var f float64
		if json.Unmarshal(v, &f) != nil || f != math.Trunc(f) || f < 0 || f > MaxLatencyMS {
			// Range checked here too: a huge number does not fit an int.
			return fmt.Sprintf("Must be a whole number of milliseconds between 0 and %d.", MaxLatencyMS)
		}
		n := int(f)
		u.LatencyMS = &n
		return ""
	},
	"capacity": func(v json.RawMessage, u *SettingsUpdate) string {
		n, ok := wholeIn(v, MaxCapacity)
		if !ok {
			return fmt.Sprintf("Must be a whole number of calls between 0 (no limit) and %d.", MaxCapacity)
		}
		u.Capacity = &n
		return ""
	},
	"error_burst": func(v json.RawMessage, u *SettingsUpdate) string {
		n, ok := wholeIn(v, MaxErrorBurst)
		if !ok {
			return fmt.Sprintf("Must be a whole number of calls between 0 (independent errors) and %d.", MaxErrorBurst)
		}
		u.ErrorBurst = &n
		return ""
	},
	"queue": func(v json.RawMessage, u *SettingsUpdate) string {
		n, ok := wholeIn(v, MaxQueue)
		if !ok {
			return fmt.Sprintf("Must be a whole number of calls between 0 and %d.", MaxQueue)
		}
		u.Queue = &n
		return ""
	},
	"latency": func(v json.RawMessage, u *SettingsUpdate) string {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "Must be one of fixed, uniform, long_tail."
		}
		u.Latency = &s
		return ""
	},
	"outage": func(v json.RawMessage, u *SettingsUpdate) string {
		var b bool
		if json.Unmarshal(v, &b) != nil {
			return "Must be true or false."
		}
		u.Outage = &b
		return ""
	},
}

// wholeIn reads a whole number between 0 and hi.
func wholeIn(v json.RawMessage, hi float64) (int, bool) {
	var f float64
	if json.Unmarshal(v, &f) != nil || f != math.Trunc(f) || f < 0 || f > hi {
		return 0, false
	}
	return int(f), true
}

// parseUpdate reads a partial settings update from a JSON object's
// fields. Fields of the wrong type, null or unknown are named in errs
// (never nil); ranges are checked by SettingsUpdate.Validate.
func parseUpdate(raw map[string]json.RawMessage) (u SettingsUpdate, errs labs.FieldErrors) {
	errs = labs.FieldErrors{}
	for k, v := range raw {
		read, ok := updateFields[k]
		switch {
		case !ok:
			errs[k] = "Unknown field; the downstream's settings are error_rate, latency_ms, latency, outage, error_burst, capacity and queue."
		case bytes.Equal(bytes.TrimSpace(v), []byte("null")):
			errs[k] = "Must not be null; leave the field out to keep its value."
		default:
			if msg := read(v, &u); msg != "" {
				errs[k] = msg
			}
		}
	}
	return u, errs
}
