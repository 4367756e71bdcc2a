package shortener

import "github.com/sdworkbook/workbook/labs"

// pokes are the ready-made requests the lab's page offers.
func pokes() []labs.Poke {
	return []labs.Poke{
		{Label: "Shorten a URL", Method: "POST", Path: "shorten", Body: `{"url": "https://example.org/a/long/path?q=1", "alias": "hello", "ttl_s": null}`,
			Help: "201 with the code and short URL; an alias must be free and not a reserved word. Clear the alias for a generated code."},
		{Label: "Inspect a link", Method: "GET", Path: "links/{code}", Params: []labs.PokeParam{{Name: "code", Value: "hello"}},
			Help: "What r/{code} would answer (301, 302, 404 or 410), from which tier and shard, without counting a click."},
		{Label: "Where links live", Method: "GET", Path: "shards"},
		{Label: "Reshard (dry run)", Method: "POST", Path: "reshard", Body: `{"shards": 5, "dry_run": true}`,
			Help: "How many links would move to another shard."},
		{Label: "Reshard onto the ring", Method: "POST", Path: "reshard", Body: `{"shards": 5, "sharding": "consistent_hash"}`},
		{Label: "Click counting", Method: "GET", Path: "clicks",
			Help: "Clicks held in process (what a crash now would lose), pushes to Redis so far, and clicks lost in crashes."},
		{Label: "Crash the process", Method: "POST", Path: "crash",
			Help: "The redirect process dies and a new one takes over: clicks counted in process but not yet pushed to Redis are lost, and the near cache starts empty."},
		{Label: "Create a batch", Method: "POST", Path: "batch", Body: `{"count": 1000}`, Help: "Creates links in bulk to compare collisions."},
		{Label: "Stored links", Method: "GET", Path: "links?limit={limit}", Params: []labs.PokeParam{{Name: "limit", Value: "20"}},
			Help: "The links in the database, shard by shard; send next as after for the following page."},
	}
}
