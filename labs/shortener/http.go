package shortener

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

// Routes are the lab's endpoints under the instance.
//
// Short URLs: the web layer serves an instance's routes under
// /api/labs/shortener/instances/{id}/, so a link's redirect is at
// r/{code} relative to that path. POST shorten answers with both: "path"
// is relative to the instance ("r/Ab3dE9x"), and "short_url" is absolute,
// built from the request's own scheme, Host and path (the path POST
// shorten was sent to, with "shorten" replaced by "r/{code}").
func (in *instance) Routes() []labs.Route {
	return []labs.Route{
		{Method: http.MethodPost, Path: "shorten", Handle: in.handleShorten},
		{Method: http.MethodPost, Path: "batch", Handle: in.handleBatch},
		{Method: http.MethodGet, Path: "r/{code}", Handle: in.handleRedirect},
		{Method: http.MethodGet, Path: "links/{code}", Handle: in.handleLink},
		{Method: http.MethodGet, Path: "shards", Handle: in.handleShards},
		{Method: http.MethodPost, Path: "reshard", Handle: in.handleReshard},
		{Method: http.MethodGet, Path: "stats", Handle: in.handleStats},
	}
}

// The lab framework's JSON answers, under the names this package uses.
var (
	writeJSON  = labs.WriteJSON
	writeError = labs.WriteError
)

// readBody reads at most maxBody bytes; ok is false once it has answered.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusBadRequest, "", fmt.Sprintf("The body is larger than %d bytes.", maxBody))
		} else {
			writeError(w, http.StatusBadRequest, "", "The body could not be read.")
		}
		return nil, false
	}
	return b, true
}

// Created is the answer to POST shorten.
type Created struct {
	Code      string `json:"code"`
	Path      string `json:"path"`      // relative to the instance: r/{code}
	ShortURL  string `json:"short_url"` // absolute, from the request's scheme, host and path
	URL       string `json:"url"`
	ExpiresAt *int64 `json:"expires_at_ms"`      // Unix ms; null: never
	Existing  bool   `json:"existing,omitempty"` // hash_prefix found the same URL already shortened
}

func (in *instance) handleShorten(w http.ResponseWriter, r *http.Request, _ labs.Params) {
	body, ok := readBody(w, r)
	if !ok {
		in.reject()
		return
	}
	req, ierr := parseCreate(body, in.cfg.codeLen)
	if ierr != nil {
		in.reject()
		writeError(w, http.StatusBadRequest, ierr.field, ierr.msg)
		return
	}
	// Invalid requests are refused before the limiter, so they do not use
	// up a client's allowance.
	lctx, cancel := context.WithTimeout(r.Context(), time.Second)
	allowed, retry, err := in.limit.Allow(lctx, clientKey(r))
	cancel()
	switch {
	case err != nil:
		// Creation is not worth refusing because the limiter's Redis
		// failed: fail open, and say so in the log.
		in.redisError("the creation limiter (letting the request through)", err)
	case !allowed:
		in.rateLimited.Add(1)
		in.env.Metrics.Count("rate_limited", 1)
		w.Header().Set("Retry-After", strconv.FormatInt(max(1, int64((retry+time.Second-1)/time.Second)), 10))
		writeError(w, http.StatusTooManyRequests, "",
			fmt.Sprintf("Too many links created: at most %d per second per client address. Try again in %d ms.", createLimit, retry.Milliseconds()))
		return
	}
	l, existing, err := in.create(r.Context(), req)
	switch {
	case errors.Is(err, errAliasTaken):
		writeError(w, http.StatusConflict, "alias", fmt.Sprintf("The alias %q is taken; choose another.", req.Alias))
		return
	case errors.Is(err, errSpaceFull):
		writeError(w, http.StatusServiceUnavailable, "code_length", fmt.Sprintf(
			"The counter has handed out all %s codes of length %d; a longer code_length multiplies the space by 62 per character.", thousands(in.space), in.cfg.codeLen))
		return
	case errors.Is(err, errNoFreeCode):
		writeError(w, http.StatusServiceUnavailable, "code_length", fmt.Sprintf(
			"%d codes in a row were already taken: the %s codes of length %d are nearly used up. A longer code_length multiplies the space by 62 per character.",
			maxAttempts, thousands(in.space), in.cfg.codeLen))
		return
	case err != nil:
		labs.WriteFailure(w, r, in.env.Log, "The database failed.", err)
		return
	}
	c := Created{Code: l.Code, Path: "r/" + l.Code, ShortURL: shortURL(r, l.Code), URL: l.URL, Existing: existing}
	if l.ExpiresMS != 0 {
		c.ExpiresAt = &l.ExpiresMS
	}
	status := http.StatusCreated
	if existing {
		status = http.StatusOK
	}
	w.Header().Set("Location", c.ShortURL)
	writeJSON(w, status, c)
}

// maxBatch bounds one POST batch.
const maxBatch = 10000

// BatchResult is the answer to POST batch.
type BatchResult struct {
	Requested   int      `json:"requested"`
	Created     int      `json:"created"`
	Failed      int      `json:"failed"`
	Collisions  int64    `json:"collisions"` // codes that were taken and retried
	FirstFailed int      `json:"first_failed,omitempty"`
	DurationMS  float64  `json:"duration_ms"`
	Codegen     string   `json:"codegen"`
	CodeSpace   uint64   `json:"code_space"`
	Links       int64    `json:"links"`
	UsedPct     float64  `json:"space_used_pct"`
	Sample      []string `json:"sample"` // the first codes created
	Error       string   `json:"error,omitempty"`
}

// handleBatch creates count links at once through the create path, the
// way a busy service would over minutes, to compare the generators'
// collisions, retries and when their code space runs out. It is the lab's
// own tool, so the per-client limit does not apply; one runs at a time.
func (in *instance) handleBatch(w http.ResponseWriter, r *http.Request, _ labs.Params) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var b struct {
		Count json.RawMessage `json:"count"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		writeError(w, http.StatusBadRequest, "", `The body must be a JSON object like {"count": 1000}: `+err.Error())
		return
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b.Count)))
	if err != nil || n < 1 || n > maxBatch {
		writeError(w, http.StatusBadRequest, "count", fmt.Sprintf("count is required: a whole number from 1 to %d.", maxBatch))
		return
	}
	if !in.batchMu.TryLock() {
		writeError(w, http.StatusConflict, "", "A batch is already running on this instance; wait for its answer.")
		return
	}
	defer in.batchMu.Unlock()
	res := in.batch(r.Context(), n)
	if res.Error != "" && res.Created == 0 && res.Failed == 0 {
		writeError(w, http.StatusServiceUnavailable, "", "The batch failed: "+res.Error)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (in *instance) batch(ctx context.Context, n int) BatchResult {
	start := time.Now()
	res := BatchResult{Requested: n, Codegen: in.cfg.codegen, CodeSpace: in.space}
	run := in.batches.Add(1)
	c0 := in.collisions.Load()
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		next = make(chan int)
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				l, _, err := in.create(ctx, createRequest{URL: fmt.Sprintf("https://example.com/batch/%d/%d", run, i)})
				mu.Lock()
				switch {
				case err == nil:
					res.Created++
					if len(res.Sample) < 10 {
						res.Sample = append(res.Sample, l.Code)
					}
				case errors.Is(err, errSpaceFull), errors.Is(err, errNoFreeCode):
					res.Failed++
					if res.FirstFailed == 0 || i+1 < res.FirstFailed {
						res.FirstFailed = i + 1
					}
				default:
					if res.Error == "" {
						res.Error = labs.Failure(ctx, in.env.Log, "The database failed.", err)
					}
				}
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		// A code space that has run out fails every creation fast; stop
		// once the answer is clear, or the database failed.
		mu.Lock()
		stop := res.Error != "" || res.Failed >= 1000 || ctx.Err() != nil
		mu.Unlock()
		if stop {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	res.Collisions = in.collisions.Load() - c0
	res.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	if st, err := in.state(ctx); err == nil {
		res.Links, res.UsedPct = st.Links, st.SpaceUsedPct
	}
	in.env.Metrics.Eventf("info", "batch of %d: %d created, %d failed, %d collisions retried in %.0f ms; the code space is %.2f%% used",
		n, res.Created, res.Failed, res.Collisions, res.DurationMS, res.UsedPct)
	return res
}

func (in *instance) reject() {
	in.rejected.Add(1)
	in.env.Metrics.Count("rejected", 1)
}

// shortURL is the absolute URL of code's redirect, next to the path the
// creation was sent to.
func shortURL(r *http.Request, code string) string {
	base := strings.TrimSuffix(strings.TrimSuffix(r.URL.Path, "/"), "shorten")
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	path := base + "r/" + code
	if r.Host == "" {
		return path
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("X-Forwarded-Proto"), ",")[0])); p == "https" || p == "http" {
		scheme = p
	}
	return scheme + "://" + r.Host + path
}

// clientKey is who a creation is counted against: the client's address,
// in the characters the limiter accepts.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	b := []byte("ip:" + host)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) > 200 {
		b = b[:200]
	}
	return string(b)
}

func (in *instance) handleRedirect(w http.ResponseWriter, r *http.Request, p labs.Params) {
	code := p["code"]
	o, err := in.redirect(r.Context(), code, true)
	if err != nil {
		labs.WriteFailure(w, r, in.env.Log, "The lookup failed.", err)
		return
	}
	switch o.status {
	case http.StatusNotFound:
		writeError(w, http.StatusNotFound, "code", fmt.Sprintf("No link has the code %q.", code))
	case http.StatusGone:
		writeError(w, http.StatusGone, "code", fmt.Sprintf("The link %q expired at %s; expired codes are never reused.",
			code, time.UnixMilli(o.entry.expiresMS).UTC().Format(time.RFC3339)))
	default:
		h := w.Header()
		h.Set("Location", o.url)
		if cc := in.cacheControl(o); cc != "" {
			h.Set("Cache-Control", cc)
		}
		w.WriteHeader(o.status)
	}
}

// cacheControl is what a redirect tells browsers: 302 must not be stored
// (every click must come back to be counted); a 301 of a link that expires
// may be kept until it does; a permanent 301 says nothing, and browsers may
// keep it for good.
func (in *instance) cacheControl(o outcome) string {
	switch {
	case o.status == http.StatusFound:
		return "no-store"
	case o.entry.expiresMS != 0:
		left := (o.entry.expiresMS - in.nowMS()) / 1000
		return "max-age=" + strconv.FormatInt(max(left, 0), 10)
	}
	return ""
}

// LinkInfo is the answer to GET links/{code}: what r/{code} would answer,
// without being a click, and where the link lives.
type LinkInfo struct {
	Code         string       `json:"code"`
	Found        bool         `json:"found"`
	URL          string       `json:"url,omitempty"`
	CreatedAt    *int64       `json:"created_at_ms,omitempty"`
	ExpiresAt    *int64       `json:"expires_at_ms,omitempty"`
	Redirect     RedirectInfo `json:"redirect"`
	ServedBy     string       `json:"served_by"` // the tier that answered this lookup: local, redis or database
	Shard        int          `json:"shard"`
	Table        string       `json:"table"`
	InShardTable bool         `json:"in_shard_table"`
	Clicks       *ClickCounts `json:"clicks,omitempty"`
}

// RedirectInfo is what GET r/{code} answers.
type RedirectInfo struct {
	Status       int    `json:"status"`
	Location     string `json:"location,omitempty"`
	CacheControl string `json:"cache_control,omitempty"`
}

func (in *instance) handleLink(w http.ResponseWriter, r *http.Request, p labs.Params) {
	code := p["code"]
	if !checkCode(code) {
		writeError(w, http.StatusNotFound, "code", fmt.Sprintf("No link has the code %q: codes are 1 to %d characters of A-Z, a-z, 0-9, '-' and '_'.", code, maxAliasLen))
		return
	}
	ctx := r.Context()
	o, err := in.redirect(ctx, code, false)
	if err != nil {
		labs.WriteFailure(w, r, in.env.Log, "The lookup failed.", err)
		return
	}
	in.layoutMu.RLock()
	shard := in.layout.shardOf(code)
	l, stored, err := in.readLink(ctx, shard, code)
	in.layoutMu.RUnlock()
	if err != nil {
		labs.WriteFailure(w, r, in.env.Log, "The database failed.", err)
		return
	}
	info := LinkInfo{Code: code, Found: o.entry.found, URL: o.entry.url, ServedBy: o.tier, Shard: shard, Table: in.tab.shard(shard), InShardTable: stored,
		Redirect: RedirectInfo{Status: o.status, Location: o.url, CacheControl: in.cacheControl(o)}}
	if stored {
		info.CreatedAt = &l.CreatedMS
	}
	if o.entry.found && o.entry.expiresMS != 0 {
		info.ExpiresAt = &o.entry.expiresMS
	}
	if in.clicks != nil && o.entry.found {
		c, err := in.clicks.counts(ctx, code)
		if err != nil {
			labs.WriteFailure(w, r, in.env.Log, "Reading the click counts failed.", err)
			return
		}
		info.Clicks = &c
	}
	status := http.StatusOK
	if !o.entry.found {
		status = http.StatusNotFound
	}
	writeJSON(w, status, info)
}

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
	Shard  int      `json:"shard"`
	Table  string   `json:"table"`
	Links  int64    `json:"links"`
	Share  float64  `json:"share"`
	Sample []string `json:"sample"` // its first codes in code order
}

// CodeShard says where one code lives.
type CodeShard struct {
	Code   string `json:"code"`
	Shard  int    `json:"shard"`
	Table  string `json:"table"`
	Stored bool   `json:"stored"`
}

func (in *instance) handleShards(w http.ResponseWriter, r *http.Request, _ labs.Params) {
	code := r.URL.Query().Get("code")
	if code != "" && !checkCode(code) {
		writeError(w, http.StatusBadRequest, "code", fmt.Sprintf("code must be 1 to %d characters of A-Z, a-z, 0-9, '-' and '_'.", maxAliasLen))
		return
	}
	v, err := in.shardsView(r.Context(), code)
	if err != nil {
		labs.WriteFailure(w, r, in.env.Log, "The database failed.", err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (in *instance) shardsView(ctx context.Context, code string) (ShardsView, error) {
	in.layoutMu.RLock()
	defer in.layoutMu.RUnlock()
	l := in.layout
	v := ShardsView{Shards: l.shards, Sharding: l.sharding}
	if l.sharding == ShardConsistent {
		v.VnodesPerShard = vnodes
	}
	counts, err := in.countLinks(ctx, l.shards)
	if err != nil {
		return v, err
	}
	for _, n := range counts {
		v.Links += n
	}
	for i, n := range counts {
		sample, err := in.sampleCodes(ctx, i, 5)
		if err != nil {
			return v, err
		}
		si := ShardInfo{Shard: i, Table: in.tab.shard(i), Links: n, Sample: sample}
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

type reshardBody struct {
	Shards   json.RawMessage `json:"shards"`
	Sharding *string         `json:"sharding"`
	DryRun   bool            `json:"dry_run"`
}

func (in *instance) handleReshard(w http.ResponseWriter, r *http.Request, _ labs.Params) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var b reshardBody
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		writeError(w, http.StatusBadRequest, "", `The body must be a JSON object like {"shards": 5, "sharding": "consistent_hash", "dry_run": false}: `+err.Error())
		return
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b.Shards)))
	if err != nil || n < 1 || n > maxShards {
		writeError(w, http.StatusBadRequest, "shards", fmt.Sprintf("shards is required: a whole number from 1 to %d.", maxShards))
		return
	}
	in.layoutMu.RLock()
	sharding := in.layout.sharding
	in.layoutMu.RUnlock()
	if b.Sharding != nil {
		if *b.Sharding != ShardModulo && *b.Sharding != ShardConsistent {
			writeError(w, http.StatusBadRequest, "sharding", "sharding must be modulo or consistent_hash.")
			return
		}
		sharding = *b.Sharding
	}
	res, err := in.reshard(r.Context(), newLayout(n, sharding), b.DryRun)
	if err != nil {
		labs.WriteFailure(w, r, in.env.Log, "Resharding failed (nothing moved).", err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

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
	res := ReshardResult{From: LayoutInfo{from.shards, from.sharding}, To: LayoutInfo{to.shards, to.sharding}, DryRun: dry,
		Before: make([]int, from.shards), After: make([]int, to.shards), ExpectedPct: 100 * expectedMove(from, to)}
	type move struct{ src, dst int }
	moves := map[move][]string{}
	for i := range from.shards {
		codes, err := in.shardCodes(ctx, i)
		if err != nil {
			return res, err
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
	if !dry {
		tx, err := in.env.DB.BeginTx(ctx, nil)
		if err != nil {
			return res, err
		}
		defer func() { _ = tx.Rollback() }()
		if err := in.createShardTables(ctx, tx, to.shards); err != nil {
			return res, err
		}
		for m, codes := range moves {
			if err := in.moveCodes(ctx, tx, m.src, m.dst, codes); err != nil {
				return res, err
			}
		}
		if err := in.writeLayout(ctx, tx, to); err != nil {
			return res, err
		}
		if err := tx.Commit(); err != nil {
			return res, err
		}
		in.layout = to
		if to.shards < from.shards {
			if err := in.dropShardTables(ctx, to.shards, from.shards); err != nil {
				in.env.Log.Warn("shortener: dropping emptied shard tables", "err", err)
			}
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

// State is what GET …/instances/{id} and GET stats show.
type State struct {
	Codegen        string         `json:"codegen"`
	CodeLength     int            `json:"code_length"`
	CodeSpace      uint64         `json:"code_space"`
	SpaceUsedPct   float64        `json:"space_used_pct"`
	Cache          string         `json:"cache"`
	CacheTTLMS     int64          `json:"cache_ttl_ms"`
	LocalEntries   int            `json:"local_entries"`
	Analytics      bool           `json:"analytics"`
	RedirectStatus int            `json:"redirect_status"`
	Shards         int            `json:"shards"` // now; a reshard changes it
	Sharding       string         `json:"sharding"`
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
}

func (in *instance) totals() Totals {
	t := Totals{Created: in.created.Load(), Existing: in.existing.Load(), Collisions: in.collisions.Load(), Exhausted: in.exhausted.Load(),
		Rejected: in.rejected.Load(), RateLimited: in.rateLimited.Load(), Redirects: in.redirects.Load(), NotFound: in.notFound.Load(),
		Gone: in.gone.Load(), LocalHits: in.localHits.Load(), RedisHits: in.redisHits.Load(), DBHits: in.dbHits.Load(),
		RedisErrors: in.redisErrors.Load(), KeysMoved: in.keysMoved.Load()}
	if in.clicks != nil {
		t.ClicksToRedis, t.ClicksToDB = in.clicks.toRedis.Load(), in.clicks.toDB.Load()
	}
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
		s.LocalEntries = in.local.len()
	}
	return s, nil
}

func (in *instance) handleStats(w http.ResponseWriter, r *http.Request, _ labs.Params) {
	s, err := in.state(r.Context())
	if err != nil {
		labs.WriteFailure(w, r, in.env.Log, "Could not read the stats.", err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}
