package shortener

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The links checkExpiry makes.
const (
	expiringURL = "https://flash.example.org/sale"
	lastingURL  = "https://flash.example.org/always"
)

// expirySample is one read of the expiring link: sent at and answered at
// end, both since it was created, on the target's time (the same on the
// suite's clock, which stands still while a request is in flight).
type expirySample struct {
	at, end time.Duration
	status  int
	loc     string
}

// expiryRun is what checkExpiry saw.
type expiryRun struct {
	// created is how long the creation took: nothing on the suite's
	// clock. On real time the link's lifetime began somewhere in it.
	created time.Duration
	samples []expirySample
	// later and lasting are the expiring link and the lasting one read a
	// day later (on real time, only lasting, read at once).
	later, lasting labs.Reply
	waitedDay      bool
}

// checkExpiry creates a link with a lifetime of 1 s and one without, and
// moves the lab's clock 100 ms at a time up to 2.5 s, reading the first at
// each step, then a day on.
func checkExpiry(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, tl, err := start(ctx, t)
	if err != nil {
		return labs.Broken(err)
	}
	run, err := watchExpiry(ctx, tg, tl)
	if err != nil {
		return outcomeOf(err)
	}
	return expiryVerdict(run)
}

// watchExpiry creates the links and reads the expiring one at every step.
func watchExpiry(ctx context.Context, tg labs.Target, tl labs.Timeline) (expiryRun, error) {
	var run expiryRun
	born := tl.Now()
	short, rep, err := create(ctx, tg, map[string]any{"url": expiringURL, "ttl_s": expiryTTLS})
	if err != nil {
		return run, err
	}
	if rep.Status != http.StatusCreated {
		return run, routeErr(`POST shorten {"url": "`+expiringURL+`", "ttl_s": 1}`, rep)
	}
	run.created = tl.Now().Sub(born)
	keep, rep, err := create(ctx, tg, map[string]any{"url": lastingURL})
	if err != nil {
		return run, err
	}
	if rep.Status != http.StatusCreated && rep.Status != http.StatusOK {
		return run, routeErr(`POST shorten {"url": "`+lastingURL+`"}`, rep)
	}
	for at := time.Duration(0); at <= expiryWatch; at += expiryPoll {
		if err := tl.AdvanceTo(ctx, born.Add(at)); err != nil {
			return run, err
		}
		sent := tl.Now().Sub(born)
		r, err := follow(ctx, tg, short.Code, "")
		if err != nil {
			return run, err
		}
		run.samples = append(run.samples, expirySample{at: sent, end: tl.Now().Sub(born), status: r.Status, loc: r.Header.Get("Location")})
	}
	// A day on, every cache entry has run out on the lab's clock: the
	// answers come from the database again. On real time the check does
	// not wait a day.
	if tl.Manual() {
		if err := tl.AdvanceTo(ctx, born.Add(expiryLater)); err != nil {
			return run, err
		}
		run.waitedDay = true
		if run.later, err = follow(ctx, tg, short.Code, " a day later"); err != nil {
			return run, err
		}
	}
	run.lasting, err = follow(ctx, tg, keep.Code, " a day later")
	return run, err
}

// notGone says what a read of an expired link answered instead of 410.
func notGone(when string, status int) string {
	what := fmt.Sprintf("%s it answered %d", when, status)
	switch {
	case isRedirect(status):
		what += " and still redirected"
	case status == http.StatusNotFound:
		what += " (404 says the code never existed; 410 says it did and has expired, and that it will not come back)"
	}
	return what
}

// expiryVerdict judges every step: one answered before the lifetime ended
// must redirect, one sent after it ended must answer 410. On real time a
// step the end of the lifetime may have fallen in is not judged.
func expiryVerdict(run expiryRun) labs.Outcome {
	lifetime := expiryTTLS * time.Second
	var alive, dead, goneN int
	var wrongAlive, wrongDead []expirySample
	for _, s := range run.samples {
		switch {
		case s.end < lifetime:
			alive++
			if !isRedirect(s.status) || s.loc != expiringURL {
				wrongAlive = append(wrongAlive, s)
			}
		case s.at < lifetime+run.created:
		case s.status == http.StatusGone:
			dead++
			goneN++
		default:
			dead++
			wrongDead = append(wrongDead, s)
		}
	}
	var problems []string
	if len(wrongAlive) > 0 {
		s := wrongAlive[0]
		problems = append(problems, fmt.Sprintf("within its lifetime, %d of %d steps did not redirect to its URL: at %s ms it answered %d (Location %q)",
			len(wrongAlive), alive, labs.Thousands(s.at.Milliseconds()), s.status, s.loc))
	}
	if len(wrongDead) > 0 {
		s := wrongDead[0]
		problems = append(problems, fmt.Sprintf("after its lifetime ended at %s ms, %d of %d steps did not answer 410: %s",
			labs.Thousands(lifetime.Milliseconds()), len(wrongDead), dead, notGone(fmt.Sprintf("at %s ms", labs.Thousands(s.at.Milliseconds())), s.status)))
	}
	when := "a day later"
	if !run.waitedDay {
		when = "at the end"
	}
	if run.waitedDay && run.later.Status != http.StatusGone {
		problems = append(problems, notGone(when, run.later.Status))
	}
	if !leadsTo(run.lasting, lastingURL) {
		problems = append(problems, fmt.Sprintf("the link without ttl_s answered %d (Location %q) %s instead of redirecting to its URL",
			run.lasting.Status, run.lasting.Header.Get("Location"), when))
	}
	return expiryOutcome(run, alive, dead, goneN, problems)
}

func expiryOutcome(run expiryRun, alive, dead, goneN int, problems []string) labs.Outcome {
	seen := fmt.Sprintf("A link with ttl_s %d was read at every %d ms step of the lab's clock up to %.1f s: %d steps within its lifetime, %d from %d s on.",
		expiryTTLS, expiryPoll.Milliseconds(), expiryWatch.Seconds(), alive, dead, expiryTTLS)
	if !run.waitedDay {
		seen = fmt.Sprintf("A link with ttl_s %d was read every %d ms of real time up to %.1f s: %d reads within its lifetime, %d after it "+
			"(reads the end of its lifetime may have fallen in are not judged, and the grader does not wait a day).",
			expiryTTLS, expiryPoll.Milliseconds(), expiryWatch.Seconds(), alive, dead)
	}
	var o labs.Outcome
	switch {
	case len(problems) > 0:
		o = labs.Fail("%s %s.", seen, capitalize(strings.Join(problems, "; ")))
	case run.waitedDay:
		o = labs.Pass("%s It redirected at every step within its lifetime, answered 410 Gone at all %d steps after it and again a day later; "+
			"the link without a lifetime still redirected a day later (%d).", seen, goneN, run.lasting.Status)
	default:
		o = labs.Pass("%s It redirected at every read within its lifetime and answered 410 Gone at all %d reads after it; "+
			"the link without a lifetime still redirected (%d).", seen, goneN, run.lasting.Status)
	}
	xs := make([]float64, len(run.samples))
	ys := make([]float64, len(run.samples))
	for i, s := range run.samples {
		xs[i], ys[i] = float64(s.at.Milliseconds()), float64(s.status)
	}
	o.Chart = &labs.CheckChart{Title: "GET r/{code} of a link with ttl_s 1", XLabel: "ms on the lab's clock since the creation", YLabel: "HTTP status",
		X: xs, Series: []labs.ChartSeries{{Name: "status", Values: ys}}}
	return o
}
