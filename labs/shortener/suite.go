package shortener

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// The exercise's numbers.
const (
	maxCodeLen = 7

	// 10,000 links, created in batches of 500 by 8 workers; a design that
	// has failed 100 creations, or handed out a code that is too long, has
	// shown what it does, and the rest of the run is skipped. Every 10th
	// link is also redirected through the route.
	bulkLinks     = 10000
	bulkBatch     = 500
	bulkWorkers   = 8
	bulkStopAfter = 100
	bulkRouteStep = 10

	// Expiry: a lifetime of 1 s on the lab's clock, which the check moves
	// itself in steps of expiryPoll up to expiryWatch, then expiryLater
	// on. The suite owns the clock, so there is no margin to allow: the
	// link redirects at every step before 1 s and answers 410 at every
	// step from 1 s on.
	expiryTTLS  = 1
	expiryPoll  = 100 * time.Millisecond
	expiryWatch = 2500 * time.Millisecond
	expiryLater = 24 * time.Hour

	// Restart: links created and read (so every cache holds them) before
	// the restart, and links created after it.
	restartLinks = 200
	restartAfter = 50

	// Hot redirect: one link, 3,000 redirects, 16 in flight.
	hotRequests    = 3000
	hotConcurrency = 16

	// spaceRetries is how often a check other than "10,000 distinct codes"
	// sends a creation again that was refused because maxAttempts codes in
	// a row were taken. Random codes in a tiny code space collide by
	// chance; the space's size is what "10,000 distinct codes" judges, and
	// no other check may pass or fail on that chance.
	spaceRetries = 3
)

// Check names, as the card and the references name them.
const (
	checkNameDistinct  = "10,000 distinct codes"
	checkNameRedirects = "redirects correct"
	checkNameExpiry    = "expiry honoured"
	checkNameRestart   = "links survive a restart"
	checkNameInvalid   = "invalid input rejected"
	checkNameHot       = "hot-redirect latency"
)

// references are designs whose verdicts are known: good designs covering
// each generator, each cache, both sharding schemes and analytics, and the
// classic mistakes about code length. Every one is deterministic: the
// checks run on a clock the suite moves, and judge counts, not speed.
var references = []labs.Reference{
	{Name: "defaults", Design: labs.Design{}},
	{Name: "sequence-local-analytics", Design: labs.Design{"codegen": GenSequence, "cache": CacheLocal, "analytics": true,
		"sharding": ShardConsistent, "shards": 8}},
	{Name: "hash-no-cache", Design: labs.Design{"codegen": GenHash, "cache": CacheNone, "shards": 1}},
	// 3,844 codes, 1,000 of them taken by the demo links: random codes
	// collide more and more, and creations fail long before 10,000.
	{Name: "random, 2 characters", Design: labs.Design{"codegen": GenRandom, "code_length": 2}, Fails: []string{checkNameDistinct}},
	// The counter never collides, and stops at exactly 3,844 codes.
	{Name: "counter, 2 characters", Design: labs.Design{"codegen": GenSequence, "code_length": 2}, Fails: []string{checkNameDistinct}},
	{Name: "8 characters", Design: labs.Design{"code_length": 8}, Fails: []string{checkNameDistinct}},
}

// Exercises are the shortener's graded tasks.
func (lab) Exercises() []labs.Exercise {
	return []labs.Exercise{{
		ID:    "shortener-basics",
		Lab:   "shortener",
		Title: "A URL shortener whose links keep working",
		Card: []string{
			"Codes are at most 7 characters long.",
			"10,000 links created one after another get 10,000 different codes, and each code leads to its own URL.",
			"GET r/{code} redirects (301, or 302 when clicks are counted) to exactly the URL the link was made for; an unknown code answers 404.",
			"A link created with a lifetime (ttl_s) works until the lifetime ends, and answers 410 Gone after it.",
			"Links are kept in the database: after a restart that loses the process's memory and everything in Redis, every link still redirects, and new links get new codes.",
			"Only absolute http and https URLs of at most 2,048 characters without credentials are accepted; anything else, and a reserved or unsafe alias, answers 400 naming the problem.",
		},
		Scale: "10,000 links stand for about 4 minutes of the lesson's average of 38.6 creations a second. They are created through the lab's own create path, " +
			"8 at a time, without the creation limit of 20 per second per client (which would stretch them over 8 minutes); every other request goes through the routes. " +
			"Every instance also holds the lab's 1,000 demo links, which share the code space. " +
			"Time is the lab's own clock, which the grader moves itself, so no result depends on how fast or busy the grading machine is: " +
			"a lifetime of 1 s stands for days, and the grader steps the clock 100 ms at a time from the creation to 2.5 s, so the link must redirect at every step " +
			"before 1 s and answer 410 at every step from 1 s on, and still answer 410 a day later. Cache TTLs run on the same clock. " +
			"The 10,000 links are judged by what they got, never by how long they took; the hot-redirect latency is measured on the machine's clock and reported, not graded. " +
			"The restart deletes every Redis key of the instance and builds it again on the same database tables.",
		Hint:    "Read the URL shortener case study: code length and the birthday bound, 301 or 302, expiry, abuse controls, and why the database is the source of truth.",
		NeedsDB: true,
		Checks: []labs.Check{
			{Name: checkNameDistinct, Points: 25, Run: checkDistinct,
				Requirement: fmt.Sprintf("%s links created one after another all succeed, get %s different codes of at most %d characters, "+
					"and each code is stored with its own URL (every %dth is also redirected through r/{code}).",
					thousands(bulkLinks), thousands(bulkLinks), maxCodeLen, bulkRouteStep)},
			{Name: checkNameRedirects, Points: 20, Run: checkRedirects,
				Requirement: "8 links (6 URLs with ports, queries, escapes and fragments, and 2 aliases that differ only in case) each redirect 3 times " +
					"with 301, 302, 307 or 308 to exactly their URL; an unknown code answers 404, and an alias asked for before it exists answers 404, then redirects once created."},
			{Name: checkNameExpiry, Points: 15, Run: checkExpiry,
				Requirement: "A link created with ttl_s 1 redirects at every step of the lab's clock before 1 s and answers 410 Gone at every step from 1 s on " +
					"(the grader moves the clock 100 ms at a time up to 2.5 s), and still answers 410 a day later; a link without ttl_s keeps redirecting."},
			{Name: checkNameRestart, Points: 20, Run: checkRestart,
				Requirement: fmt.Sprintf("%d links created and read, then a restart that empties Redis and the process's memory: all %d still redirect to their URLs, "+
					"and %d links created after the restart get codes none of the earlier links had.", restartLinks+1, restartLinks+1, restartAfter)},
			{Name: checkNameInvalid, Points: 20, Run: checkInvalid,
				Requirement: "16 invalid creations (javascript:, data:, ftp: and file: URLs, credentials, no scheme, no host, 2,049 characters, a space, a line break, " +
					"an empty or missing URL, a reserved alias, an alias with slashes, a negative lifetime) each answer 400 naming the field; " +
					"a URL of exactly 2,048 characters and one with a port and a query are accepted."},
			{Name: checkNameHot, Points: 0, Run: checkHot,
				Requirement: fmt.Sprintf("Measured, not graded: p50 and p99 of %s redirects of one hot link, %d in flight, in process, and which tier served them.",
					thousands(hotRequests), hotConcurrency)},
		},
		References: references,
	}}
}

// inner reaches the lab's instance behind a probe (a test may wrap it).
type inner interface{ core() *instance }

func (in *instance) core() *instance { return in }

// suiteClock puts the instances launched from t on a clock the check owns,
// starting at the machine's time (to the second) and moving only when the
// check moves it: cache TTLs and lifetimes then pass when the check says,
// never because the grading machine was slow.
func suiteClock(t *labs.Trial) *labs.ManualClock {
	c := labs.NewManualClock(time.Now().Truncate(time.Second))
	t.Clock = c
	return c
}

func launchCore(ctx context.Context, t *labs.Trial) (*labs.Probe, *instance, error) {
	p, err := t.Launch(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	c, ok := p.Instance.(inner)
	if !ok {
		return nil, nil, fmt.Errorf("shortener: launched a %T, not a shortener instance", p.Instance)
	}
	return p, c.core(), nil
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// listFirst joins the first three of ss and says how many more there are.
func listFirst(ss []string) string {
	const show = 3
	if len(ss) <= show {
		return strings.Join(ss, "; ")
	}
	return strings.Join(ss[:show], "; ") + fmt.Sprintf("; and %d more", len(ss)-show)
}

// clip shortens s for a message: its first 60 characters, an ellipsis and
// its last 20.
func clip(s string) string {
	if len(s) <= 90 {
		return s
	}
	return s[:60] + "…" + s[len(s)-20:]
}

// allLinks reads every stored link: code → URL, across the shard tables.
func allLinks(ctx context.Context, in *instance) (map[string]string, error) {
	in.layoutMu.RLock()
	defer in.layoutMu.RUnlock()
	out := map[string]string{}
	for i := range in.layout.shards {
		rows, err := in.env.DB.QueryContext(ctx, `SELECT code, url FROM `+in.tab.shard(i))
		if err != nil {
			return nil, fmt.Errorf("read shard %d: %w", i, err)
		}
		for rows.Next() {
			var c, u string
			if err := rows.Scan(&c, &u); err != nil {
				_ = rows.Close()
				return nil, err
			}
			out[c] = u
		}
		err = rows.Err()
		_ = rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkDistinct creates 10,000 links through the lab's create path and
// checks every code: distinct, short enough, stored with its URL.
func checkDistinct(ctx context.Context, t *labs.Trial) labs.Outcome {
	suiteClock(t)
	p, in, err := launchCore(ctx, t)
	if err != nil {
		return labs.Broken(err)
	}
	urlOf := func(i int) string { return fmt.Sprintf("https://shop.example.org/item/%d?ref=grader", i) }
	codes := make([]string, bulkLinks)
	var (
		mu        sync.Mutex
		failed    int
		firstFail = -1
		reasons   = map[string]int{}
		envErr    error
		xs        []float64
		collided  []float64
		failedPer []float64
	)
	start := time.Now()
	attempted := 0
	tooLong := false
	for first := 0; first < bulkLinks && failed < bulkStopAfter && !tooLong; first += bulkBatch {
		c0, f0 := in.collisions.Load(), failed
		next := make(chan int)
		var wg sync.WaitGroup
		for range bulkWorkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					l, _, err := in.create(ctx, createRequest{URL: urlOf(i)})
					mu.Lock()
					switch {
					case err == nil:
						codes[i] = l.Code
					case errors.Is(err, errSpaceFull), errors.Is(err, errNoFreeCode):
						failed++
						reasons[err.Error()]++
						if firstFail < 0 || i < firstFail {
							firstFail = i
						}
					default:
						if envErr == nil {
							envErr = err
						}
					}
					mu.Unlock()
				}
			}()
		}
		for i := first; i < min(first+bulkBatch, bulkLinks); i++ {
			next <- i
		}
		close(next)
		wg.Wait()
		if envErr != nil {
			return labs.Broken(envErr)
		}
		if err := ctx.Err(); err != nil {
			return labs.Broken(err)
		}
		attempted = min(first+bulkBatch, bulkLinks)
		for _, c := range codes[first:attempted] {
			tooLong = tooLong || len(c) > maxCodeLen
		}
		xs = append(xs, float64(attempted))
		collided = append(collided, float64(in.collisions.Load()-c0))
		failedPer = append(failedPer, float64(failed-f0))
	}
	elapsed := time.Since(start)
	chart := &labs.CheckChart{
		Title:  fmt.Sprintf("Collisions retried and creations failed per %d links", bulkBatch),
		XLabel: "links attempted", YLabel: "per batch", X: xs,
		Series: []labs.ChartSeries{{Name: "collisions retried", Values: collided}, {Name: "creations failed", Values: failedPer}},
	}
	fail := func(format string, args ...any) labs.Outcome {
		o := labs.Fail(format, args...)
		o.Chart = chart
		return o
	}

	// What the database holds, and what the creations answered.
	stored, err := allLinks(ctx, in)
	if err != nil {
		return labs.Broken(err)
	}
	byCode := map[string]int{}
	var dup, long, wrong []string
	made := 0
	for i, c := range codes[:attempted] {
		if c == "" {
			continue
		}
		made++
		if j, ok := byCode[c]; ok {
			dup = append(dup, fmt.Sprintf("links %d and %d both got %q", j, i, c))
			continue
		}
		byCode[c] = i
		if len(c) > maxCodeLen {
			long = append(long, c)
		}
		switch u, ok := stored[c]; {
		case !ok:
			wrong = append(wrong, fmt.Sprintf("%q is not in the database", c))
		case u != urlOf(i):
			wrong = append(wrong, fmt.Sprintf("%q leads to %s, but was made for %s", c, clip(u), urlOf(i)))
		}
	}
	// Every 10th through the route, as a browser would follow it.
	routed := 0
	for i := 0; i < attempted; i += bulkRouteStep {
		if codes[i] == "" || byCode[codes[i]] != i {
			continue
		}
		rep := p.Do(ctx, http.MethodGet, "r/"+codes[i], nil)
		if err := ctx.Err(); err != nil {
			return labs.Broken(err)
		}
		if rep.Status >= 500 {
			return labs.Broken(fmt.Errorf("GET r/%s answered %d: %s", codes[i], rep.Status, rep.Body))
		}
		routed++
		if !isRedirect(rep.Status) || rep.Header.Get("Location") != urlOf(i) {
			wrong = append(wrong, fmt.Sprintf("GET r/%s answered %d with Location %q, but it was made for %s", codes[i], rep.Status, clip(rep.Header.Get("Location")), urlOf(i)))
		}
	}
	cfg := in.cfg
	collisions := in.collisions.Load()
	seen := fmt.Sprintf("%s of %s links created in %.1f s with %s codes of %d characters; %s collisions were retried.",
		thousands(made), thousands(attempted), elapsed.Seconds(), cfg.codegen, cfg.codeLen, thousands(collisions))
	var problems []string
	if failed > 0 {
		fill := 100 * float64(seedLinks+made) / float64(in.space)
		var why string
		switch {
		case cfg.codegen == GenSequence:
			why = fmt.Sprintf("The counter handed out all %s codes of length %d (%s of them to the lab's demo links) after %s links, and every creation after that failed.",
				thousands(in.space), cfg.codeLen, thousands(seedLinks), thousands(firstFail))
		default:
			why = fmt.Sprintf("The first to fail was link %s, for which %d codes in a row were already taken; by the end the %s codes of length %d were %.0f%% used "+
				"(the %s demo links included). Random and hash-prefix codes collide more and more as the space fills (the birthday bound), "+
				"so the space must be far larger than the links it will hold.",
				thousands(firstFail+1), maxAttempts, thousands(in.space), cfg.codeLen, fill, thousands(seedLinks))
		}
		stopped := ""
		if attempted < bulkLinks {
			stopped = fmt.Sprintf(" The run stopped after %s attempts.", thousands(attempted))
		}
		problems = append(problems, fmt.Sprintf("%s creations failed. %s%s", thousands(failed), why, stopped))
	}
	if len(long) > 0 {
		stopped := ""
		if attempted < bulkLinks && failed == 0 {
			stopped = fmt.Sprintf(" The run stopped after %s links.", thousands(attempted))
		}
		problems = append(problems, fmt.Sprintf("Codes are %d characters long (%s); at most %d are allowed. code_length is %d: "+
			"%d characters already give %s codes.%s", len(long[0]), strings.Join(long[:min(3, len(long))], ", "), maxCodeLen, cfg.codeLen,
			maxCodeLen, thousands(space(maxCodeLen)), stopped))
	}
	if len(dup) > 0 {
		problems = append(problems, fmt.Sprintf("%d codes were handed out twice (%s).", len(dup), listFirst(dup)))
	}
	if len(wrong) > 0 {
		problems = append(problems, fmt.Sprintf("%d codes do not lead to their own URL (%s).", len(wrong), listFirst(wrong)))
	}
	if len(problems) > 0 {
		return fail("%s %s", seen, strings.Join(problems, " "))
	}
	o := labs.Pass("%s All %s codes differ, each is in the database with its own URL, and %s of them (every %dth) redirected to it through r/{code}. "+
		"The %s codes of length %d are %.4f%% used.", seen, thousands(made), thousands(routed), bulkRouteStep, thousands(in.space), cfg.codeLen,
		100*float64(seedLinks+made)/float64(in.space))
	o.Chart = chart
	return o
}

// routeError is an unexpected answer of a route the check needed. A
// creation refused for a full code space is the design's doing, not the
// environment's.
func routeError(what string, rep labs.Reply) labs.Outcome {
	var e labs.ErrorBody
	if rep.Status >= 500 && (rep.JSON(&e) != nil || e.Error.Fields["code_length"] == "") {
		return labs.Broken(fmt.Errorf("%s answered %d: %s", what, rep.Status, strings.TrimSpace(string(rep.Body))))
	}
	return labs.Fail("%s answered %d: %s", what, rep.Status, clip(strings.TrimSpace(string(rep.Body))))
}

// create sends POST shorten and wants 201 (or 200 for a link that exists).
// A refusal for a full code space is sent again, up to spaceRetries times.
func create(ctx context.Context, p *labs.Probe, body map[string]any) (Created, labs.Reply, error) {
	rep := p.Do(ctx, http.MethodPost, "shorten", body)
	for try := 0; try < spaceRetries && spaceFull(rep); try++ {
		rep = p.Do(ctx, http.MethodPost, "shorten", body)
	}
	var c Created
	if err := ctx.Err(); err != nil {
		return c, rep, err
	}
	if rep.Status == http.StatusCreated || rep.Status == http.StatusOK {
		if err := rep.JSON(&c); err != nil {
			return c, rep, fmt.Errorf("POST shorten: decode %q: %w", rep.Body, err)
		}
	}
	return c, rep, nil
}

// spaceFull reports whether a creation was refused for a full code space.
func spaceFull(rep labs.Reply) bool {
	var e labs.ErrorBody
	return rep.Status == http.StatusServiceUnavailable && rep.JSON(&e) == nil && e.Error.Fields["code_length"] != ""
}

// createDirect creates a link through the lab's create path, sending a
// creation refused for a full code space again, up to spaceRetries times.
func createDirect(ctx context.Context, in *instance, req createRequest) (link, error) {
	l, _, err := in.create(ctx, req)
	for try := 0; try < spaceRetries && errors.Is(err, errNoFreeCode); try++ {
		l, _, err = in.create(ctx, req)
	}
	return l, err
}

// checkRedirects creates links of awkward shapes through the route and
// follows each three times (database, then the caches).
func checkRedirects(ctx context.Context, t *labs.Trial) labs.Outcome {
	suiteClock(t)
	p, in, err := launchCore(ctx, t)
	if err != nil {
		return labs.Broken(err)
	}
	links := []map[string]any{
		{"url": "https://shop.example.org/p?id=42&ref=a%20b#reviews"},
		{"url": "http://legacy.example.net:8080/path/to/page.html"},
		{"url": "https://docs.example.org/guide/" + strings.Repeat("chapter-", 40) + "end?q=1&q=2"},
		{"url": "https://example.org/"},
		{"url": "https://api.example.org/v1/search?q=caf%C3%A9&sort=-date&page=2"},
		{"url": "https://Mixed.Case.example.org/Path/To/Page"},
		{"url": "https://shop.example.org/spring", "alias": "Spring-Sale"},
		{"url": "https://shop.example.org/not-spring", "alias": "spring-SALE"},
	}
	var problems []string
	// An alias asked for before it exists is unknown, and must not stay
	// unknown once created (a cached 404 would).
	early := p.Do(ctx, http.MethodGet, "r/Spring-Sale", nil)
	if early.Status >= 500 {
		return routeError("GET r/Spring-Sale", early)
	}
	if early.Status != http.StatusNotFound {
		problems = append(problems, fmt.Sprintf("GET r/Spring-Sale answered %d before the alias existed; want 404", early.Status))
	}
	type made struct {
		code, url string
	}
	var all []made
	for _, body := range links {
		c, rep, err := create(ctx, p, body)
		if err != nil {
			return labs.Broken(err)
		}
		if rep.Status != http.StatusCreated && rep.Status != http.StatusOK {
			return routeError(fmt.Sprintf("POST shorten for %s", clip(body["url"].(string))), rep)
		}
		u := body["url"].(string)
		if c.Code == "" || c.Path != "r/"+c.Code || !strings.HasSuffix(c.ShortURL, "/r/"+c.Code) {
			problems = append(problems, fmt.Sprintf("POST shorten for %s answered code %q, path %q, short_url %q", clip(u), c.Code, c.Path, clip(c.ShortURL)))
		}
		all = append(all, made{c.Code, u})
	}
	statuses := map[int]int{}
	for round := range 3 {
		for _, m := range all {
			rep := p.Do(ctx, http.MethodGet, "r/"+m.code, nil)
			if rep.Status >= 500 {
				return routeError("GET r/"+m.code, rep)
			}
			statuses[rep.Status]++
			loc := rep.Header.Get("Location")
			switch {
			case !isRedirect(rep.Status):
				problems = append(problems, fmt.Sprintf("GET r/%s (read %d) answered %d, not a redirect", m.code, round+1, rep.Status))
			case loc != m.url:
				problems = append(problems, fmt.Sprintf("GET r/%s (read %d) redirected to %q, but the link was made for %q", m.code, round+1, clip(loc), clip(m.url)))
			}
		}
	}
	unknown := p.Do(ctx, http.MethodGet, "r/no-such-link-42", nil)
	if unknown.Status >= 500 {
		return routeError("GET r/no-such-link-42", unknown)
	}
	if unknown.Status != http.StatusNotFound {
		problems = append(problems, fmt.Sprintf("GET r/no-such-link-42 (a code nobody created) answered %d; want 404", unknown.Status))
	}
	if err := ctx.Err(); err != nil {
		return labs.Broken(err)
	}
	var sts []string
	for _, s := range []int{301, 302, 307, 308} {
		if n := statuses[s]; n > 0 {
			sts = append(sts, fmt.Sprintf("%d × %d", n, s))
		}
	}
	tiers := fmt.Sprintf("served by the database %d times, Redis %d, process memory %d (cache %s)",
		in.dbHits.Load(), in.redisHits.Load(), in.localHits.Load(), in.cfg.cache)
	if len(problems) > 0 {
		return labs.Fail("%d of %d redirects of %d links went wrong: %s. (Lookups were %s.)",
			len(problems), 3*len(all), len(all), listFirst(problems), tiers)
	}
	return labs.Pass("%d links (6 URLs with ports, queries, escapes and fragments, and 2 aliases differing only in case) each redirected 3 times to exactly "+
		"their URL (%s), %s. An unknown code answered 404, and the alias asked for before it existed answered 404, then redirected once created.",
		len(all), strings.Join(sts, ", "), tiers)
}

// checkExpiry creates a link with a lifetime of 1 s and one without, and
// moves the lab's clock 100 ms at a time up to 2.5 s, reading the first at
// each step, then a day on.
func checkExpiry(ctx context.Context, t *labs.Trial) labs.Outcome {
	clock := suiteClock(t)
	p, _, err := launchCore(ctx, t)
	if err != nil {
		return labs.Broken(err)
	}
	born := clock.Now()
	short, rep, err := create(ctx, p, map[string]any{"url": "https://flash.example.org/sale", "ttl_s": expiryTTLS})
	if err != nil {
		return labs.Broken(err)
	}
	if rep.Status != http.StatusCreated {
		return routeError(`POST shorten {"url": "https://flash.example.org/sale", "ttl_s": 1}`, rep)
	}
	keep, rep, err := create(ctx, p, map[string]any{"url": "https://flash.example.org/always"})
	if err != nil {
		return labs.Broken(err)
	}
	if rep.Status != http.StatusCreated && rep.Status != http.StatusOK {
		return routeError(`POST shorten {"url": "https://flash.example.org/always"}`, rep)
	}
	lifetime := expiryTTLS * time.Second
	type sample struct {
		at     time.Duration // on the lab's clock, since the creation
		status int
		loc    string
	}
	var samples []sample
	for at := time.Duration(0); at <= expiryWatch; at += expiryPoll {
		clock.Set(born.Add(at))
		r := p.Do(ctx, http.MethodGet, "r/"+short.Code, nil)
		if err := ctx.Err(); err != nil {
			return labs.Broken(err)
		}
		if r.Status >= 500 {
			return routeError("GET r/"+short.Code, r)
		}
		samples = append(samples, sample{at: at, status: r.Status, loc: r.Header.Get("Location")})
	}
	// A day on, every cache entry has run out on the lab's clock: the
	// answers come from the database again.
	clock.Set(born.Add(expiryLater))
	later := p.Do(ctx, http.MethodGet, "r/"+short.Code, nil)
	if later.Status >= 500 {
		return routeError("GET r/"+short.Code+" a day later", later)
	}
	after := p.Do(ctx, http.MethodGet, "r/"+keep.Code, nil)
	if after.Status >= 500 {
		return routeError("GET r/"+keep.Code+" a day later", after)
	}
	xs := make([]float64, len(samples))
	ys := make([]float64, len(samples))
	for i, s := range samples {
		xs[i], ys[i] = float64(s.at.Milliseconds()), float64(s.status)
	}
	chart := &labs.CheckChart{Title: "GET r/{code} of a link with ttl_s 1", XLabel: "ms on the lab's clock since the creation", YLabel: "HTTP status",
		X: xs, Series: []labs.ChartSeries{{Name: "status", Values: ys}}}
	notGone := func(when string, status int) string {
		what := fmt.Sprintf("%s it answered %d", when, status)
		switch {
		case isRedirect(status):
			what += " and still redirected"
		case status == http.StatusNotFound:
			what += " (404 says the code never existed; 410 says it did and has expired, and that it will not come back)"
		}
		return what
	}
	var alive, dead, goneN int
	var wrongAlive, wrongDead []sample
	for _, s := range samples {
		switch {
		case s.at < lifetime:
			alive++
			if !isRedirect(s.status) || s.loc != "https://flash.example.org/sale" {
				wrongAlive = append(wrongAlive, s)
			}
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
			len(wrongAlive), alive, thousands(s.at.Milliseconds()), s.status, s.loc))
	}
	if len(wrongDead) > 0 {
		s := wrongDead[0]
		problems = append(problems, fmt.Sprintf("after its lifetime ended at %s ms, %d of %d steps did not answer 410: %s",
			thousands(lifetime.Milliseconds()), len(wrongDead), dead, notGone(fmt.Sprintf("at %s ms", thousands(s.at.Milliseconds())), s.status)))
	}
	if later.Status != http.StatusGone {
		problems = append(problems, notGone("a day later", later.Status))
	}
	if !isRedirect(after.Status) || after.Header.Get("Location") != "https://flash.example.org/always" {
		problems = append(problems, fmt.Sprintf("the link without ttl_s answered %d (Location %q) a day later instead of redirecting to its URL",
			after.Status, after.Header.Get("Location")))
	}
	seen := fmt.Sprintf("A link with ttl_s %d was read at every %d ms step of the lab's clock up to %.1f s: %d steps within its lifetime, %d from %d s on.",
		expiryTTLS, expiryPoll.Milliseconds(), expiryWatch.Seconds(), alive, dead, expiryTTLS)
	if len(problems) > 0 {
		o := labs.Fail("%s %s.", seen, capitalize(strings.Join(problems, "; ")))
		o.Chart = chart
		return o
	}
	o := labs.Pass("%s It redirected at every step within its lifetime, answered 410 Gone at all %d steps after it and again a day later; "+
		"the link without a lifetime still redirected a day later (%d).", seen, goneN, after.Status)
	o.Chart = chart
	return o
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// restart stops p's instance as a crash would and empties its Redis keys,
// then builds the design again on the same env (same id, same tables) and
// puts the new instance in the probe, so the trial closes it.
func restart(ctx context.Context, t *labs.Trial, p *labs.Probe, old *instance) (*instance, error) {
	if err := old.halt(ctx); err != nil {
		return nil, err
	}
	ni, err := t.Lab.New(ctx, p.Env, p.Design)
	if err != nil {
		// Nobody owns the tables now: remove them here.
		cctx := context.WithoutCancel(ctx)
		return nil, errors.Join(err, old.dropTables(cctx), labs.DeleteKeys(cctx, old.rdb, old.env.Prefix))
	}
	p.Instance = ni
	c, ok := ni.(inner)
	if !ok {
		return nil, fmt.Errorf("shortener: rebuilt a %T, not a shortener instance", ni)
	}
	return c.core(), nil
}

// checkRestart creates and reads links, restarts the instance with empty
// caches, and reads them again.
func checkRestart(ctx context.Context, t *labs.Trial) labs.Outcome {
	suiteClock(t)
	p, in, err := launchCore(ctx, t)
	if err != nil {
		return labs.Broken(err)
	}
	want := map[string]string{}
	var order []string
	for i := range restartLinks {
		u := fmt.Sprintf("https://keep.example.org/doc/%d", i)
		l, err := createDirect(ctx, in, createRequest{URL: u})
		if errors.Is(err, errSpaceFull) || errors.Is(err, errNoFreeCode) {
			return labs.Fail("Creating the %dth link before the restart failed: %v (the code space of length %d is too small).", i+1, err, in.cfg.codeLen)
		}
		if err != nil {
			return labs.Broken(err)
		}
		want[l.Code] = u
		order = append(order, l.Code)
	}
	c, rep, err := create(ctx, p, map[string]any{"url": "https://keep.example.org/alias", "alias": "keep-me-1"})
	if err != nil {
		return labs.Broken(err)
	}
	if rep.Status != http.StatusCreated {
		return routeError(`POST shorten {"alias": "keep-me-1"}`, rep)
	}
	want[c.Code] = "https://keep.example.org/alias"
	order = append(order, c.Code)
	for _, code := range order {
		r := p.Do(ctx, http.MethodGet, "r/"+code, nil)
		if r.Status >= 500 {
			return routeError("GET r/"+code, r)
		}
		if !isRedirect(r.Status) || r.Header.Get("Location") != want[code] {
			return labs.Fail("Before any restart, GET r/%s answered %d with Location %q; the link was made for %s.", code, r.Status, clip(r.Header.Get("Location")), want[code])
		}
	}
	cachedBy := in.cfg.cache
	in2, err := restart(ctx, t, p, in)
	if err != nil {
		return labs.Broken(err)
	}
	var lost, wrong []string
	for _, code := range order {
		r := p.Do(ctx, http.MethodGet, "r/"+code, nil)
		if r.Status >= 500 {
			return routeError("GET r/"+code+" after the restart", r)
		}
		switch {
		case r.Status == http.StatusNotFound:
			lost = append(lost, code)
		case !isRedirect(r.Status) || r.Header.Get("Location") != want[code]:
			wrong = append(wrong, fmt.Sprintf("r/%s answered %d with Location %q, made for %s", code, r.Status, clip(r.Header.Get("Location")), want[code]))
		}
	}
	dbReads := in2.dbHits.Load()
	var reused []string
	for i := range restartAfter {
		l, err := createDirect(ctx, in2, createRequest{URL: fmt.Sprintf("https://keep.example.org/new/%d", i)})
		if errors.Is(err, errSpaceFull) || errors.Is(err, errNoFreeCode) {
			return labs.Fail("Creating the %dth link after the restart failed: %v.", i+1, err)
		}
		if err != nil {
			return labs.Broken(err)
		}
		if _, ok := want[l.Code]; ok {
			reused = append(reused, fmt.Sprintf("%s (was %s, now %s)", l.Code, want[l.Code], l.URL))
		}
	}
	// The old links still lead where they did after the new ones were made.
	for _, code := range order {
		r := p.Do(ctx, http.MethodGet, "r/"+code, nil)
		if r.Status >= 500 {
			return routeError("GET r/"+code+" after the restart", r)
		}
		if isRedirect(r.Status) && r.Header.Get("Location") != want[code] {
			wrong = append(wrong, fmt.Sprintf("r/%s now leads to %q, made for %s", code, clip(r.Header.Get("Location")), want[code]))
		}
	}
	n := len(order)
	seen := fmt.Sprintf("%d links were created and read (cache %s), then the instance restarted with Redis emptied and its memory gone.", n, cachedBy)
	var problems []string
	if len(lost) > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d links answered 404 after the restart (%s): they were not in the database, only in what the restart lost.",
			len(lost), n, listFirst(lost)))
	}
	if len(wrong) > 0 {
		problems = append(problems, fmt.Sprintf("%d answers were wrong: %s.", len(wrong), listFirst(wrong)))
	}
	if len(reused) > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d links created after the restart got codes an earlier link had (%s): a counter kept only in memory starts again after a restart.",
			len(reused), restartAfter, listFirst(reused)))
	}
	if len(problems) > 0 {
		return labs.Fail("%s %s", seen, strings.Join(problems, " "))
	}
	return labs.Pass("%s All %d still redirected to their URLs, read from the database (%d database reads); the %d links created after the restart got new codes, "+
		"and the old ones kept their meaning.", seen, n, dbReads, restartAfter)
}

// checkInvalid sends invalid creations through the route.
func checkInvalid(ctx context.Context, t *labs.Trial) labs.Outcome {
	suiteClock(t)
	p, in, err := launchCore(ctx, t)
	if err != nil {
		return labs.Broken(err)
	}
	long := "https://example.org/" + strings.Repeat("a", maxURLLen-len("https://example.org/"))
	bad := []struct {
		what  string
		body  map[string]any
		field string
	}{
		{"a javascript: URL", map[string]any{"url": "javascript:alert(document.cookie)"}, "url"},
		{"a data: URL", map[string]any{"url": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="}, "url"},
		{"an ftp: URL", map[string]any{"url": "ftp://files.example.org/setup.exe"}, "url"},
		{"a file: URL", map[string]any{"url": "file:///etc/passwd"}, "url"},
		{"credentials in the URL", map[string]any{"url": "https://admin:hunter2@bank.example.org/login"}, "url"},
		{"a user name before the host", map[string]any{"url": "https://paypal.com@phish.example.net/"}, "url"},
		{"no scheme", map[string]any{"url": "www.example.org/page"}, "url"},
		{"no host", map[string]any{"url": "https:///etc/passwd"}, "url"},
		{"2,049 characters", map[string]any{"url": long + "b"}, "url"},
		{"a space", map[string]any{"url": "https://example.org/a b"}, "url"},
		{"a line break", map[string]any{"url": "https://example.org/\r\nSet-Cookie: session=stolen"}, "url"},
		{"an empty URL", map[string]any{"url": ""}, "url"},
		{"no URL", map[string]any{}, "url"},
		{"a reserved alias", map[string]any{"url": "https://example.org/", "alias": "admin"}, "alias"},
		{"an alias with slashes", map[string]any{"url": "https://example.org/", "alias": "../../etc"}, "alias"},
		{"a negative lifetime", map[string]any{"url": "https://example.org/", "ttl_s": -1}, "ttl_s"},
	}
	var accepted, unnamed, wrongStatus []string
	for _, b := range bad {
		rep := p.Do(ctx, http.MethodPost, "shorten", b.body)
		if err := ctx.Err(); err != nil {
			return labs.Broken(err)
		}
		var e labs.ErrorBody
		_ = rep.JSON(&e)
		switch {
		case rep.Status == http.StatusCreated || rep.Status == http.StatusOK:
			var c Created
			_ = rep.JSON(&c)
			accepted = append(accepted, fmt.Sprintf("%s (answered %d with code %q)", b.what, rep.Status, c.Code))
		case rep.Status >= 500:
			return routeError("POST shorten with "+b.what, rep)
		case rep.Status != http.StatusBadRequest:
			wrongStatus = append(wrongStatus, fmt.Sprintf("%s answered %d", b.what, rep.Status))
		case e.Error.Message == "" || (e.Error.Fields[b.field] == "" && !strings.Contains(strings.ToLower(e.Error.Message), b.field)):
			unnamed = append(unnamed, fmt.Sprintf("%s: %s", b.what, clip(strings.TrimSpace(string(rep.Body)))))
		}
	}
	var refused []string
	for _, g := range []struct {
		what string
		url  string
	}{{"a URL of exactly 2,048 characters", long}, {"a URL with a port and a query", "http://shop.example.org:8080/cart?item=7&qty=2"}} {
		rep := p.Do(ctx, http.MethodPost, "shorten", map[string]any{"url": g.url})
		if rep.Status >= 500 {
			return routeError("POST shorten with "+g.what, rep)
		}
		if rep.Status != http.StatusCreated && rep.Status != http.StatusOK {
			refused = append(refused, fmt.Sprintf("%s answered %d: %s", g.what, rep.Status, clip(strings.TrimSpace(string(rep.Body)))))
		}
	}
	var problems []string
	if len(accepted) > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d invalid creations were accepted: %s. A shortener that takes these hides phishing, "+
			"script injection and leaked credentials behind an innocent-looking link.", len(accepted), len(bad), listFirst(accepted)))
	}
	if len(wrongStatus) > 0 {
		problems = append(problems, fmt.Sprintf("%d were refused, but not with 400: %s.", len(wrongStatus), listFirst(wrongStatus)))
	}
	if len(unnamed) > 0 {
		problems = append(problems, fmt.Sprintf("%d answered 400 without naming the field: %s.", len(unnamed), listFirst(unnamed)))
	}
	if len(refused) > 0 {
		problems = append(problems, fmt.Sprintf("Valid links were refused: %s.", listFirst(refused)))
	}
	if len(problems) > 0 {
		return labs.Fail("%s", strings.Join(problems, " "))
	}
	return labs.Pass("All %d invalid creations answered 400 naming the field (javascript:, data:, ftp: and file: URLs, credentials, no scheme, no host, "+
		"2,049 characters, a space, a line break, an empty or missing URL, a reserved alias, an alias with slashes, a negative lifetime), "+
		"and a URL of exactly 2,048 characters and one with a port and a query were accepted. The lab counted %d rejected creations.",
		len(bad), in.rejected.Load())
}

// hotLink makes a load run redirect one code whatever the key.
type hotLink struct {
	labs.Instance
	code string
}

func (h hotLink) Hit(ctx context.Context, _ string) (int, error) { return h.Instance.Hit(ctx, h.code) }

// checkHot measures redirects of one hot link under concurrency, on the
// machine's clock: latency is reported, never graded.
func checkHot(ctx context.Context, t *labs.Trial) labs.Outcome {
	p, in, err := launchCore(ctx, t)
	if err != nil {
		return labs.Broken(err)
	}
	l, err := createDirect(ctx, in, createRequest{URL: "https://viral.example.org/cat-video"})
	if err != nil {
		return labs.Broken(err)
	}
	before := in.totals()
	sum := labs.RunLoad(ctx, hotLink{p.Instance, l.Code}, labs.LoadSpec{Requests: hotRequests, Concurrency: hotConcurrency, Keys: 1})
	if err := ctx.Err(); err != nil {
		return labs.Broken(err)
	}
	after := in.totals()
	redirected := 0
	for s, n := range sum.ByStatus {
		var code int
		_, _ = fmt.Sscan(s, &code)
		if isRedirect(code) {
			redirected += n
		}
	}
	if redirected == 0 {
		return labs.Broken(fmt.Errorf("none of %d redirects of the hot link succeeded: %v", sum.Requests, sum.ByStatus))
	}
	var statuses []string
	keys := make([]string, 0, len(sum.ByStatus))
	for s := range sum.ByStatus {
		keys = append(keys, s)
	}
	sort.Strings(keys)
	for _, s := range keys {
		statuses = append(statuses, fmt.Sprintf("%d × %s", sum.ByStatus[s], s))
	}
	return labs.Pass("%s redirects of one hot link, %d in flight: p50 %.3f ms, p99 %.3f ms, %s redirects/s (%s). "+
		"Served by process memory %d times, Redis %d, the database %d (cache %s). Measured in process, without the network.",
		thousands(sum.Requests), hotConcurrency, sum.P50MS, sum.P99MS, thousands(int(sum.RatePerS)), strings.Join(statuses, ", "),
		after.LocalHits-before.LocalHits, after.RedisHits-before.RedisHits, after.DBHits-before.DBHits, in.cfg.cache)
}
