package shortener

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/labs"
)

func testRestart(t *testing.T, env labs.Env) {
	ctx := context.Background()
	e := fresh(t, env)
	in := launch(t, e, map[string]any{"codegen": GenSequence, "cache": CacheLocal})
	var links []link
	for i := range 30 {
		links = append(links, mustCreate(t, in, fmt.Sprintf("https://example.org/keep/%d", i)))
	}
	for _, l := range links {
		expectRedirect(t, in, l.Code, 301, l.URL)
	}
	if _, err := in.reshard(ctx, newLayout(6, ShardConsistent), false); err != nil {
		t.Fatal(err)
	}
	if err := in.Halt(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := env.Redis.Keys(ctx, e.Prefix+"*").Result(); err != nil || len(n) > 0 {
		t.Fatalf("keys after halt: %v %v", n, err)
	}
	if err := in.Close(ctx); err != nil || countTables(t, e) == 0 {
		t.Fatalf("Close after halt removed the tables (%v)", err)
	}
	again := launch(t, e, map[string]any{"codegen": GenSequence, "cache": CacheLocal})
	if !again.rebuilt || again.layout.shards != 6 || again.layout.sharding != ShardConsistent || len(again.hot) != seedLinks {
		t.Fatalf("rebuilt %v, layout %d %s, %d demo links", again.rebuilt, again.layout.shards, again.layout.sharding, len(again.hot))
	}
	for _, l := range links {
		expectRedirect(t, again, l.Code, 301, l.URL)
	}
	if again.dbHits.Load() != int64(len(links)) {
		t.Errorf("%d database reads for %d links after the restart", again.dbHits.Load(), len(links))
	}
	// The counter goes on after the block the old process held.
	next := mustCreate(t, again, "https://example.org/after")
	id, _ := decode(next.Code)
	if last, _ := decode(links[len(links)-1].Code); id <= last {
		t.Errorf("first code after the restart %s (id %d) is not after %s (id %d)", next.Code, id, links[len(links)-1].Code, last)
	}
	if s, _ := again.Hit(ctx, "k0"); s != 301 {
		t.Errorf("Hit k0 after the restart: %d", s)
	}
}

func testReshard(t *testing.T, env labs.Env) {
	in := launch(t, fresh(t, env), map[string]any{"cache": CacheNone, "shards": 4, "sharding": ShardModulo})
	dry := mustDecode[ReshardResult](t, serve(in, http.MethodPost, "reshard", `{"shards": 5, "dry_run": true}`))
	if !dry.DryRun || dry.Links != seedLinks || dry.Moved < 700 || dry.Moved > 900 || dry.ExpectedPct != 80 || in.layout.shards != 4 {
		t.Fatalf("dry run %+v, layout %d", dry, in.layout.shards)
	}
	res := mustDecode[ReshardResult](t, serve(in, http.MethodPost, "reshard", `{"shards": 5}`))
	if res.Moved != dry.Moved || in.layout.shards != 5 || in.keysMoved.Load() != int64(res.Moved) {
		t.Fatalf("reshard %+v", res)
	}
	view := mustDecode[ShardsView](t, serve(in, http.MethodGet, "shards?code="+in.hot[7], ""))
	if view.Links != seedLinks || len(view.PerShard) != 5 || view.Code == nil || !view.Code.Stored || view.Code.Shard != in.layout.shardOf(in.hot[7]) {
		t.Fatalf("shards %+v", view)
	}
	for i, s := range view.PerShard {
		if int(s.Links) != res.After[i] || len(s.Sample) == 0 {
			t.Errorf("shard %d: %+v, reshard said %d", i, s, res.After[i])
		}
	}
	// Every link is where the new layout looks for it.
	for _, c := range in.hot {
		if _, ok, err := in.read(context.Background(), c); err != nil || !ok {
			t.Fatalf("%s not found after resharding: %v", c, err)
		}
	}
	testReshardRing(t, in)
	for _, body := range []string{`{}`, `{"shards": 0}`, `{"shards": 17}`, `{"shards": "5"}`, `{"shards": 3, "sharding": "range"}`, `{"shards": 3, "x": 1}`, `nope`} {
		if rec := serve(in, http.MethodPost, "reshard", body); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"error"`) {
			t.Errorf("reshard %s: %d %s", body, rec.Code, rec.Body)
		}
	}
}

// testReshardRing moves in's links onto the ring (most move), adds a
// shard (about 1/6 move) and removes four (their tables go).
func testReshardRing(t *testing.T, in *instance) {
	t.Helper()
	ctx := context.Background()
	if _, err := in.reshard(ctx, newLayout(5, ShardConsistent), false); err != nil {
		t.Fatal(err)
	}
	res := mustDecode[ReshardResult](t, serve(in, http.MethodPost, "reshard", `{"shards": 6}`))
	if res.To.Sharding != ShardConsistent || res.MovedPct < 8 || res.MovedPct > 27 {
		t.Errorf("consistent 5 → 6 moved %.1f%%", res.MovedPct)
	}
	// Removing shards drops their tables once empty.
	if _, err := in.reshard(ctx, newLayout(2, ShardConsistent), false); err != nil {
		t.Fatal(err)
	}
	if n := countTables(t, in.env); n != 4 { // meta, clicks and 2 shards
		t.Errorf("%d tables after resharding to 2", n)
	}
	for _, c := range in.hot {
		expectRedirect(t, in, c, 301, mustLink(t, in, c).URL)
	}
}

func mustLink(t *testing.T, in *instance, code string) link {
	t.Helper()
	l, ok, err := in.read(context.Background(), code)
	if err != nil || !ok {
		t.Fatalf("read %s: %v %v", code, ok, err)
	}
	return l
}

// Two-character codes run out: the counter after exactly 3,844, random
// codes a little before, after a growing number of collisions.
func testCodeSpace(t *testing.T, env labs.Env) {
	ctx := context.Background()
	t.Run(GenSequence, func(t *testing.T) {
		in := launch(t, fresh(t, env), map[string]any{"codegen": GenSequence, "code_length": 2, "cache": CacheNone})
		n := 0
		for ; n < 4000; n++ {
			if _, _, err := in.create(ctx, createRequest{URL: fmt.Sprintf("https://example.org/%d", n)}); err != nil {
				if err != errSpaceFull {
					t.Fatal(err)
				}
				break
			}
		}
		if n != 3844-seedLinks || in.collisions.Load() != 0 {
			t.Errorf("%d links created after the demo links, %d collisions; want %d and 0", n, in.collisions.Load(), 3844-seedLinks)
		}
		rec := serve(in, http.MethodPost, "shorten", `{"url": "https://example.org/one-more"}`)
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "3,844 codes of length 2") {
			t.Errorf("one more: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run(GenRandom, func(t *testing.T) {
		in := launch(t, fresh(t, env), map[string]any{"codegen": GenRandom, "code_length": 2, "cache": CacheNone})
		var made, failed int
		for i := range 2500 {
			switch _, _, err := in.create(ctx, createRequest{URL: fmt.Sprintf("https://example.org/%d", i)}); {
			case err == nil:
				made++
			case err == errNoFreeCode:
				failed++
			default:
				t.Fatal(err)
			}
		}
		// The first failure comes at 40% to 60% full; by 2,500 attempts
		// about one in ten fails.
		if made < 1500 || failed < 10 || in.collisions.Load() < int64(made)/4 {
			t.Errorf("%d of 2,500 links created, %d failed, %d collisions", made, failed, in.collisions.Load())
		}
		rec := serve(in, http.MethodPost, "shorten", `{"url": "https://example.org/one-more"}`)
		if rec.Code == http.StatusCreated {
			return // a free code can still turn up by chance
		}
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "nearly used up") {
			t.Errorf("one more: %d %s", rec.Code, rec.Body)
		}
	})
}

// serveFrom is serve from a client address.
