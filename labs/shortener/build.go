package shortener

import (
	"embed"
	"fmt"
	"io/fs"

	"github.com/sdworkbook/workbook/labs"
)

// kits are the build exercise's starter kits, a directory per language.
//
//go:embed all:kits
var kits embed.FS

// The build exercise's own checks.
const (
	checkNameReplicaRestart = "replicas killed and restarted: links survive"
	checkNameRedisDown      = "Redis stopped: redirects still served from the database"
)

// buildReplicas is how many copies of the learner's service the checks
// reach, round-robin behind one address.
const buildReplicas = 2

// buildContract is the service's contract, as the exercise page and the
// starter kits' README show it.
var buildContract = []string{
	"Your service is an HTTP server listening on `0.0.0.0:$PORT`. The grader runs **2 replicas** of it behind one address, " +
		"spreading requests round-robin, beside one PostgreSQL database and one Redis that both replicas share. " +
		"Each check starts fresh replicas on an empty database and an empty Redis database.",
	"Environment: `PORT` (8080), `REPLICA_ID` (1 or 2), `DATABASE_URL` (a PostgreSQL URL, " +
		"`postgres://user:password@postgres:5432/name?sslmode=disable`) and `REDIS_URL` (`redis://[:password@]host:port/db`).",
	"Readiness: `GET /healthz` answers 200 within 20 s of the start. Create your tables when the service starts " +
		"(`CREATE TABLE IF NOT EXISTS`); both replicas start at once, so let one do it at a time (a PostgreSQL advisory lock does).",
	"`POST /shorten` with `{\"url\": \"…\", \"alias\": \"…\", \"ttl_s\": 3600}` (`alias` and `ttl_s` optional) creates a link: " +
		"**201 Created** with `Location:` the short URL and `{\"code\", \"path\": \"r/{code}\", \"short_url\": \"http://{Host}/r/{code}\", \"url\", \"expires_at_ms\"}`, " +
		"where `expires_at_ms` is the Unix time in milliseconds at which the link stops working (`null` without `ttl_s`). " +
		"A generated code is at most 7 characters of `0-9 A-Z a-z`; two links never share a code, and a code never changes meaning, across replicas and restarts.",
	"What `POST /shorten` accepts: `url` an absolute `http` or `https` URL of at most 2,048 characters, with a host, " +
		"without credentials (`user:pass@`), spaces or control characters; `alias` 3 to 32 characters of `A-Z a-z 0-9 - _`, " +
		"case-sensitive (`Sale` and `sale` are two links), not a reserved word (`admin`, `api`, `r`, `shorten`, `batch`, `links`, `healthz`, …); " +
		"`ttl_s` a whole number of seconds from 1 to 315,360,000 (ten years).",
	"Refusals are JSON naming the field: `{\"error\": {\"code\": \"invalid\", \"message\": \"a sentence\", \"fields\": {\"url\": \"a sentence\"}}}`. " +
		"Invalid input is **400** naming `url`, `alias` or `ttl_s` (a body that is not JSON names `body`); an alias already taken is **409** naming `alias`.",
	"`GET /r/{code}` answers **302 Found** with `Location:` exactly the URL the link was made for (301, 307 and 308 pass the checks too, " +
		"but browsers keep a 301 for good, also after the link has expired); **404** for a code no link has; " +
		"**410 Gone** from the moment the link's `ttl_s` has passed since its creation, on every replica, whatever a cache still holds.",
	"`POST /batch` with `{\"urls\": [\"…\", …]}` (1 to 1,000 URLs, each valid as for `/shorten`, else 400 naming `urls`) creates a link per URL, " +
		"without alias or lifetime: **200** with `{\"results\": [{\"code\": \"…\"} or {\"error\": \"why\"}, …]}` in the order of `urls`, " +
		"and, optionally, `\"collisions\"`: how many codes were drawn again because they were taken. The grader creates its 10,000 links this way.",
	"`GET /links?after=&limit=` (optional) lists the stored links ordered by code, `limit` (1 to 1,000; 1,000 when left out) of them after the code `after`: " +
		"`{\"links\": [{\"code\", \"url\", \"expires_at_ms\"}], \"next\"}`, where `next` is the `after` of the following page and `\"\"` on the last. " +
		"Without it (404) the grader follows every one of the 10,000 codes through `GET /r/{code}` instead, which takes longer.",
	"Any other route answers 404. Nothing the grader sends should make the service answer 5xx: a 5xx, or no answer, fails the check that saw it.",
	"Limits: 256 MiB of memory, 1 CPU, 128 processes, a read-only filesystem except `/tmp`, and no network beyond PostgreSQL (`postgres`), " +
		"Redis (`redis`) and the grader's requests.",
}

// buildExercise is the build exercise: the learner's own shortener, run
// as 2 replicas on PostgreSQL and Redis, judged by the lab's checks that
// work by URL and two of its own.
func buildExercise() labs.Exercise {
	basics := lab{}.basics()
	byName := map[string]labs.Check{}
	for _, c := range basics.Checks {
		byName[c.Name] = c
	}
	scored := func(name string, points int) labs.Check {
		c := byName[name]
		c.Points = points
		return c
	}
	expiry := scored(checkNameExpiry, 15)
	expiry.Requirement = "A link created with ttl_s 1 redirects at every read before 1 s and answers 410 Gone at every read after it " +
		"(the grader reads it every 100 ms of real time up to 2.5 s, and does not judge the reads the end of its lifetime may have fallen in); " +
		"a link without ttl_s keeps redirecting."
	return labs.Exercise{
		ID:    "shortener-build",
		Lab:   "shortener",
		Title: "Build it: a URL shortener that survives losing a replica and its cache",
		Card: []string{
			"Your service runs as 2 replicas sharing one PostgreSQL and one Redis; requests are spread round-robin, so any replica may create a link and any may be asked for it.",
			"10,000 links created with POST batch get 10,000 different codes of at most 7 characters, each leading to its own URL.",
			"GET r/{code} redirects (302) to exactly the URL the link was made for; a code no link has answers 404.",
			"A link created with a lifetime (ttl_s) works until the lifetime ends, and answers 410 Gone after it.",
			"Only absolute http and https URLs of at most 2,048 characters without credentials are accepted; anything else, a reserved or unsafe alias, and a bad lifetime answer 400 naming the field.",
			"When every replica is killed and started again, every link still redirects, and new links get new codes.",
			"When Redis stops, redirects go on, served from the database: each within 10 s.",
		},
		Scale: "The checks run on real time against your containers: nothing is scaled, and each check starts fresh replicas on an empty database. " +
			"Time is judged with wide margins so a busy grading machine cannot fail a correct service: the expiry check reads a link with ttl_s 1 every 100 ms for 2.5 s " +
			"and does not judge the reads the end of its lifetime may have fallen in (the time its creation took); while Redis is stopped each redirect has 10 s to answer. " +
			"10,000 links stand for about 4 minutes of the lesson's 38.6 creations a second. The hot-redirect latency is measured through the grader's relay and reported, not graded.",
		Hint:    "Read the URL shortener case study: generating codes without two servers picking the same one, expiry, abuse, and why the database, not the cache, is the source of truth.",
		NeedsDB: true,
		Checks: []labs.Check{
			scored(checkNameDistinct, 20),
			scored(checkNameRedirects, 15),
			expiry,
			scored(checkNameInvalid, 15),
			{Name: checkNameReplicaRestart, Points: 15, Run: checkRestart,
				Requirement: fmt.Sprintf("%d links created and read, then every replica killed and started again (their memory lost; the database and Redis kept): "+
					"all %d still redirect to their URLs, and %d links created afterwards get codes none of the earlier links had.", restartLinks+1, restartLinks+1, restartAfter)},
			{Name: checkNameRedisDown, Points: 20, Run: checkRedisDown,
				Requirement: fmt.Sprintf("%d links created and each read %d times, then Redis stopped (it accepts connections and never answers): "+
					"each link read %d times more still redirects to its URL, each answer within %d s, and a code no link has answers 404; "+
					"after Redis is back, every link still redirects.", outageLinks, outageReads, outageReads, int(outageAnswer.Seconds()))},
			byName[checkNameHot],
		},
		Build: &labs.Build{
			Replicas: buildReplicas,
			Redis:    true,
			Postgres: true,
			Contract: buildContract,
			Starters: starters(),
		},
	}
}

// starters are the kits as a file system of go/… and python/….
func starters() fs.FS {
	sub, err := fs.Sub(kits, "kits")
	if err != nil {
		panic(err) // kits is embedded: it always has the directory
	}
	return labs.StarterKits(sub)
}
