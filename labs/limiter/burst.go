package limiter

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labhttp"
)

const (
	burstWorkers   = 16  // decisions in flight during a burst
	burstListMax   = 200 // list every request up to this many
	burstAfter     = 5 * time.Millisecond
	burstMinLead   = 50 * time.Millisecond
	burstLeadSlack = 20 * time.Millisecond
)

// BurstReport is the body of POST boundary-burst. Times are on the
// limiter's clock (Redis TIME with redis storage), so what it counts is
// what the limiter saw.
type BurstReport struct {
	Key       string `json:"key"`
	Algorithm string `json:"algorithm"`
	Limit     int64  `json:"limit"`
	WindowMS  int64  `json:"window_ms"`
	// BoundaryMS is the window boundary the bursts straddle, Unix ms.
	BoundaryMS int64 `json:"boundary_ms"`
	// LeadMS is how long before the boundary the first burst started.
	LeadMS int64 `json:"lead_ms"`
	// TimeScale is 1, or, for a window longer than 10 s, how many times
	// faster time ran for the burst: it ran on a copy of the limiter with
	// a window of ScaledWindowMS (the same limit and burst), and every
	// time in the report but BoundaryMS is multiplied back by TimeScale.
	TimeScale      float64 `json:"time_scale"`
	ScaledWindowMS int64   `json:"scaled_window_ms,omitempty"`
	Sent           int     `json:"sent"`
	Allowed        int     `json:"allowed"`
	AllowedBefore  int     `json:"allowed_before_boundary"`
	AllowedAfter   int     `json:"allowed_after_boundary"`
	// FirstBurstLate counts first-burst requests decided after the
	// boundary: the burst did not fit in the lead time.
	FirstBurstLate int `json:"first_burst_late"`
	// SpanMS is the time from the first to the last admitted request.
	SpanMS          int64          `json:"span_ms"`
	WithinOneWindow bool           `json:"within_one_window"`
	StoreErrors     int            `json:"store_errors"`
	Summary         string         `json:"summary"`
	Requests        []BurstRequest `json:"requests,omitempty"`
}

// BurstRequest is one request of a boundary burst.
type BurstRequest struct {
	Burst   int   `json:"burst"`   // 1 before the boundary, 2 after
	AtMS    int64 `json:"at_ms"`   // decision time relative to the boundary
	Allowed bool  `json:"allowed"` // admitted
	Replica int   `json:"replica"`
	Status  int   `json:"status"`
	// StoreError: the store did not decide; on_store_error did.
	StoreError bool `json:"store_error,omitempty"`
}

func (in *instance) handleBoundaryBurst(w http.ResponseWriter, r *http.Request) {
	key, err := keyOf(r, true)
	if err != nil {
		labhttp.WriteError(w, r, err)
		return
	}
	if key == "" {
		// A fresh key, so earlier requests do not blur the demonstration.
		key = "burst-" + strconv.FormatUint(in.bursts.Add(1), 10)
	}
	if in.cfg.window > maxBurstWindow && in.cfg.algorithm == TokenBucketWholeSeconds {
		e := labhttp.Invalid("window_ms", "At most %d for a boundary burst with %s; this instance has %d.", maxBurstWindow, TokenBucketWholeSeconds, in.cfg.window)
		e.Message = "A longer window's burst runs with time sped up, but this design refills in whole seconds of the real clock, which cannot be sped up with it. Try a window of 10 s or less."
		labhttp.WriteError(w, r, e)
		return
	}
	in.mu.Lock()
	switch {
	case in.closed:
		in.mu.Unlock()
		labhttp.WriteError(w, r, labhttp.Unavailable(nil, "This instance is stopping."))
		return
	case in.busy:
		in.mu.Unlock()
		labhttp.WriteError(w, r, labhttp.Conflict("", "A boundary burst is already running on this instance."))
		return
	}
	in.busy = true
	in.wg.Add(1)
	in.mu.Unlock()
	defer func() {
		in.mu.Lock()
		in.busy = false
		in.mu.Unlock()
		in.wg.Done()
	}()

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(in.ctx, cancel) // Close ends the burst
	defer stop()
	rep, err := in.boundaryBurst(ctx, key)
	if err != nil {
		labhttp.WriteError(w, r, labhttp.Unavailable(err, "The boundary burst could not run."))
		return
	}
	labhttp.WriteJSON(w, http.StatusOK, rep)
}

// burstRun is what a boundary burst decides on: the instance's own
// limiter, or, for a window longer than maxBurstWindow, a copy of it with
// time running scale times faster (the window divided by scale, the same
// limit and burst), whose times are multiplied back by scale in the
// report.
type burstRun struct {
	cfg   config
	store store
	scale float64
}

// burstOn is the limiter a boundary burst runs on; done closes what it
// opened.
func (in *instance) burstOn(ctx context.Context) (run burstRun, done func(), err error) {
	if in.cfg.window <= maxBurstWindow {
		return burstRun{cfg: in.cfg, store: in.store, scale: 1}, func() {}, nil
	}
	cfg := in.cfg
	cfg.window = in.cfg.window / ((in.cfg.window + maxBurstWindow - 1) / maxBurstWindow)
	st, err := newStore(ctx, cfg, in.env, "rlburst:", in.faults)
	if err != nil {
		return burstRun{}, nil, err
	}
	return burstRun{cfg: cfg, store: st, scale: float64(in.cfg.window) / float64(cfg.window)}, st.close, nil
}

// boundaryBurst sends limit requests for key just before a window boundary
// and limit more just after it.
func (in *instance) boundaryBurst(ctx context.Context, key string) (BurstReport, error) {
	run, done, err := in.burstOn(ctx)
	if err != nil {
		return BurstReport{}, err
	}
	defer done()
	n := int(run.cfg.limit)
	window := time.Duration(run.cfg.window) * time.Millisecond

	// Map the limiter's clock onto the local one, to sleep until a boundary.
	t0 := time.Now()
	clock, err := run.store.now(ctx)
	if err != nil {
		return BurstReport{}, err
	}
	rtt := time.Since(t0)
	local := func(ms int64) time.Time { return t0.Add(rtt/2 + time.Duration(ms-clock)*time.Millisecond) }
	// waitFor waits until the limiter's clock reads ms, plus extra.
	waitFor := func(ms int64, extra time.Duration) error {
		return labs.Sleep(ctx, nil, time.Until(local(ms).Add(extra)))
	}
	// soon reports whether the limiter's clock will read ms within d.
	soon := func(ms int64, d time.Duration) bool { return local(ms).Before(time.Now().Add(d)) }
	if c := suiteClock(in.env); c != nil {
		// A check suite's clock is read without a round trip, and moves
		// only when the suite moves it.
		rtt = 0
		waitFor = func(ms int64, extra time.Duration) error {
			return labs.Sleep(ctx, c, time.UnixMilli(ms).Add(extra).Sub(c.Now()))
		}
		soon = func(ms int64, d time.Duration) bool { return time.UnixMilli(ms).Before(c.Now().Add(d)) }
	}

	// Leave the first burst time for its requests, with room to spare: a
	// decision costs about a round trip, burstWorkers at a time.
	rounds := time.Duration((n + burstWorkers - 1) / burstWorkers)
	lead := min(max(3*rtt*rounds+burstLeadSlack, burstMinLead), window/2)
	boundary := (clock/run.cfg.window + 1) * run.cfg.window
	if soon(boundary-lead.Milliseconds(), burstLeadSlack) {
		boundary += run.cfg.window
	}

	reqs := make([]BurstRequest, 2*n)
	if err := waitFor(boundary, -lead); err != nil {
		return BurstReport{}, err
	}
	in.fire(ctx, run.store, key, 1, reqs[:n])
	// The clock mapping is only as good as the round trip that read the
	// limiter's clock: wait that much more so the second burst lands
	// after the boundary on the limiter's clock too.
	if err := waitFor(boundary, burstAfter+rtt); err != nil {
		return BurstReport{}, err
	}
	in.fire(ctx, run.store, key, 2, reqs[n:])
	if err := ctx.Err(); err != nil {
		return BurstReport{}, err
	}

	rep := in.burstReport(run, key, boundary, lead, reqs)
	if len(reqs) <= burstListMax {
		rep.Requests = reqs
	}
	in.env.Metrics.Eventf("info", "boundary burst on key %q: %s", key, rep.Summary)
	return rep, nil
}

// burstReport counts what a boundary burst let through, with times made
// relative to the boundary (and multiplied back by run's scale), and says
// it in a sentence.
func (in *instance) burstReport(run burstRun, key string, boundary int64, lead time.Duration, reqs []BurstRequest) BurstReport {
	rep := BurstReport{Key: key, Algorithm: in.cfg.algorithm, Limit: in.cfg.capacity(), WindowMS: in.cfg.window,
		BoundaryMS: boundary, LeadMS: run.real(lead.Milliseconds()), Sent: len(reqs), TimeScale: run.scale}
	if run.scale != 1 {
		rep.ScaledWindowMS = run.cfg.window
	}
	first, last, timed := int64(0), int64(0), 0
	for i := range reqs {
		q := &reqs[i]
		if q.StoreError {
			// No decision time: it passed or not by on_store_error alone.
			rep.StoreErrors++
			if q.Allowed {
				rep.Allowed++
			}
			continue
		}
		at := q.AtMS
		q.AtMS = run.real(q.AtMS - boundary)
		if q.Burst == 1 && at >= boundary {
			rep.FirstBurstLate++
		}
		if !q.Allowed {
			continue
		}
		if timed == 0 || at < first {
			first = at
		}
		if timed == 0 || at > last {
			last = at
		}
		timed++
		rep.Allowed++
		if at < boundary {
			rep.AllowedBefore++
		} else {
			rep.AllowedAfter++
		}
	}
	rep.SpanMS = run.real(last - first)
	rep.WithinOneWindow = timed > 0 && last-first < run.cfg.window
	rep.Summary = burstSummary(rep, run)
	return rep
}

// real turns a duration on run's clock into the instance's time.
func (run burstRun) real(ms int64) int64 { return int64(math.Round(float64(ms) * run.scale)) }

// burstSummary says what a boundary burst showed.
func burstSummary(rep BurstReport, run burstRun) string {
	s := fmt.Sprintf("%d of %d requests passed (%d before the boundary, %d after) within %d ms; the limit is %d per %d ms.",
		rep.Allowed, rep.Sent, rep.AllowedBefore, rep.AllowedAfter, rep.SpanMS, rep.Limit, rep.WindowMS)
	if run.scale != 1 {
		s = fmt.Sprintf("The window is longer than the %d ms a burst waits for, so this burst ran on a copy of the limiter with time running %.3g times faster (a %d ms window, the same limit and burst, keys of its own); its times are shown multiplied back. ",
			maxBurstWindow, run.scale, run.cfg.window) + s
	}
	if rep.Allowed > int(rep.Limit) && rep.WithinOneWindow {
		s += " More than the limit passed within one window's span: the boundary burst."
	}
	if rep.FirstBurstLate > 0 {
		s += fmt.Sprintf(" %d requests of the first burst were decided after the boundary; the limiter was slower than the lead time allowed.", rep.FirstBurstLate)
	}
	if rep.StoreErrors > 0 {
		s += fmt.Sprintf(" %d decisions failed in the store and followed on_store_error.", rep.StoreErrors)
	}
	return s
}

// fire makes len(out) decisions for key, burstWorkers at a time, and records
// each in out. AtMS is the limiter's clock at the decision.
func (in *instance) fire(ctx context.Context, st store, key string, burst int, out []BurstRequest) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(burstWorkers, len(out)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(out) || ctx.Err() != nil {
					return
				}
				res := in.decideOn(ctx, st, key, "")
				out[i] = BurstRequest{Burst: burst, AtMS: res.at, Allowed: res.allowed, Replica: res.replica,
					Status: res.status(in.cfg), StoreError: res.err != nil}
			}
		}()
	}
	wg.Wait()
}
