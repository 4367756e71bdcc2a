package shortener

import (
	"context"
	"fmt"
	"time"
)

// LayoutInfo names a shard layout.
type LayoutInfo struct {
	Shards   int    `json:"shards"`
	Sharding string `json:"sharding"`
}

// ReshardResult is what a reshard moved (or, dry, would move).
type ReshardResult struct {
	From        LayoutInfo `json:"from"`
	To          LayoutInfo `json:"to"`
	DryRun      bool       `json:"dry_run"`
	Links       int        `json:"links"`
	Moved       int        `json:"moved"`
	MovedPct    float64    `json:"moved_pct"`
	ExpectedPct float64    `json:"expected_pct"`
	Before      []int      `json:"links_per_shard_before"`
	After       []int      `json:"links_per_shard_after"`
	DurationMS  float64    `json:"duration_ms"`
	Note        string     `json:"note"`
}

// move is a pair of shards links move between.
type move struct{ src, dst int }

// reshard moves every link whose shard differs under to, in one
// transaction, while creations and database lookups wait (cached redirects
// go on). Tables of removed shards are dropped once empty.
func (in *instance) reshard(ctx context.Context, to layout, dry bool) (ReshardResult, error) {
	in.reshardMu.Lock()
	defer in.reshardMu.Unlock()
	start := time.Now()
	in.layoutMu.Lock()
	defer in.layoutMu.Unlock()
	from := in.layout
	res, moves, err := in.planReshard(ctx, from, to)
	if err != nil {
		return res, err
	}
	res.DryRun = dry
	if !dry {
		if err := in.applyReshard(ctx, from, to, moves); err != nil {
			return res, err
		}
		in.keysMoved.Add(int64(res.Moved))
		in.env.Metrics.Count("keys_moved", float64(res.Moved))
	}
	res.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	verb := "moved"
	if dry {
		verb = "would move"
	}
	in.env.Metrics.Eventf("info", "reshard %d (%s) → %d (%s) %s %d of %d links (%.1f%%; about %.0f%% expected)",
		from.shards, from.sharding, to.shards, to.sharding, verb, res.Moved, res.Links, res.MovedPct, res.ExpectedPct)
	if !dry {
		r := res
		in.lastReshard.Store(&r)
	}
	return res, nil
}

// planReshard finds where every link of from goes under to. The caller
// holds layoutMu.
func (in *instance) planReshard(ctx context.Context, from, to layout) (ReshardResult, map[move][]string, error) {
	res := ReshardResult{From: LayoutInfo{from.shards, from.sharding}, To: LayoutInfo{to.shards, to.sharding},
		Before: make([]int, from.shards), After: make([]int, to.shards), ExpectedPct: 100 * expectedMove(from, to)}
	moves := map[move][]string{}
	for i := range from.shards {
		codes, err := in.shardCodes(ctx, i)
		if err != nil {
			return res, nil, err
		}
		res.Before[i] = len(codes)
		for _, c := range codes {
			j := to.shardOf(c)
			res.After[j]++
			if j != i {
				moves[move{i, j}] = append(moves[move{i, j}], c)
				res.Moved++
			}
		}
		res.Links += len(codes)
	}
	if res.Links > 0 {
		res.MovedPct = 100 * float64(res.Moved) / float64(res.Links)
	}
	res.Note = reshardNote(from, to, res)
	return res, moves, nil
}

// applyReshard moves the links in one transaction and switches the layout
// to to. The caller holds layoutMu.
func (in *instance) applyReshard(ctx context.Context, from, to layout, moves map[move][]string) error {
	tx, err := in.env.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := in.createShardTables(ctx, tx, to.shards); err != nil {
		return err
	}
	for m, codes := range moves {
		if err := in.moveCodes(ctx, tx, m.src, m.dst, codes); err != nil {
			return err
		}
	}
	if err := in.writeLayout(ctx, tx, to); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	in.layout = to
	if to.shards < from.shards {
		if err := in.dropShardTables(ctx, to.shards, from.shards); err != nil {
			in.env.Log.Warn("shortener: dropping emptied shard tables", "err", err)
		}
	}
	return nil
}

func reshardNote(from, to layout, res ReshardResult) string {
	switch {
	case from.sharding != to.sharding:
		return "Changing the scheme reshuffles almost everything: a link stays only where both schemes happen to pick the same shard."
	case from.shards == to.shards:
		return "Same layout: nothing moves."
	case to.sharding == ShardModulo:
		return fmt.Sprintf("With modulo a link stays only if hash mod %d equals hash mod %d: so about %.0f%% move. "+
			"Consistent hashing would move about %.0f%%.", from.shards, to.shards, res.ExpectedPct,
			100*expectedMove(newLayout(from.shards, ShardConsistent), newLayout(to.shards, ShardConsistent)))
	case to.shards > from.shards:
		return fmt.Sprintf("On the ring the new shards take over arcs from every old shard, and nothing else moves: about %d/%d of the links.",
			to.shards-from.shards, to.shards)
	default:
		return fmt.Sprintf("On the ring only the removed shards' links move, to their clockwise neighbours: about %d/%d of the links.",
			from.shards-to.shards, from.shards)
	}
}
