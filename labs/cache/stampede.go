package cache

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labhttp"
)

const (
	stampedeReads  = 200
	hotItem        = 1 // the head of the Zipf distribution Hit draws from
	stampedeWindow = 30 * time.Second
)

// errExpire is a stampede whose hot key could not be deleted.
var errExpire = errors.New("Redis is failing, so the hot key could not be expired")

// internalFailure counts reads that failed inside Redis or the database;
// the log has the error.
const internalFailure = "internal error (the server log has the details)"

// StampedeResult is the answer to POST stampede.
type StampedeResult struct {
	Item     int            `json:"item"`
	Stampede string         `json:"stampede"`
	Reads    int            `json:"reads"`
	DBReads  int64          `json:"db_reads"`
	P50MS    float64        `json:"p50_ms"`
	P99MS    float64        `json:"p99_ms"`
	Sources  map[string]int `json:"sources"`
	Errors   map[string]int `json:"errors,omitempty"`
	Note     string         `json:"note,omitempty"`
}

// stampedeTally gathers what the stampede's readers got.
type stampedeTally struct {
	mu      sync.Mutex
	lats    []float64
	sources map[string]int
	errs    map[string]int
}

// add records one reader's answer; the first failure of Redis or the
// database goes to the request's log.
func (t *stampedeTally) add(ctx context.Context, ms float64, res readResult, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lats = append(t.lats, ms)
	switch {
	case err == nil:
		t.sources[res.Source]++
	case statusOf(err) == http.StatusInternalServerError:
		if t.errs[internalFailure]++; t.errs[internalFailure] == 1 && ctx.Err() == nil {
			labhttp.Logger(ctx).Error("lab request failed", "request_id", labhttp.RequestID(ctx),
				"what", "A stampede read failed.", "err", err)
		}
	default:
		t.errs[sentence(err)]++
	}
}

// stampede expires an item and releases stampedeReads concurrent reads of
// it at once, counting the database reads they cause.
func (in *instance) stampede(ctx context.Context, id int) (StampedeResult, error) {
	if err := in.redis().Del(ctx, in.itemKey(id)).Err(); err != nil {
		in.redisError("expiring the hot key", err)
		return StampedeResult{}, errExpire
	}
	counter := &dbReadCounter{}
	ctx = context.WithValue(ctx, counterKey{}, counter)
	t := &stampedeTally{lats: make([]float64, 0, stampedeReads), sources: map[string]int{}, errs: map[string]int{}}
	// Released together, as an expiry does.
	fanOut(ctx, stampedeReads, func(int) {
		t0 := in.now()
		res, err := in.read(ctx, id)
		t.add(ctx, float64(in.now().Sub(t0).Microseconds())/1000, res, err)
	})
	res := StampedeResult{Item: id, Stampede: in.cfg.stampede, Reads: stampedeReads, DBReads: counter.n.Load(),
		P50MS: labs.Percentile(t.lats, 50), P99MS: labs.Percentile(t.lats, 99), Sources: t.sources}
	if len(t.errs) > 0 {
		res.Errors = t.errs
	}
	switch {
	case in.cfg.strategy == StrategyNone:
		res.Stampede = "none (strategy none: there is no cache, every read goes to the database)"
	case in.cfg.stampede == StampedeEarly:
		res.Note = "Early expiration refreshes a hot key before it expires, so it never gets here under steady traffic; " +
			"once the key is really gone every reader misses, as with none. Try a load run with a short TTL instead."
	}
	in.env.Metrics.Eventf("info", "stampede on item %d (%s): %d reads, %d database reads, p99 %.1f ms",
		id, in.cfg.stampede, stampedeReads, res.DBReads, res.P99MS)
	return res, nil
}
