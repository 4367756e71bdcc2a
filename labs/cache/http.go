package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sdworkbook/workbook/labs"
)

const (
	maxBodyBytes   = 4 << 10
	maxPrice       = 1_000_000_000 // cents
	maxNameLen     = 100
	stampedeReads  = 200
	hotItem        = 1 // the head of the Zipf distribution Hit draws from
	stampedeWindow = 30 * time.Second
)

// Routes are the lab's endpoints under the instance.
func (in *instance) Routes() []labs.Route {
	return []labs.Route{
		{Method: http.MethodGet, Path: "items/{item}", Handle: in.handleGet},
		{Method: http.MethodPut, Path: "items/{item}", Handle: in.handlePut},
		{Method: http.MethodPost, Path: "stampede", Handle: in.handleStampede},
		{Method: http.MethodPost, Path: "crash-flusher", Handle: in.handleCrash},
		{Method: http.MethodGet, Path: "stats", Handle: in.handleStats},
	}
}

// The lab framework's JSON answers, under the names this package uses.
var (
	writeJSON  = labs.WriteJSON
	writeError = labs.WriteError
)

// internalFailure counts reads that failed inside Redis or the database;
// the log has the error.
const internalFailure = "internal error (the server log has the details)"

// writeOutcome answers a failed read or write with its status.
func (in *instance) writeOutcome(w http.ResponseWriter, id int, err error) {
	status := statusOf(err)
	msg := err.Error()
	switch status {
	case http.StatusNotFound:
		msg = fmt.Sprintf("No item %d: the catalogue has items 1 to %d.", id, CatalogueSize)
	case http.StatusInternalServerError:
		in.env.Log.Error("cache lab request", "item", id, "err", err)
		msg = "Internal error; the instance log has details."
	}
	writeError(w, status, "", msg)
}

// parseItem reads an item id: not a number is 400, a number outside the
// catalogue is 404.
func parseItem(w http.ResponseWriter, s string) (int, bool) {
	id, err := strconv.Atoi(s)
	if err != nil {
		writeError(w, http.StatusBadRequest, "item", fmt.Sprintf("Item %q is not a whole number; items are 1 to %d.", s, CatalogueSize))
		return 0, false
	}
	if id < 1 || id > CatalogueSize {
		writeError(w, http.StatusNotFound, "item", fmt.Sprintf("No item %d: the catalogue has items 1 to %d.", id, CatalogueSize))
		return 0, false
	}
	return id, true
}

func (in *instance) handleGet(w http.ResponseWriter, r *http.Request, p labs.Params) {
	id, ok := parseItem(w, p["item"])
	if !ok {
		return
	}
	res, err := in.read(r.Context(), id)
	if err != nil {
		in.writeOutcome(w, id, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// putBody is PUT items/{item}: price in cents, name optional.
type putBody struct {
	Price json.RawMessage `json:"price"` // checked by hand: a JSON number, not "1" or 1.5
	Name  *string         `json:"name"`
}

func (in *instance) handlePut(w http.ResponseWriter, r *http.Request, p labs.Params) {
	id, ok := parseItem(w, p["item"])
	if !ok {
		return
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	var b putBody
	if err := dec.Decode(&b); err != nil {
		writeError(w, http.StatusBadRequest, "", `The body must be a JSON object like {"price": 1999, "name": "optional"}: `+err.Error())
		return
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "", "The body must be one JSON object with nothing after it.")
		return
	}
	if len(b.Price) == 0 || string(b.Price) == "null" {
		writeError(w, http.StatusUnprocessableEntity, "price", "price is required: a whole number of cents, 0 or more.")
		return
	}
	price, err := strconv.ParseInt(string(b.Price), 10, 64)
	if err != nil || price < 0 || price > maxPrice {
		writeError(w, http.StatusUnprocessableEntity, "price", fmt.Sprintf("price must be a whole number of cents from 0 to %d.", maxPrice))
		return
	}
	if b.Name != nil {
		n := strings.TrimSpace(*b.Name)
		if n == "" || len(n) > maxNameLen {
			writeError(w, http.StatusUnprocessableEntity, "name", fmt.Sprintf("name, when given, must be 1 to %d characters.", maxNameLen))
			return
		}
		b.Name = &n
	}
	res, err := in.write(r.Context(), id, price, b.Name)
	if err != nil {
		in.writeOutcome(w, id, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

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

func (in *instance) handleStampede(w http.ResponseWriter, r *http.Request, _ labs.Params) {
	id := hotItem
	if s := r.URL.Query().Get("item"); s != "" {
		var ok bool
		if id, ok = parseItem(w, s); !ok {
			return
		}
	}
	if !in.stampedeMu.TryLock() {
		writeError(w, http.StatusConflict, "", "A stampede is already running on this instance; wait for its answer.")
		return
	}
	defer in.stampedeMu.Unlock()
	ctx, cancel := in.withTimeout(r.Context(), stampedeWindow)
	defer cancel()
	res, err := in.stampede(ctx, id)
	if err != nil {
		in.writeOutcome(w, id, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// stampede expires an item and releases stampedeReads concurrent reads of
// it at once, counting the database reads they cause.
func (in *instance) stampede(ctx context.Context, id int) (StampedeResult, error) {
	if err := in.rdb.Del(ctx, in.itemKey(id)).Err(); err != nil {
		in.redisError("expiring the hot key", err)
		return StampedeResult{}, fmt.Errorf("%w: %v", errCacheDown, err)
	}
	counter := &dbReadCounter{}
	ctx = context.WithValue(ctx, counterKey{}, counter)
	var (
		mu      sync.Mutex
		lats    = make([]float64, 0, stampedeReads)
		sources = map[string]int{}
		errs    = map[string]int{}
	)
	// Released together, as an expiry does.
	fanOut(ctx, stampedeReads, func(int) {
		t0 := in.now()
		res, err := in.read(ctx, id)
		d := float64(in.now().Sub(t0).Microseconds()) / 1000
		mu.Lock()
		defer mu.Unlock()
		lats = append(lats, d)
		switch {
		case err == nil:
			sources[res.Source]++
		case statusOf(err) == http.StatusInternalServerError: // the log has the first
			if errs[internalFailure]++; errs[internalFailure] == 1 {
				labs.Failure(ctx, in.env.Log, "A stampede read failed.", err)
			}
		default:
			errs[err.Error()]++
		}
	})
	res := StampedeResult{Item: id, Stampede: in.cfg.stampede, Reads: stampedeReads, DBReads: counter.n.Load(),
		P50MS: labs.Percentile(lats, 50), P99MS: labs.Percentile(lats, 99), Sources: sources}
	if len(errs) > 0 {
		res.Errors = errs
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

func (in *instance) handleCrash(w http.ResponseWriter, r *http.Request, _ labs.Params) {
	if in.wb == nil {
		writeError(w, http.StatusConflict, "strategy",
			"There is no flusher to crash: crash-flusher needs strategy write_behind (this instance uses "+in.cfg.strategy+").")
		return
	}
	rep, err := in.wb.crash(r.Context())
	if err != nil {
		labs.WriteFailure(w, r, in.env.Log, "The crash report failed.", err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (in *instance) handleStats(w http.ResponseWriter, r *http.Request, _ labs.Params) {
	s, err := in.State(r.Context())
	if err != nil {
		labs.WriteFailure(w, r, in.env.Log, "Could not read the stats.", err)
		return
	}
	writeJSON(w, http.StatusOK, s)
}
