package shortener

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/sdworkbook/workbook/labs"
)

// Step 3: growing from 4 shards to 5 while moving few links.
const (
	growCreate     = 4000 // links created besides the 1,000 demo links
	growFrom       = 4
	growTo         = 5
	growFollowStep = 10   // every 10th link is followed after the move
	maxMovedShare  = 0.25 // 1.25 × the new shard's fair share
	minShardShare  = 0.8  // × the fair share of the hash space, after the move
	maxShardShare  = 1.2
	maxRingPoints  = 2000 // the ring every router keeps, at 5 shards
)

// growRun is what the growth saw.
type growRun struct {
	links, moved int
	shares       []float64 // each shard's share of the links after the move, × 5
	ringShares   []float64 // each shard's share of the hash space, × 5
	ringPoints   int
	lost, wrong  []string // codes not found after the move, or found elsewhere
	followed     int
	design       labs.Design
}

// runGrow starts the design on 4 shards, creates the links, moves to 5
// shards with POST reshard and follows every 10th link afterwards.
func runGrow(ctx context.Context, t *labs.Trial) (*growRun, error) {
	tg, err := t.Start(ctx, map[string]any{"shards": growFrom})
	if err != nil {
		return nil, err
	}
	if _, err := labs.CallJSON[BatchResult](ctx, tg, http.MethodPost, "/batch", map[string]any{"count": growCreate}, http.StatusOK); err != nil {
		return nil, err
	}
	before, ok, err := storedLinks(ctx, tg)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, failed("GET links listed no links.")
	}
	res, err := labs.CallJSON[ReshardResult](ctx, tg, http.MethodPost, "/reshard", map[string]any{"shards": growTo}, http.StatusOK)
	if err != nil {
		return nil, err
	}
	run := &growRun{links: res.Links, moved: res.Moved, design: tg.Design()}
	view, err := labs.CallJSON[ShardsView](ctx, tg, http.MethodGet, "/shards", nil, http.StatusOK)
	if err != nil {
		return nil, err
	}
	run.ringPoints = view.VnodesPerShard * view.Shards
	for _, s := range view.PerShard {
		run.shares = append(run.shares, s.Share*float64(view.Shards))
		run.ringShares = append(run.ringShares, s.RingShare)
	}
	return run, run.follow(ctx, tg, before)
}

// follow reads every growFollowStep-th link (in code order) through
// r/{code}: none was read before the move, so each is looked up in the
// shard the new layout names.
func (run *growRun) follow(ctx context.Context, tg labs.Target, want map[string]string) error {
	codes := make([]string, 0, len(want))
	for c := range want {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	for i := 0; i < len(codes); i += growFollowStep {
		code := codes[i]
		rep, err := follow(ctx, tg, code, " after the move")
		if err != nil {
			return err
		}
		run.followed++
		switch {
		case rep.Status == http.StatusNotFound:
			run.lost = append(run.lost, code)
		case !leadsTo(rep, want[code]):
			run.wrong = append(run.wrong, code)
		}
	}
	return nil
}

// schemeWords words the design's sharding.
func schemeWords(d labs.Design) string {
	if d == nil {
		return ""
	}
	if d.String("sharding") == ShardModulo {
		return "With sharding modulo a link stays only where hash mod 4 equals hash mod 5: 4 in 5 move."
	}
	return fmt.Sprintf("With consistent_hash and vnodes %d, the new shard's %d points on the ring take over their arcs.", d.Int("vnodes"), d.Int("vnodes"))
}

// checkFewMoved: the growth moves about the new shard's share, and every
// link is still found.
func checkFewMoved(ctx context.Context, t *labs.Trial) labs.Outcome {
	run, err := runGrow(ctx, t)
	if err != nil {
		return outcomeOf(err)
	}
	if len(run.lost)+len(run.wrong) > 0 {
		return labs.Fail("After the move %d of %d links followed were not found (such as %q) and %d redirected elsewhere.",
			len(run.lost), run.followed, first(run.lost), len(run.wrong))
	}
	share := float64(run.moved) / float64(max(1, run.links))
	msg := fmt.Sprintf("Growing from %d to %d shards moved %s of %s links (%.1f%%); at most %.0f%% may move. All %s links followed afterwards redirected.",
		growFrom, growTo, labs.Thousands(run.moved), labs.Thousands(run.links), 100*share, 100*maxMovedShare, labs.Thousands(run.followed))
	if share <= maxMovedShare {
		return labs.Pass("%s", msg)
	}
	return labs.Fail("%s %s", msg, schemeWords(run.design))
}

// checkBalanced: after the move every shard holds about its share.
func checkBalanced(ctx context.Context, t *labs.Trial) labs.Outcome {
	run, err := runGrow(ctx, t)
	if err != nil {
		return outcomeOf(err)
	}
	lo, hi := slices.Min(run.ringShares), slices.Max(run.ringShares)
	msg := fmt.Sprintf("After the move the %d shards own from %.2f to %.2f times their fair share of the hash space (GET shards ring_share), and hold from %.2f to %.2f times their share of the links; "+
		"each must own %.2f to %.2f times.", len(run.shares), lo, hi, slices.Min(run.shares), slices.Max(run.shares), minShardShare, maxShardShare)
	if lo >= minShardShare && hi <= maxShardShare {
		return labs.Pass("%s", msg)
	}
	if run.design != nil && run.design.String("sharding") == ShardConsistent {
		msg += fmt.Sprintf(" With vnodes %d each shard owns only %d arcs of the ring, and arcs placed by a hash are uneven: more points even them out.",
			run.design.Int("vnodes"), run.design.Int("vnodes"))
	}
	return labs.Fail("%s", msg)
}

// checkRingSize: the ring every router keeps stays small.
func checkRingSize(ctx context.Context, t *labs.Trial) labs.Outcome {
	run, err := runGrow(ctx, t)
	if err != nil {
		return outcomeOf(err)
	}
	if run.ringPoints == 0 {
		return labs.Pass("There is no ring to keep: the shard is a hash modulo the number of shards.")
	}
	msg := fmt.Sprintf("At %d shards the ring has %s points (GET shards vnodes_per_shard × shards); every router keeps it, and at most %s are allowed.",
		growTo, labs.Thousands(run.ringPoints), labs.Thousands(maxRingPoints))
	if run.ringPoints <= maxRingPoints {
		return labs.Pass("%s", msg)
	}
	if run.design != nil {
		msg += fmt.Sprintf(" vnodes %d is more points than the balance needs.", run.design.Int("vnodes"))
	}
	return labs.Fail("%s", msg)
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
