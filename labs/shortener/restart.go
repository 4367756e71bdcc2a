package shortener

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/sdworkbook/workbook/labs"
)

// restartRun is what checkRestart saw.
type restartRun struct {
	want    map[string]string // code → URL, of the links made before the restart
	order   []string          // their codes, in the order they were made
	design  labs.Design       // nil for a service
	dbReads int64             // after the restart; -1: the target has no stats
	lost    []string
	wrong   []string
	reused  []string
}

// checkRestart creates and reads links, restarts the target with empty
// caches, and reads them again.
func checkRestart(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, _, err := start(ctx, t)
	if err != nil {
		return labs.Broken(err)
	}
	if !tg.Can(labs.Restart) {
		return labs.Skip("The service under test cannot be restarted by the grader, so whether its links outlive a restart was not checked.")
	}
	run := &restartRun{want: map[string]string{}, dbReads: -1, design: tg.Design()}
	if err := run.arrange(ctx, tg); err != nil {
		return outcomeOf(err)
	}
	if err := tg.Restart(ctx); err != nil {
		return labs.Broken(fmt.Errorf("restarting the design: %w", err))
	}
	if err := run.readAgain(ctx, tg); err != nil {
		return outcomeOf(err)
	}
	if err := run.createAfter(ctx, tg); err != nil {
		return outcomeOf(err)
	}
	return run.verdict()
}

// arrange creates restartLinks links and an alias, and reads every one,
// so the caches hold them all.
func (run *restartRun) arrange(ctx context.Context, tg labs.Target) error {
	urls := make([]string, restartLinks)
	for i := range urls {
		urls[i] = fmt.Sprintf("https://keep.example.org/doc/%d", i)
	}
	codes, first, why, err := createMany(ctx, tg, urls)
	if err != nil {
		return err
	}
	if first >= 0 {
		return failed("Creating link %d of %d before the restart failed: %s%s.", first+1, len(urls), why, run.tooSmall())
	}
	for i, c := range codes {
		run.want[c] = urls[i]
		run.order = append(run.order, c)
	}
	c, rep, err := create(ctx, tg, map[string]any{"url": "https://keep.example.org/alias", "alias": "keep-me-1"})
	if err != nil {
		return err
	}
	if rep.Status != http.StatusCreated {
		return routeErr(`POST shorten {"alias": "keep-me-1"}`, rep)
	}
	run.want[c.Code] = "https://keep.example.org/alias"
	run.order = append(run.order, c.Code)
	for _, code := range run.order {
		r, err := follow(ctx, tg, code, "")
		if err != nil {
			return err
		}
		if !leadsTo(r, run.want[code]) {
			return failed("Before any restart, GET r/%s answered %d with Location %q; the link was made for %s.", code, r.Status, clip(r.Header.Get("Location")), run.want[code])
		}
	}
	return nil
}

// tooSmall explains a failed creation from the design's code length.
func (run *restartRun) tooSmall() string {
	if run.design == nil {
		return ""
	}
	return fmt.Sprintf(" (the code space of length %d is too small)", configOf(run.design).codeLen)
}

// readAgain reads every link after the restart.
func (run *restartRun) readAgain(ctx context.Context, tg labs.Target) error {
	for _, code := range run.order {
		r, err := follow(ctx, tg, code, " after the restart")
		if err != nil {
			return err
		}
		switch {
		case r.Status == http.StatusNotFound:
			run.lost = append(run.lost, code)
		case !leadsTo(r, run.want[code]):
			run.wrong = append(run.wrong, fmt.Sprintf("r/%s answered %d with Location %q, made for %s", code, r.Status, clip(r.Header.Get("Location")), run.want[code]))
		}
	}
	st, ok, err := stats(ctx, tg)
	if err != nil {
		return err
	}
	if ok {
		run.dbReads = st.Totals.DBHits
	}
	return nil
}

// createAfter creates restartAfter links after the restart, and reads the
// old ones again: they must still lead where they did.
func (run *restartRun) createAfter(ctx context.Context, tg labs.Target) error {
	urls := make([]string, restartAfter)
	for i := range urls {
		urls[i] = fmt.Sprintf("https://keep.example.org/new/%d", i)
	}
	codes, first, why, err := createMany(ctx, tg, urls)
	if err != nil {
		return err
	}
	if first >= 0 {
		return failed("Creating link %d of %d after the restart failed: %s.", first+1, len(urls), why)
	}
	for i, c := range codes {
		if old, ok := run.want[c]; ok {
			run.reused = append(run.reused, fmt.Sprintf("%s (was %s, now %s)", c, old, urls[i]))
		}
	}
	for _, code := range run.order {
		r, err := follow(ctx, tg, code, " after the restart")
		if err != nil {
			return err
		}
		if isRedirect(r.Status) && r.Header.Get("Location") != run.want[code] {
			run.wrong = append(run.wrong, fmt.Sprintf("r/%s now leads to %q, made for %s", code, clip(r.Header.Get("Location")), run.want[code]))
		}
	}
	return nil
}

func (run *restartRun) verdict() labs.Outcome {
	n := len(run.order)
	cache := ""
	if run.design != nil {
		cache = " (cache " + configOf(run.design).cache + ")"
	}
	seen := fmt.Sprintf("%d links were created and read%s, then the instance restarted with Redis emptied and its memory gone.", n, cache)
	lostTo := "what the restart lost"
	if run.design == nil {
		seen = fmt.Sprintf("%d links were created and read, then every replica of the service was killed and started again: "+
			"what the processes held in memory is gone; the database and Redis stayed.", n)
		lostTo = "the memory of the processes that were killed"
	}
	var problems []string
	if len(run.lost) > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d links answered 404 after the restart (%s): they were not in the database, only in %s.",
			len(run.lost), n, listFirst(run.lost), lostTo))
	}
	if len(run.wrong) > 0 {
		problems = append(problems, fmt.Sprintf("%d answers were wrong: %s.", len(run.wrong), listFirst(run.wrong)))
	}
	if len(run.reused) > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d links created after the restart got codes an earlier link had (%s): a counter kept only in memory starts again after a restart.",
			len(run.reused), restartAfter, listFirst(run.reused)))
	}
	if len(problems) > 0 {
		return labs.Fail("%s %s", seen, strings.Join(problems, " "))
	}
	reads := ", read from the database"
	switch {
	case run.dbReads >= 0:
		reads += fmt.Sprintf(" (%d database reads)", run.dbReads)
	case run.design == nil:
		reads = ""
	}
	return labs.Pass("%s All %d still redirected to their URLs%s; the %d links created after the restart got new codes, "+
		"and the old ones kept their meaning.", seen, n, reads, restartAfter)
}
