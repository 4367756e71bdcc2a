package shortener

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labhttp"
)

// Bounds of one POST batch.
const (
	maxBatch     = 10000
	maxBatchURLs = 1000
	// maxBatchBody holds maxBatchURLs URLs of the longest length.
	maxBatchBody = 3 << 20
	// batchWorkers create a batch's links at once.
	batchWorkers = 8
)

// Why a link of a batch was not created (BatchItem.Error).
const (
	failSpaceFull  = "space_full"   // the counter has handed out every code
	failNoFreeCode = "no_free_code" // maxAttempts codes in a row were taken
)

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
	// Results are the links of a batch of urls, in their order.
	Results []BatchItem `json:"results,omitempty"`
}

// BatchItem is what became of one URL of a batch: its code, or why it
// has none (space_full or no_free_code).
type BatchItem struct {
	Code  string `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
}

// batchBody is POST batch's body: count links the lab makes up, or the
// links of urls.
type batchBody struct {
	Count *int     `json:"count"`
	URLs  []string `json:"urls"`
}

// check says what is wrong with the body.
func (b batchBody) check() error {
	switch {
	case b.Count != nil && b.URLs != nil:
		return labhttp.BadRequest("count", "Give count or urls, not both.")
	case b.URLs != nil:
		if len(b.URLs) == 0 || len(b.URLs) > maxBatchURLs {
			return labhttp.BadRequest("urls", "urls must hold 1 to %s URLs.", labs.Thousands(maxBatchURLs))
		}
		for i, u := range b.URLs {
			if msg := checkURL(u); msg != "" {
				return labhttp.BadRequest("urls", "urls[%d]: %s", i, msg)
			}
		}
	case b.Count == nil || *b.Count < 1 || *b.Count > maxBatch:
		return labhttp.BadRequest("count", "count is required: a whole number from 1 to %d (or urls, a list of 1 to %s URLs).", maxBatch, labs.Thousands(maxBatchURLs))
	}
	return nil
}

// handleBatch creates links at once through the create path: count of
// them, the way a busy service would over minutes, to compare the
// generators' collisions, retries and when their code space runs out; or
// the given urls, answering each one's code. It is the lab's own tool, so
// the per-client limit does not apply; one runs at a time.
func (in *instance) handleBatch(w http.ResponseWriter, r *http.Request) {
	var b batchBody
	if err := labhttp.DecodeJSON(r, &b, maxBatchBody); err != nil {
		labhttp.WriteError(w, r, withExample(err, `{"count": 1000}`))
		return
	}
	if err := b.check(); err != nil {
		labhttp.WriteError(w, r, err)
		return
	}
	if !in.batchMu.TryLock() {
		labhttp.WriteError(w, r, labhttp.Conflict("", "A batch is already running on this instance; wait for its answer."))
		return
	}
	defer in.batchMu.Unlock()
	res, err := in.batch(r.Context(), b)
	if err != nil {
		labhttp.WriteError(w, r, labhttp.Unavailable(err, "The batch failed: the database failed."))
		return
	}
	labhttp.WriteJSON(w, http.StatusOK, res)
}

// batchRun gathers a batch's outcomes from its workers.
type batchRun struct {
	mu   sync.Mutex
	res  BatchResult
	err  error // the first failure of the database
	urls bool  // a batch of urls: every one is attempted and answered
}

func (b *batchRun) record(i int, l link, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case err == nil:
		b.res.Created++
		if len(b.res.Sample) < 10 {
			b.res.Sample = append(b.res.Sample, l.Code)
		}
		if b.urls {
			b.res.Results[i].Code = l.Code
		}
	case errors.Is(err, errSpaceFull), errors.Is(err, errNoFreeCode):
		b.res.Failed++
		if b.res.FirstFailed == 0 || i+1 < b.res.FirstFailed {
			b.res.FirstFailed = i + 1
		}
		if b.urls {
			b.res.Results[i].Error = failNoFreeCode
			if errors.Is(err, errSpaceFull) {
				b.res.Results[i].Error = failSpaceFull
			}
		}
	case b.err == nil:
		b.err = err
	}
}

// done reports whether the batch should stop: the database failed, or a
// batch of count has shown that the code space has run out (it then fails
// every creation fast).
func (b *batchRun) done(ctx context.Context) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err != nil || ctx.Err() != nil || (!b.urls && b.res.Failed >= 1000)
}

func (in *instance) batch(ctx context.Context, body batchBody) (BatchResult, error) {
	start := time.Now()
	n, urlOf := len(body.URLs), func(i int) string { return body.URLs[i] }
	if body.URLs == nil {
		run := in.batches.Add(1)
		n, urlOf = *body.Count, func(i int) string { return fmt.Sprintf("https://example.com/batch/%d/%d", run, i) }
	}
	b := &batchRun{res: BatchResult{Requested: n, Codegen: in.cfg.codegen, CodeSpace: in.space}, urls: body.URLs != nil}
	if b.urls {
		b.res.Results = make([]BatchItem, n)
	}
	c0 := in.collisions.Load()
	next := make(chan int)
	var wg sync.WaitGroup
	for range batchWorkers {
		wg.Go(func() {
			for i := range next {
				l, _, err := in.create(ctx, createRequest{URL: urlOf(i)})
				b.record(i, l, err)
			}
		})
	}
	for i := 0; i < n && !b.done(ctx); i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if b.err != nil {
		return BatchResult{}, b.err
	}
	if err := ctx.Err(); err != nil {
		return BatchResult{}, err
	}
	res := b.res
	res.Collisions = in.collisions.Load() - c0
	res.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	if st, err := in.state(ctx); err == nil {
		res.Links, res.UsedPct = st.Links, st.SpaceUsedPct
	}
	in.env.Metrics.Eventf("info", "batch of %d: %d created, %d failed, %d collisions retried in %.0f ms; the code space is %.2f%% used",
		n, res.Created, res.Failed, res.Collisions, res.DurationMS, res.UsedPct)
	return res, nil
}
