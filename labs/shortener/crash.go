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

// ClickState is the answer to GET clicks: where counting stands, read
// from memory alone (no database query), so a check can poll it often.
type ClickState struct {
	Analytics   bool  `json:"analytics"`
	PushMS      int64 `json:"click_push_ms"`
	InProcess   int64 `json:"in_process"` // what a crash now would lose
	Pushes      int64 `json:"pushes"`     // writes of clicks to Redis so far
	ToRedis     int64 `json:"to_redis"`
	ToDatabase  int64 `json:"to_database"`
	LostInCrash int64 `json:"lost_in_crashes"`
}

func (in *instance) handleClicks(w http.ResponseWriter, r *http.Request) {
	var s ClickState
	if c := in.clicks; c != nil {
		s = ClickState{Analytics: true, PushMS: in.cfg.pushEvery.Milliseconds(), InProcess: c.pendingClicks(), Pushes: c.pushes.Load(),
			ToRedis: c.toRedis.Load(), ToDatabase: c.toDB.Load(), LostInCrash: c.lost.Load()}
	}
	labhttp.WriteJSON(w, http.StatusOK, s)
}
