package shortener

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The Redis outage check's numbers.
const (
	// outageLinks links are created and read before Redis stops, and
	// each is read outageReads times while it is stopped, so every
	// replica behind a round-robin address is asked for it.
	outageLinks = 6
	outageReads = 2
	// outageAnswer bounds one redirect while Redis is stopped: far above
	// a database read on a busy machine, far below a client that waits
	// on Redis without a timeout (or with retries piled on one).
	outageAnswer = 10 * time.Second
	// outageUnknown is a code no link has.
	outageUnknown = "no-such-link-7"
	// outageStopAfter wrong answers while Redis is stopped have shown what
	// the service does; the rest are not read.
	outageStopAfter = 3
)

// outageURL is link i's URL.
func outageURL(i int) string { return fmt.Sprintf("https://outage.example.org/page/%d?from=cache", i) }

// outageRead is one redirect while Redis was stopped.
type outageRead struct {
	code, url string
	rep       labs.Reply
	took      time.Duration
	noAnswer  error // the service did not answer within outageAnswer
}

// outageRun is what checkRedisDown saw.
type outageRun struct {
	links        []made
	before       []time.Duration // the reads before the outage
	during       []outageRead
	unknown      *outageRead
	after        []string // problems after Redis came back
	stoppedEarly bool
}

// checkRedisDown creates links and reads them so Redis holds them, stops
// Redis, and reads them again: the database must answer for it.
func checkRedisDown(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, _, err := start(ctx, t)
	if err != nil {
		return labs.Broken(err)
	}
	if !tg.Can(labs.Faults) {
		return labs.Skip("The service under test cannot have its Redis stopped by the grader, so whether it redirects without Redis was not checked.")
	}
	run := &outageRun{}
	if err := run.arrange(ctx, tg); err != nil {
		return outcomeOf(err)
	}
	heal, err := tg.Inject(ctx, labs.Fault{Kind: labs.RedisDown})
	if err != nil {
		return labs.Broken(fmt.Errorf("stopping Redis: %w", err))
	}
	readErr := run.readDuring(ctx, tg)
	if err := heal(context.WithoutCancel(ctx)); err != nil {
		return labs.Broken(fmt.Errorf("starting Redis again: %w", err))
	}
	if readErr != nil {
		return outcomeOf(readErr)
	}
	if err := run.readAfter(ctx, tg); err != nil {
		return outcomeOf(err)
	}
	return run.verdict()
}

// arrange creates the links with POST shorten and reads each outageReads
// times, so each replica has had it from the database or Redis.
func (run *outageRun) arrange(ctx context.Context, tg labs.Target) error {
	for i := range outageLinks {
		u := outageURL(i)
		c, rep, err := create(ctx, tg, map[string]any{"url": u})
		if err != nil {
			return err
		}
		if rep.Status != http.StatusCreated && rep.Status != http.StatusOK {
			return routeErr("POST shorten for "+u, rep)
		}
		run.links = append(run.links, made{c.Code, u})
	}
	for range outageReads {
		for _, m := range run.links {
			began := time.Now()
			r, err := follow(ctx, tg, m.code, " before Redis stopped")
			if err != nil {
				return err
			}
			if !leadsTo(r, m.url) {
				return failed("Before Redis stopped, GET r/%s answered %d with Location %q; the link was made for %s.",
					m.code, r.Status, clip(r.Header.Get("Location")), m.url)
			}
			run.before = append(run.before, time.Since(began))
		}
	}
	return nil
}

// readDuring reads every link outageReads times, and an unknown code, with
// Redis stopped. A read the service does not answer within outageAnswer
// ends the reading (the next would wait as long), and so do
// outageStopAfter wrong answers.
func (run *outageRun) readDuring(ctx context.Context, tg labs.Target) error {
	wrong := 0
	for range outageReads {
		for _, m := range run.links {
			r, err := readBounded(ctx, tg, m.code)
			if err != nil {
				return err
			}
			r.url = m.url
			run.during = append(run.during, r)
			if r.noAnswer != nil || !leadsTo(r.rep, m.url) {
				wrong++
			}
			if r.noAnswer != nil || wrong >= outageStopAfter {
				run.stoppedEarly = true
				return nil
			}
		}
	}
	r, err := readBounded(ctx, tg, outageUnknown)
	if err != nil {
		return err
	}
	run.unknown = &r
	if r.noAnswer != nil {
		run.stoppedEarly = true
	}
	return nil
}

// readBounded sends GET r/{code}, giving the service outageAnswer to
// answer. Its error is the environment's (or ctx's); a service that does
// not answer in time is noAnswer.
func readBounded(ctx context.Context, tg labs.Target, code string) (outageRead, error) {
	rctx, cancel := context.WithTimeout(ctx, outageAnswer)
	defer cancel()
	began := time.Now()
	rep, err := labs.Call(rctx, tg, http.MethodGet, "/r/"+code, nil)
	r := outageRead{code: code, rep: rep, took: time.Since(began)}
	switch {
	case ctx.Err() != nil:
		return r, ctx.Err()
	case err != nil && (errors.Is(err, context.DeadlineExceeded) || rctx.Err() != nil):
		r.noAnswer = err
	case err != nil:
		return r, err
	}
	return r, nil
}

// readAfter reads every link once Redis is back.
func (run *outageRun) readAfter(ctx context.Context, tg labs.Target) error {
	for _, m := range run.links {
		r, err := readBounded(ctx, tg, m.code)
		if err != nil {
			return err
		}
		switch {
		case r.noAnswer != nil:
			run.after = append(run.after, fmt.Sprintf("GET r/%s did not answer within %d s", m.code, int(outageAnswer.Seconds())))
			return nil
		case !leadsTo(r.rep, m.url):
			run.after = append(run.after, fmt.Sprintf("GET r/%s answered %d with Location %q", m.code, r.rep.Status, clip(r.rep.Header.Get("Location"))))
		}
	}
	return nil
}

// problems lists what went wrong while Redis was stopped.
func (run *outageRun) problems() []string {
	var out []string
	for _, r := range run.during {
		switch {
		case r.noAnswer != nil:
			out = append(out, fmt.Sprintf("GET r/%s did not answer within %d s (a Redis client without a timeout waits as long as Redis is away)",
				r.code, int(outageAnswer.Seconds())))
		case !leadsTo(r.rep, r.url):
			out = append(out, fmt.Sprintf("GET r/%s answered %d%s", r.code, r.rep.Status, answered(r.rep, r.url)))
		}
	}
	if u := run.unknown; u != nil {
		switch {
		case u.noAnswer != nil:
			out = append(out, fmt.Sprintf("GET r/%s (a code no link has) did not answer within %d s", u.code, int(outageAnswer.Seconds())))
		case u.rep.Status != http.StatusNotFound:
			out = append(out, fmt.Sprintf("GET r/%s (a code no link has) answered %d; want 404, from the database", u.code, u.rep.Status))
		}
	}
	return out
}

// answered says what came back instead of a redirect to url.
func answered(rep labs.Reply, url string) string {
	if isRedirect(rep.Status) {
		return fmt.Sprintf(" with Location %q, but the link was made for %s", clip(rep.Header.Get("Location")), url)
	}
	if body := strings.TrimSpace(string(rep.Body)); body != "" {
		return ": " + clip(body)
	}
	return ""
}

func (run *outageRun) verdict() labs.Outcome {
	seen := fmt.Sprintf("%d links were created and each read %d times, then Redis was stopped (it accepts connections and never answers).",
		len(run.links), outageReads)
	problems := run.problems()
	if len(problems) > 0 {
		stopped := ""
		if run.stoppedEarly {
			stopped = " The reading stopped there."
		}
		return labs.Fail("%s %d of %d reads went wrong while it was stopped: %s.%s Redis is a cache here: the links live in the database, "+
			"and a redirect that cannot reach Redis within a short timeout must ask the database instead.",
			seen, len(problems), len(run.during)+btoi(run.unknown != nil), listFirst(problems), stopped)
	}
	if len(run.after) > 0 {
		return labs.Fail("%s Every read redirected while it was stopped, but after Redis came back: %s.", seen, listFirst(run.after))
	}
	var during []time.Duration
	for _, r := range run.during {
		during = append(during, r.took)
	}
	return labs.Pass("%s All %d reads still redirected to their URLs (median %s against %s with Redis), a code no link has answered 404, "+
		"and after Redis came back every link redirected again.", seen, len(run.during), median(during), median(run.before))
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// median formats the median of ds in milliseconds.
func median(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no reads"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("%.1f ms", float64(s[len(s)/2].Microseconds())/1000)
}
