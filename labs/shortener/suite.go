package shortener

import (
	"fmt"
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

// Exercises are the shortener's graded tasks: choosing a design of the
// lab's own shortener, and building one.
func (l lab) Exercises() []labs.Exercise {
	return []labs.Exercise{l.basics(), viralExercise(), growExercise(), buildExercise()}
}

// basics is the design exercise.
func (lab) basics() labs.Exercise {
	return labs.Exercise{
		ID:    "shortener-basics",
		Lab:   "shortener",
		Step:  1,
		Title: "A URL shortener whose links keep working",
		Card: []string{
			"Codes are at most 7 characters long.",
			"10,000 links created one after another get 10,000 different codes, and each code leads to its own URL.",
			"GET r/{code} redirects (301, or 302 when clicks are counted) to exactly the URL the link was made for; an unknown code answers 404.",
			"A link created with a lifetime (ttl_s) works until the lifetime ends, and answers 410 Gone after it.",
			"Links are kept in the database: after a restart that loses the process's memory and everything in Redis, every link still redirects, and new links get new codes.",
			"Only absolute http and https URLs of at most 2,048 characters without credentials are accepted; anything else, and a reserved or unsafe alias, answers 400 naming the problem.",
		},
		Scale: "10,000 links stand for about 4 minutes of the lesson's average of 38.6 creations a second. They are created with POST batch, 500 per request (the lab creates them 8 at a time), " +
			"which the creation limit of 20 per second per client does not apply to (it would stretch them over 8 minutes); every other link is created with POST shorten. " +
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
					labs.Thousands(bulkLinks), labs.Thousands(bulkLinks), maxCodeLen, bulkRouteStep)},
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
					labs.Thousands(hotRequests), hotConcurrency)},
		},
		References: references,
	}
}
