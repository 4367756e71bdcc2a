package shortener

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// clickRun is what the click traffic and the crash saw.
type clickRun struct {
	sent        int64
	counted     int64 // after the crash: in process, Redis and the database
	lostByCrash int64 // what POST crash said it lost
	peak        int64 // the most clicks held in process at once
	pushes      int64 // pushes to Redis during the 3 s
	design      labs.Design
}

// runClicks sends the viral link 20 redirects per 10 ms step for 3 s,
// reading after each step how many clicks are held in process only; then
// it goes on until they are as many as the most seen (the moment a crash
// loses most) and crashes the process there.
func runClicks(ctx context.Context, t *labs.Trial) (*clickRun, error) {
	tg, tl, err := start(ctx, t)
	if err != nil {
		return nil, err
	}
	c, rep, err := create(ctx, tg, map[string]any{"url": "https://viral.example.org/clicked"})
	if err != nil {
		return nil, err
	}
	if rep.Status != http.StatusCreated {
		return nil, routeErr("POST shorten for the viral link", rep)
	}
	run := &clickRun{design: tg.Design()}
	t0 := tl.Now()
	held := int64(0)
	// A push interval is at most 10 s: 1,000 steps more find its peak.
	for step := 0; step < clickSteps || (held < run.peak && step < clickSteps+1000); step++ {
		if err := tl.AdvanceTo(ctx, t0.Add(time.Duration(step+1)*viralStep)); err != nil {
			return nil, err
		}
		for range viralPerStep {
			if _, err := follow(ctx, tg, c.Code, ""); err != nil {
				return nil, err
			}
			run.sent++
		}
		st, err := labs.CallJSON[ClickState](ctx, tg, http.MethodGet, "/clicks", nil, http.StatusOK)
		if err != nil {
			return nil, err
		}
		held = st.InProcess
		run.peak = max(run.peak, held)
		if step == clickSteps-1 {
			run.pushes = st.Pushes
		}
	}
	crash, err := labs.CallJSON[CrashReport](ctx, tg, http.MethodPost, "/crash", nil, http.StatusOK)
	if err != nil {
		return nil, err
	}
	run.lostByCrash = crash.ClicksLost
	info, err := labs.CallJSON[LinkInfo](ctx, tg, http.MethodGet, "/links/"+url.PathEscape(c.Code), nil, http.StatusOK)
	if err != nil {
		return nil, err
	}
	if info.Clicks != nil {
		run.counted = info.Clicks.Total
	}
	return run, nil
}

// checkClicksKept: a crash at its worst moment loses few clicks, and none
// is counted twice.
func checkClicksKept(ctx context.Context, t *labs.Trial) labs.Outcome {
	run, err := runClicks(ctx, t)
	if err != nil {
		return outcomeOf(err)
	}
	lost := run.sent - run.counted
	msg := fmt.Sprintf("%s clicks were sent and the process crashed when it held the most clicks not yet in Redis (%d); afterwards %s were counted, so %d were lost; at most %d (2%%) may be.",
		labs.Thousands(int(run.sent)), run.peak, labs.Thousands(int(run.counted)), lost, maxLostClicks)
	switch {
	case run.counted > run.sent:
		return labs.Fail("%s clicks were sent but %s counted: some were counted twice.", labs.Thousands(int(run.sent)), labs.Thousands(int(run.counted)))
	case lost <= maxLostClicks:
		return labs.Pass("%s", msg)
	case run.design != nil && !run.design.Bool("analytics"):
		return labs.Fail("With analytics off the redirects answer 301, which browsers keep for good, and no click is counted: %s", msg)
	case run.design != nil:
		return labs.Fail("%s With click_push_ms %d the process holds up to %d ms of clicks (%d at 2,000 a second) between pushes, and a crash loses them all.",
			msg, run.design.Int("click_push_ms"), run.design.Int("click_push_ms"), run.peak)
	}
	return labs.Fail("%s", msg)
}

// checkClickWrites: counting clicks costs Redis few writes.
func checkClickWrites(ctx context.Context, t *labs.Trial) labs.Outcome {
	run, err := runClicks(ctx, t)
	if err != nil {
		return outcomeOf(err)
	}
	secs := float64(clickSteps) * viralStep.Seconds()
	rate := float64(run.pushes) / secs
	msg := fmt.Sprintf("Counting %s clicks in %.0f s took %d writes to Redis, %.0f a second; at most %d a second are allowed.",
		labs.Thousands(clickSteps*viralPerStep), secs, run.pushes, rate, maxClickWrites)
	if rate <= maxClickWrites {
		return labs.Pass("%s", msg)
	}
	if run.design != nil {
		msg += fmt.Sprintf(" click_push_ms %d pushes more often than Redis can take for one link.", run.design.Int("click_push_ms"))
	}
	return labs.Fail("%s", msg)
}
