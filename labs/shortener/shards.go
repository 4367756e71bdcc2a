package shortener

import (
	"context"
	"net/http"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

// ShardsView is the answer to GET shards.
type ShardsView struct {
	Shards         int         `json:"shards"`
	Sharding       string      `json:"sharding"`
	VnodesPerShard int         `json:"vnodes_per_shard,omitempty"`
	Links          int64       `json:"links"`
	PerShard       []ShardInfo `json:"per_shard"`
	Code           *CodeShard  `json:"code,omitempty"`
}

// ShardInfo is one shard table.
type ShardInfo struct {
	Shard int     `json:"shard"`
	Table string  `json:"table"`
	Links int64   `json:"links"`
	Share float64 `json:"share"`
	// RingShare is the share of the hash space the shard owns, as a
	// multiple of its fair share (1 under modulo).
	RingShare float64  `json:"ring_share"`
	Sample    []string `json:"sample"` // its first codes in code order
}

// CodeShard says where one code lives.
type CodeShard struct {
	Code   string `json:"code"`
	Shard  int    `json:"shard"`
	Table  string `json:"table"`
	Stored bool   `json:"stored"`
}

func (in *instance) handleShards(w http.ResponseWriter, r *http.Request) {
	q, err := labhttp.Query(r)
	if err != nil {
		labhttp.WriteError(w, r, err)
		return
	}
	code := q.Get("code")
	if code != "" && !checkCode(code) {
		labhttp.WriteError(w, r, labhttp.BadRequest("code", "code must be 1 to %d characters of A-Z, a-z, 0-9, '-' and '_'.", maxAliasLen))
		return
	}
	v, err := in.shardsView(r.Context(), code)
	if err != nil {
		labhttp.WriteError(w, r, labhttp.Unavailable(err, "The database failed."))
		return
	}
	labhttp.WriteJSON(w, http.StatusOK, v)
}

func (in *instance) shardsView(ctx context.Context, code string) (ShardsView, error) {
	in.layoutMu.RLock()
	defer in.layoutMu.RUnlock()
	l := in.layout
	v := ShardsView{Shards: l.shards, Sharding: l.sharding}
	if l.sharding == ShardConsistent {
		v.VnodesPerShard = l.vnodes
	}
	counts, err := in.countLinks(ctx, l.shards)
	if err != nil {
		return v, err
	}
	for _, n := range counts {
		v.Links += n
	}
	ring := l.ringShares()
	for i, n := range counts {
		sample, err := in.sampleCodes(ctx, i, 5)
		if err != nil {
			return v, err
		}
		si := ShardInfo{Shard: i, Table: in.tab.shard(i), Links: n, Sample: sample, RingShare: ring[i]}
		if v.Links > 0 {
			si.Share = float64(n) / float64(v.Links)
		}
		v.PerShard = append(v.PerShard, si)
	}
	if code != "" {
		s := l.shardOf(code)
		_, stored, err := in.readLink(ctx, s, code)
		if err != nil {
			return v, err
		}
		v.Code = &CodeShard{Code: code, Shard: s, Table: in.tab.shard(s), Stored: stored}
	}
	return v, nil
}

// reshardBody is POST reshard's body.
type reshardBody struct {
	Shards   *int    `json:"shards"`
	Sharding *string `json:"sharding"`
	DryRun   bool    `json:"dry_run"`
}

func (in *instance) handleReshard(w http.ResponseWriter, r *http.Request) {
	var b reshardBody
	if err := labhttp.DecodeJSON(r, &b, maxBody); err != nil {
		labhttp.WriteError(w, r, withExample(err, `{"shards": 5, "sharding": "consistent_hash", "dry_run": false}`))
		return
	}
	if b.Shards == nil || *b.Shards < 1 || *b.Shards > maxShards {
		labhttp.WriteError(w, r, labhttp.BadRequest("shards", "shards is required: a whole number from 1 to %d.", maxShards))
		return
	}
	in.layoutMu.RLock()
	sharding := in.layout.sharding
	in.layoutMu.RUnlock()
	if b.Sharding != nil {
		if *b.Sharding != ShardModulo && *b.Sharding != ShardConsistent {
			labhttp.WriteError(w, r, labhttp.BadRequest("sharding", "sharding must be modulo or consistent_hash."))
			return
		}
		sharding = *b.Sharding
	}
	res, err := in.reshard(r.Context(), newRingLayout(*b.Shards, sharding, in.cfg.vnodes), b.DryRun)
	if err != nil {
		labhttp.WriteError(w, r, labhttp.Unavailable(err, "Resharding failed (nothing moved)."))
		return
	}
	labhttp.WriteJSON(w, http.StatusOK, res)
}
