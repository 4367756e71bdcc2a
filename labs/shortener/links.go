package shortener

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

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

func (in *instance) handleLink(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	if !checkCode(code) {
		labhttp.WriteError(w, r, notFound("code", "No link has the code %q: codes are 1 to %d characters of A-Z, a-z, 0-9, '-' and '_'.", code, maxAliasLen))
		return
	}
	info, err := in.linkInfo(r.Context(), code)
	if err != nil {
		labhttp.WriteError(w, r, err)
		return
	}
	status := http.StatusOK
	if !info.Found {
		status = http.StatusNotFound
	}
	labhttp.WriteJSON(w, status, info)
}

// linkInfo looks code up as a redirect would, without counting a click,
// and reads where it is stored.
func (in *instance) linkInfo(ctx context.Context, code string) (LinkInfo, error) {
	o, err := in.redirect(ctx, code, false)
	if err != nil {
		return LinkInfo{}, labhttp.Unavailable(err, "The lookup failed.")
	}
	in.layoutMu.RLock()
	shard := in.layout.shardOf(code)
	l, stored, err := in.readLink(ctx, shard, code)
	in.layoutMu.RUnlock()
	if err != nil {
		return LinkInfo{}, labhttp.Unavailable(err, "The database failed.")
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
			return LinkInfo{}, labhttp.Unavailable(err, "Reading the click counts failed.")
		}
		info.Clicks = &c
	}
	return info, nil
}

// maxListed bounds one page of GET links.
const maxListed = 1000

// LinkList is the answer to GET links: a page of the stored links, shard
// by shard and in code order within a shard.
type LinkList struct {
	Links []StoredLink `json:"links"`
	// Next is the after of the next page; "" on the last page.
	Next string `json:"next"`
}

// StoredLink is one stored link as GET links lists it.
type StoredLink struct {
	Code      string `json:"code"`
	URL       string `json:"url"`
	ExpiresAt *int64 `json:"expires_at_ms,omitempty"`
	Shard     int    `json:"shard"`
}

// handleList answers GET links?after=&limit=: every link in the
// database, a page at a time (demo links included). A reshard while
// paging may list a link twice or not at all.
func (in *instance) handleList(w http.ResponseWriter, r *http.Request) {
	q, err := labhttp.Query(r)
	if err != nil {
		labhttp.WriteError(w, r, err)
		return
	}
	limit, err := labhttp.QueryInt(q, "limit", maxListed, 1, maxListed)
	if err != nil {
		labhttp.WriteError(w, r, err)
		return
	}
	shard, after, ok := parseCursor(q.Get("after"))
	if !ok {
		labhttp.WriteError(w, r, labhttp.BadRequest("after", "after must be the next of the page before (\"shard:code\"), or empty for the first page."))
		return
	}
	list, err := in.listLinks(r.Context(), shard, after, limit)
	if err != nil {
		labhttp.WriteError(w, r, labhttp.Unavailable(err, "The database failed."))
		return
	}
	labhttp.WriteJSON(w, http.StatusOK, list)
}

// parseCursor reads a page's after: "" or "shard:code".
func parseCursor(s string) (shard int, after string, ok bool) {
	if s == "" {
		return 0, "", true
	}
	n, code, found := strings.Cut(s, ":")
	shard, err := strconv.Atoi(n)
	if !found || err != nil || shard < 0 || shard >= maxShards || (code != "" && !checkCode(code)) {
		return 0, "", false
	}
	return shard, code, true
}

// listLinks reads up to limit links from shard on, after the code after in
// the first.
func (in *instance) listLinks(ctx context.Context, shard int, after string, limit int) (LinkList, error) {
	in.layoutMu.RLock()
	defer in.layoutMu.RUnlock()
	list := LinkList{Links: []StoredLink{}}
	for s := shard; s < in.layout.shards; s++ {
		page, err := in.pageLinks(ctx, s, after, limit-len(list.Links))
		if err != nil {
			return list, err
		}
		list.Links = append(list.Links, page...)
		if len(list.Links) == limit {
			list.Next = fmt.Sprintf("%d:%s", s, list.Links[limit-1].Code)
			return list, nil
		}
		after = ""
	}
	return list, nil
}
