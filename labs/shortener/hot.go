package shortener

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/sdworkbook/workbook/labs"
)

// checkHot measures redirects of one hot link under concurrency, on the
// machine's clock: latency is reported, never graded.
func checkHot(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, err := t.Start(ctx, nil)
	if err != nil {
		return labs.Broken(err)
	}
	c, rep, err := create(ctx, tg, map[string]any{"url": "https://viral.example.org/cat-video"})
	if err != nil {
		return labs.Broken(err)
	}
	if rep.Status != http.StatusCreated && rep.Status != http.StatusOK {
		return routeError("POST shorten for the hot link", rep)
	}
	before, hasStats, err := stats(ctx, tg)
	if err != nil {
		return outcomeOf(err)
	}
	sum := labs.RunLoadOn(ctx, tg, labs.LoadSpec{Requests: hotRequests, Concurrency: hotConcurrency, Keys: 1},
		func(string) (string, string) { return http.MethodGet, "/r/" + c.Code })
	if err := ctx.Err(); err != nil {
		return labs.Broken(err)
	}
	after, _, err := stats(ctx, tg)
	if err != nil {
		return outcomeOf(err)
	}
	redirected := 0
	var statuses []string
	keys := make([]string, 0, len(sum.ByStatus))
	for s := range sum.ByStatus {
		keys = append(keys, s)
	}
	sort.Strings(keys)
	for _, s := range keys {
		if code, _ := strconv.Atoi(s); isRedirect(code) {
			redirected += sum.ByStatus[s]
		}
		statuses = append(statuses, fmt.Sprintf("%d × %s", sum.ByStatus[s], s))
	}
	if redirected == 0 {
		return labs.Broken(fmt.Errorf("none of %d redirects of the hot link succeeded: %v", sum.Requests, sum.ByStatus))
	}
	msg := fmt.Sprintf("%s redirects of one hot link, %d in flight: p50 %s, p99 %s, %s redirects/s (%s).",
		labs.Thousands(sum.Requests), hotConcurrency, labs.Millis(sum.P50MS), labs.Millis(sum.P99MS), labs.Rate(sum.RatePerS), strings.Join(statuses, ", "))
	if hasStats {
		b, a := before.Totals, after.Totals
		msg += fmt.Sprintf(" Served by process memory %d times, Redis %d, the database %d (cache %s).",
			a.LocalHits-b.LocalHits, a.RedisHits-b.RedisHits, a.DBHits-b.DBHits, after.Cache)
	}
	if tg.Design() != nil {
		msg += " Measured in process, without the network."
	} else {
		msg += " Measured over HTTP from the grader."
	}
	return labs.Pass("%s", msg)
}
