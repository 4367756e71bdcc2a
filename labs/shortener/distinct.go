package shortener

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// bulk is what creating the 10,000 links gave.
type bulk struct {
	codes      []string // by link number; "" when its creation failed
	attempted  int
	failed     int
	firstFail  int    // -1: none
	firstWhy   string // why it failed, as failure words it
	collisions int64
	tooLong    bool
	elapsed    time.Duration
	chart      *labs.CheckChart
}

// bulkURL is link i's URL.
func bulkURL(i int) string { return fmt.Sprintf("https://shop.example.org/item/%d?ref=grader", i) }

// checkDistinct creates 10,000 links with POST batch and checks every
// code: distinct, short enough, stored with its URL.
func checkDistinct(ctx context.Context, t *labs.Trial) labs.Outcome {
	tg, _, err := start(ctx, t)
	if err != nil {
		return labs.Broken(err)
	}
	b, err := createBulk(ctx, tg)
	if err != nil {
		return outcomeOf(err)
	}
	seen, err := inspectBulk(ctx, tg, b)
	if err != nil {
		return outcomeOf(err)
	}
	o := bulkVerdict(tg.Design(), b, seen)
	o.Chart = b.chart
	return o
}

// createBulk creates the links bulkBatch at a time, until all are made,
// bulkStopAfter creations have failed or a code came out too long.
func createBulk(ctx context.Context, tg labs.Target) (*bulk, error) {
	b := &bulk{codes: make([]string, bulkLinks), firstFail: -1}
	var xs, collided, failedPer []float64
	start := time.Now()
	for first := 0; first < bulkLinks && b.failed < bulkStopAfter && !b.tooLong; first += bulkBatch {
		last := min(first+bulkBatch, bulkLinks)
		urls := make([]string, 0, last-first)
		for i := first; i < last; i++ {
			urls = append(urls, bulkURL(i))
		}
		res, err := batchOf(ctx, tg, urls)
		if err != nil {
			return nil, err
		}
		f0 := b.failed
		for j, item := range res.Results {
			if item.Code == "" {
				b.failed++
				if b.firstFail < 0 {
					b.firstFail, b.firstWhy = first+j, failure(item)
				}
				continue
			}
			b.codes[first+j] = item.Code
			b.tooLong = b.tooLong || len(item.Code) > maxCodeLen
		}
		b.attempted, b.collisions = last, b.collisions+res.Collisions
		xs, collided, failedPer = append(xs, float64(last)), append(collided, float64(res.Collisions)), append(failedPer, float64(b.failed-f0))
	}
	b.elapsed = time.Since(start)
	b.chart = &labs.CheckChart{
		Title:  fmt.Sprintf("Collisions retried and creations failed per %d links", bulkBatch),
		XLabel: "links attempted", YLabel: "per batch", X: xs,
		Series: []labs.ChartSeries{{Name: "collisions retried", Values: collided}, {Name: "creations failed", Values: failedPer}},
	}
	return b, nil
}

// bulkSeen is what the target holds of the links made.
type bulkSeen struct {
	made, routed     int
	dup, long, wrong []string
}

// inspectBulk compares every code made with what GET links lists, and
// follows every bulkRouteStep-th through r/{code}, as a browser would (every
// one, when the target does not list its links).
func inspectBulk(ctx context.Context, tg labs.Target, b *bulk) (bulkSeen, error) {
	var s bulkSeen
	stored, listed, err := storedLinks(ctx, tg)
	if err != nil {
		return s, err
	}
	byCode := map[string]int{}
	for i, c := range b.codes[:b.attempted] {
		if c == "" {
			continue
		}
		s.made++
		if j, ok := byCode[c]; ok {
			s.dup = append(s.dup, fmt.Sprintf("links %d and %d both got %q", j, i, c))
			continue
		}
		byCode[c] = i
		if len(c) > maxCodeLen {
			s.long = append(s.long, c)
		}
		switch u, ok := stored[c]; {
		case !listed:
		case !ok:
			s.wrong = append(s.wrong, fmt.Sprintf("%q is not in the database", c))
		case u != bulkURL(i):
			s.wrong = append(s.wrong, fmt.Sprintf("%q leads to %s, but was made for %s", c, clip(u), bulkURL(i)))
		}
	}
	step := bulkRouteStep
	if !listed {
		step = 1
	}
	for i := 0; i < b.attempted; i += step {
		if b.codes[i] == "" || byCode[b.codes[i]] != i {
			continue
		}
		rep, err := follow(ctx, tg, b.codes[i], "")
		if err != nil {
			return s, err
		}
		s.routed++
		if !leadsTo(rep, bulkURL(i)) {
			s.wrong = append(s.wrong, fmt.Sprintf("GET r/%s answered %d with Location %q, but it was made for %s",
				b.codes[i], rep.Status, clip(rep.Header.Get("Location")), bulkURL(i)))
		}
	}
	return s, nil
}

// bulkVerdict judges what the bulk creation gave, explaining from the
// design when there is one.
func bulkVerdict(d labs.Design, b *bulk, s bulkSeen) labs.Outcome {
	seen := fmt.Sprintf("%s of %s links created in %.1f s", labs.Thousands(s.made), labs.Thousands(b.attempted), b.elapsed.Seconds())
	if d != nil {
		cfg := configOf(d)
		seen += fmt.Sprintf(" with %s codes of %d characters", cfg.codegen, cfg.codeLen)
	}
	seen += fmt.Sprintf("; %s collisions were retried.", labs.Thousands(b.collisions))
	if problems := bulkProblems(d, b, s); len(problems) > 0 {
		return labs.Fail("%s %s", seen, strings.Join(problems, " "))
	}
	how := fmt.Sprintf("%s of them (every %dth) redirected to it through r/{code}", labs.Thousands(s.routed), bulkRouteStep)
	if s.routed >= s.made {
		how = "every one redirected to it through r/{code}"
	}
	o := labs.Pass("%s All %s codes differ, each is in the database with its own URL, and %s.", seen, labs.Thousands(s.made), how)
	if d != nil {
		cfg := configOf(d)
		o.Message += fmt.Sprintf(" The %s codes of length %d are %.4f%% used.", labs.Thousands(space(cfg.codeLen)), cfg.codeLen,
			100*float64(seedLinks+s.made)/float64(space(cfg.codeLen)))
	}
	return o
}

// bulkProblems lists what went wrong, each a sentence or two.
func bulkProblems(d labs.Design, b *bulk, s bulkSeen) []string {
	var problems []string
	if b.failed > 0 {
		stopped := ""
		if b.attempted < bulkLinks {
			stopped = fmt.Sprintf(" The run stopped after %s attempts.", labs.Thousands(b.attempted))
		}
		problems = append(problems, fmt.Sprintf("%s creations failed. %s%s", labs.Thousands(b.failed), whyFailed(d, b, s), stopped))
	}
	if len(s.long) > 0 {
		stopped := ""
		if b.attempted < bulkLinks && b.failed == 0 {
			stopped = fmt.Sprintf(" The run stopped after %s links.", labs.Thousands(b.attempted))
		}
		setting := ""
		if d != nil {
			setting = fmt.Sprintf(" code_length is %d:", configOf(d).codeLen)
		}
		problems = append(problems, fmt.Sprintf("Codes are %d characters long (%s); at most %d are allowed.%s "+
			"%d characters already give %s codes.%s", len(s.long[0]), strings.Join(s.long[:min(3, len(s.long))], ", "), maxCodeLen, setting,
			maxCodeLen, labs.Thousands(space(maxCodeLen)), stopped))
	}
	if len(s.dup) > 0 {
		problems = append(problems, fmt.Sprintf("%d codes were handed out twice (%s).", len(s.dup), listFirst(s.dup)))
	}
	if len(s.wrong) > 0 {
		problems = append(problems, fmt.Sprintf("%d codes do not lead to their own URL (%s).", len(s.wrong), listFirst(s.wrong)))
	}
	return problems
}

// whyFailed explains failed creations from the design's code space.
func whyFailed(d labs.Design, b *bulk, s bulkSeen) string {
	if d == nil {
		return fmt.Sprintf("The first to fail was link %s (%s).", labs.Thousands(b.firstFail+1), b.firstWhy)
	}
	cfg := configOf(d)
	sp := space(cfg.codeLen)
	if cfg.codegen == GenSequence {
		return fmt.Sprintf("The counter handed out all %s codes of length %d (%s of them to the lab's demo links) after %s links, and every creation after that failed.",
			labs.Thousands(sp), cfg.codeLen, labs.Thousands(seedLinks), labs.Thousands(b.firstFail))
	}
	fill := 100 * float64(seedLinks+s.made) / float64(sp)
	return fmt.Sprintf("The first to fail was link %s, for which %d codes in a row were already taken; by the end the %s codes of length %d were %.0f%% used "+
		"(the %s demo links included). Random and hash-prefix codes collide more and more as the space fills (the birthday bound), "+
		"so the space must be far larger than the links it will hold.",
		labs.Thousands(b.firstFail+1), maxAttempts, labs.Thousands(sp), cfg.codeLen, fill, labs.Thousands(seedLinks))
}
