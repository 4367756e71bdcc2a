package shortener

import (
	"context"
	"fmt"
	"net/http"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

// State is what GET …/instances/{id} and GET stats show.
type State struct {
	Codegen        string         `json:"codegen"`
	CodeLength     int            `json:"code_length"`
	CodeSpace      uint64         `json:"code_space"`
	SpaceUsedPct   float64        `json:"space_used_pct"`
	Cache          string         `json:"cache"`
	CacheTTLMS     int64          `json:"cache_ttl_ms"`
	LocalEntries   int            `json:"local_entries"`
	LocalCapacity  int            `json:"local_capacity,omitempty"` // redis_and_local only: the most the stripes hold
	LocalPeak      int64          `json:"local_peak,omitempty"`     // the most codes it ever held at once
	Analytics      bool           `json:"analytics"`
	ClickPushMS    int64          `json:"click_push_ms,omitempty"` // analytics only
	ClicksPending  int64          `json:"clicks_in_process"`       // counted in process, not yet in Redis: what a crash loses
	RedirectStatus int            `json:"redirect_status"`
	Shards         int            `json:"shards"` // now; a reshard changes it
	Sharding       string         `json:"sharding"`
	Vnodes         int            `json:"vnodes_per_shard,omitempty"` // consistent_hash only
	RingPoints     int            `json:"ring_points,omitempty"`      // shards × vnodes, consistent_hash only
	Links          int64          `json:"links"`
	PerShard       []int64        `json:"links_per_shard"`
	DemoLinks      int            `json:"demo_links"`
	Rebuilt        bool           `json:"rebuilt"` // built on tables that already held links
	CreateLimit    string         `json:"create_limit"`
	Totals         Totals         `json:"totals"`
	LastReshard    *ReshardResult `json:"last_reshard,omitempty"`
}

// Totals count what the instance did since it was built.
type Totals struct {
	Created       int64 `json:"created"`
	Existing      int64 `json:"existing"`
	Collisions    int64 `json:"collisions"`
	Exhausted     int64 `json:"exhausted"`
	Rejected      int64 `json:"rejected"`
	RateLimited   int64 `json:"rate_limited"`
	Redirects     int64 `json:"redirects"`
	NotFound      int64 `json:"not_found"`
	Gone          int64 `json:"gone"`
	LocalHits     int64 `json:"local_hits"`
	RedisHits     int64 `json:"redis_hits"`
	DBHits        int64 `json:"db_hits"`
	RedisErrors   int64 `json:"redis_errors"`
	KeysMoved     int64 `json:"keys_moved"`
	ClicksToRedis int64 `json:"clicks_to_redis"`
	ClicksToDB    int64 `json:"clicks_to_db"`
	ClickPushes   int64 `json:"click_pushes"` // writes of clicks to Redis
	Crashes       int64 `json:"crashes"`
}

func (in *instance) totals() Totals {
	t := Totals{Created: in.created.Load(), Existing: in.existing.Load(), Collisions: in.collisions.Load(), Exhausted: in.exhausted.Load(),
		Rejected: in.rejected.Load(), RateLimited: in.rateLimited.Load(), Redirects: in.redirects.Load(), NotFound: in.notFound.Load(),
		Gone: in.gone.Load(), LocalHits: in.localHits.Load(), RedisHits: in.redisHits.Load(), DBHits: in.dbHits.Load(),
		RedisErrors: in.redisErrors.Load(), KeysMoved: in.keysMoved.Load()}
	if in.clicks != nil {
		t.ClicksToRedis, t.ClicksToDB, t.ClickPushes = in.clicks.toRedis.Load(), in.clicks.toDB.Load(), in.clicks.pushes.Load()
	}
	t.Crashes = in.crashes.Load()
	return t
}

// State reports the design, where the links are and the counters.
func (in *instance) State(ctx context.Context) (any, error) { return in.state(ctx) }

func (in *instance) state(ctx context.Context) (State, error) {
	in.layoutMu.RLock()
	l := in.layout
	counts, err := in.countLinks(ctx, l.shards)
	in.layoutMu.RUnlock()
	if err != nil {
		return State{}, err
	}
	s := State{Codegen: in.cfg.codegen, CodeLength: in.cfg.codeLen, CodeSpace: in.space, Cache: in.cfg.cache,
		CacheTTLMS: in.cfg.cacheTTL.Milliseconds(), Analytics: in.cfg.analytics, RedirectStatus: in.redirectStatus(),
		Shards: l.shards, Sharding: l.sharding, PerShard: counts, DemoLinks: len(in.hot), Rebuilt: in.rebuilt,
		CreateLimit: fmt.Sprintf("%d links per second per client address (the rate limiter lab's %s)", createLimit, createAlgorithm),
		Totals:      in.totals(), LastReshard: in.lastReshard.Load()}
	for _, n := range counts {
		s.Links += n
	}
	s.SpaceUsedPct = 100 * float64(s.Links) / float64(in.space)
	if in.local != nil {
		s.LocalEntries, s.LocalCapacity, s.LocalPeak = in.local.len(), in.local.capacity(), in.local.peak.Load()
	}
	if in.clicks != nil {
		s.ClickPushMS = in.cfg.pushEvery.Milliseconds()
		s.ClicksPending = in.clicks.pendingClicks()
	}
	if l.sharding == ShardConsistent {
		s.Vnodes, s.RingPoints = l.vnodes, len(l.ring)
	}
	return s, nil
}

func (in *instance) handleStats(w http.ResponseWriter, r *http.Request) {
	s, err := in.state(r.Context())
	if err != nil {
		labhttp.WriteError(w, r, labhttp.Unavailable(err, "Could not read the stats."))
		return
	}
	labhttp.WriteJSON(w, http.StatusOK, s)
}
