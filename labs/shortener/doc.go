// Package shortener is the URL shortener lab: links created with a code
// from a counter, a random draw or a hash prefix, kept in sharded tables of
// the database, and redirected through up to two cache tiers (process
// memory, then Redis) with 301, or 302 when clicks are counted.
//
// The lab makes the lesson's claims observable: the collisions and retries
// of each code generator and when its code space runs out, which tier
// served each redirect, how many keys move when shards are added under
// modulo and under consistent hashing, and that links live in the database
// (a restart with empty caches keeps every code working).
//
// # The lab's HTTP contract
//
// Paths are relative to the instance (/api/labs/shortener/instances/{id}
// in the app). A learner's own shortener serves the same routes at its
// root, and the exercise's checks grade either one through these routes
// alone (see labs.Target). Errors are the API's one shape, {"error":
// {"code", "message", "fields"}}, naming the field at fault.
//
//	POST /shorten {"url", "alias"?, "ttl_s"?}
//	    Creates a link: 201 Created (Location: the short URL) with
//	    {"code", "path": "r/{code}", "short_url", "url", "expires_at_ms"}
//	    (null: never); 200 with "existing": true when hash_prefix finds the
//	    same URL already shortened. A URL that is not an absolute http or
//	    https URL of at most 2,048 characters without credentials, a
//	    reserved or malformed alias, or a ttl_s outside 1 to ten years is a
//	    400 naming url, alias or ttl_s (an unreadable body names "body"; one
//	    over 8 KiB is a 413). A taken alias is a 409 naming alias; more than
//	    20 creations a second from one client address a 429 with
//	    Retry-After; a code space used up a 503 naming code_length.
//	GET /r/{code}
//	    301 (or 302 with Cache-Control: no-store when clicks are counted)
//	    with Location: the URL and X-Served-By: the tier that found the
//	    link (local, redis or database); 404 for an unknown code, 410 for
//	    an expired one, both naming "code".
//	POST /batch {"count"} or {"urls": [...]}
//	    Creates links at once, without the per-client limit: count of them
//	    (1 to 10,000, the lab's own URLs) to compare the generators, or the
//	    given urls (1 to 1,000, each validated as POST shorten's url). The
//	    BatchResult: {"requested", "created", "failed", "collisions",
//	    "first_failed", "code_space", "links", "sample", …}; for urls also
//	    "results", one per URL in order: {"code"}, or {"error":
//	    "space_full" | "no_free_code"} when no free code was found. 409
//	    while another batch runs.
//	GET /links?after=&limit=
//	    The stored links, a page at a time (limit 1 to 1,000, default
//	    1,000): {"links": [{"code", "url", "expires_at_ms"?, "shard"}],
//	    "next"}. Send next as after for the following page; "" on the last.
//	GET /links/{code}
//	    What r/{code} would answer without being a click, which tier served
//	    the lookup, the shard and table holding it, and click counts: a
//	    LinkInfo (404 when there is no such link).
//	GET /shards?code=
//	    How the links spread over the shard tables: a ShardsView.
//	POST /reshard {"shards", "sharding"?, "dry_run"?}
//	    Moves the links to a new layout (or says how many would move): a
//	    ReshardResult.
//	GET /stats
//	    The design and the counts since the instance started, as State:
//	    {"cache", "code_space", "links", "local_entries", "local_peak",
//	    "clicks_in_process", "ring_points", "totals": {"created",
//	    "rejected", "collisions", "redirects", "local_hits", "redis_hits",
//	    "db_hits", "click_pushes", "crashes", …}, …}.
//	POST /crash
//	    The redirect process dies as a crash would and a new one takes
//	    over: the clicks counted in process but not yet pushed to Redis are
//	    lost, and the near cache starts empty; Redis and the database keep
//	    what they hold. A CrashReport: {"clicks_lost", "local_dropped",
//	    "message"}.
//	GET /clicks
//	    Where click counting stands, from memory alone: {"analytics",
//	    "click_push_ms", "in_process", "pushes", "to_redis", "to_database",
//	    "lost_in_crashes"}.
//
// What the checks use: POST shorten, GET r/{code} (status and Location),
// POST batch with urls (the 10,000 links, and the links of the restart
// check), GET links (is each code stored with its URL) and GET stats
// (which tier served the redirects, creations refused). GET links and GET
// stats are optional for a service: without GET links every code is
// followed through r/{code} instead, and without GET stats the messages
// leave out the counts. The restart check needs a target that can restart
// (labs.Restart); another is skipped with a sentence. The expiry check
// moves the suite's clock on a built-in design; on a service it reads in
// real time and does not judge the reads the end of the lifetime may
// fall in.
//
// # The ladder
//
// Step 1 (shortener-basics) is above. Step 2 (shortener-viral) sends one
// viral link and the demo links 2,000 redirects a second on the suite's
// clock, one after another, and judges which tier answered each (X-Served-By)
// against a near-cache budget (local_capacity, least recently used evicted
// per stripe), then counts clicks through a crash at its worst moment
// (POST crash) against the Redis writes click_push_ms costs. Step 3
// (shortener-grow) starts the design on 4 shards with 5,000 links, grows
// it to 5 with POST reshard and judges the share that moved, the shards'
// shares afterwards (GET shards) and the ring's size (vnodes × shards).
//
// # The build exercise
//
// In shortener-build the learner writes the service (Go or Python, starter
// kits in kits/) and the grader runs 2 replicas of it round-robin behind
// one address, on one PostgreSQL and one Redis, in the sandbox. The same
// routes are its contract (GET links optional, GET stats not needed), and
// the checks above that work by URL judge it, with two of its own: every
// replica killed and started again (the restart check, on a service's
// Restart: memory lost, the database and Redis kept), and Redis paused
// (labs.RedisDown): links created and read before must still redirect,
// each answer within 10 s, an unknown code still 404, and all redirect
// again once Redis is back. A service's refusals of a batch stand: codes of
// up to 7 characters do not collide by chance, so they are not sent again.
package shortener
