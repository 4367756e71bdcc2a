package shortener

import (
	"fmt"
	"net/http"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

// CrashReport is the answer to POST crash.
type CrashReport struct {
	// ClicksLost are the clicks that were counted in process only.
	ClicksLost   int64  `json:"clicks_lost"`
	LocalDropped int    `json:"local_dropped"` // codes the near cache held
	Message      string `json:"message"`
}

// crash stops the redirect process as a crash would and starts the next:
// the clicks counted in process and the near cache are gone; Redis and
// the database keep what they hold.
func (in *instance) crash() CrashReport {
	var r CrashReport
	if in.local != nil {
		r.LocalDropped = in.local.len()
		in.local.clear()
	}
	if in.clicks != nil {
		r.ClicksLost = in.clicks.crash()
	}
	in.crashes.Add(1)
	switch {
	case in.clicks == nil:
		r.Message = fmt.Sprintf("The process crashed and a new one took over with an empty near cache (%d codes dropped). Clicks are not counted (analytics off).", r.LocalDropped)
	default:
		r.Message = fmt.Sprintf("The process crashed and a new one took over: %d clicks counted in process but not yet pushed to Redis were lost, "+
			"and the near cache's %d codes were dropped. Clicks already in Redis reach the database at the next flush.", r.ClicksLost, r.LocalDropped)
	}
	in.env.Metrics.Eventf("warn", "%s", r.Message)
	return r
}

func (in *instance) handleCrash(w http.ResponseWriter, r *http.Request) {
	labhttp.WriteJSON(w, http.StatusOK, in.crash())
}
