package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/sdworkbook/workbook/labs/labhttp"
)

const (
	maxBodyBytes = 4 << 10
	maxPrice     = 1_000_000_000 // cents
	maxNameLen   = 100
)

// routes are the lab's endpoints under the instance: its HTTP contract
// (see doc.go).
func (in *instance) routes() *labhttp.Router {
	rt := labhttp.NewRouter(in.env.Log)
	rt.HandleFunc("GET /items/{item}", in.handleGet)
	rt.HandleFunc("PUT /items/{item}", in.handlePut)
	rt.HandleFunc("POST /stampede", in.handleStampede)
	rt.HandleFunc("POST /crash-flusher", in.handleCrash)
	rt.HandleFunc("GET /db/items/{item}", in.handleRow)
	rt.HandleFunc("GET /stats", in.handleStats)
	rt.HandleFunc("PUT /redis", in.handleRedis)
	return rt
}

// Handler serves the cache lab's routes.
func (in *instance) Handler() http.Handler { return in.router }

// itemOf reads an item id: not a whole number is a 400, a number outside
// the catalogue a 404, both naming "item".
func itemOf(s string) (int, error) {
	id, err := strconv.Atoi(s)
	if err != nil {
		return 0, labhttp.BadRequest("item", "Item %q is not a whole number; items are 1 to %d.", s, CatalogueSize)
	}
	if id < 1 || id > CatalogueSize {
		return 0, noItem(id)
	}
	return id, nil
}

// noItem is the 404 of an id outside the catalogue.
func noItem(id int) *labhttp.Error {
	e := labhttp.NotFound("No item %d: the catalogue has items 1 to %d.", id, CatalogueSize)
	e.Fields = map[string]string{"item": e.Message}
	return e
}

// failure is the answer to a read or write of item id that ended with
// err: a 404, a 503 when the design gave up (it says why), or a 500 whose
// cause, a failure of Redis or the database, goes to the log.
func failure(id int, err error) error {
	switch statusOf(err) {
	case http.StatusNotFound:
		return noItem(id)
	case http.StatusServiceUnavailable:
		return labhttp.Errorf(http.StatusServiceUnavailable, labhttp.CodeUnavailable, "%s", sentence(err))
	}
	return &labhttp.Error{Status: http.StatusInternalServerError, Code: labhttp.CodeInternal,
		Message: fmt.Sprintf("Item %d could not be served.", id), Err: err}
}

// sentence is what a learner reads about a read or write the design gave
// up on.
func sentence(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "The request ran out of time on the lab's clock."
	case errors.Is(err, context.Canceled):
		return "The request was cancelled."
	}
	s := err.Error()
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

func (in *instance) handleGet(w http.ResponseWriter, r *http.Request) {
	id, err := itemOf(r.PathValue("item"))
	if err != nil {
		labhttp.WriteError(w, r, err)
		return
	}
	res, err := in.read(r.Context(), id)
	if err != nil {
		labhttp.WriteError(w, r, failure(id, err))
		return
	}
	labhttp.WriteJSON(w, http.StatusOK, res)
}

// putBody is PUT items/{item}: price in cents, name optional.
type putBody struct {
	Price json.RawMessage `json:"price"` // checked by hand: a JSON number, not "1" or 1.5
	Name  *string         `json:"name"`
}

// readPut reads and checks PUT items/{item}'s body.
func readPut(r *http.Request) (int64, *string, error) {
	var b putBody
	if err := labhttp.DecodeJSON(r, &b, maxBodyBytes); err != nil {
		return 0, nil, err
	}
	if len(b.Price) == 0 || string(b.Price) == "null" {
		return 0, nil, labhttp.Invalid("price", "price is required: a whole number of cents, 0 or more.")
	}
	price, err := strconv.ParseInt(string(b.Price), 10, 64)
	if err != nil || price < 0 || price > maxPrice {
		return 0, nil, labhttp.Invalid("price", "price must be a whole number of cents from 0 to %d.", maxPrice)
	}
	if b.Name == nil {
		return price, nil, nil
	}
	n := strings.TrimSpace(*b.Name)
	if n == "" || len(n) > maxNameLen {
		return 0, nil, labhttp.Invalid("name", "name, when given, must be 1 to %d characters.", maxNameLen)
	}
	return price, &n, nil
}

func (in *instance) handlePut(w http.ResponseWriter, r *http.Request) {
	id, err := itemOf(r.PathValue("item"))
	if err != nil {
		labhttp.WriteError(w, r, err)
		return
	}
	price, name, err := readPut(r)
	if err != nil {
		labhttp.WriteError(w, r, err)
		return
	}
	res, err := in.write(r.Context(), id, price, name)
	if err != nil {
		labhttp.WriteError(w, r, failure(id, err))
		return
	}
	labhttp.WriteJSON(w, http.StatusOK, res)
}

func (in *instance) handleStampede(w http.ResponseWriter, r *http.Request) {
	q, err := labhttp.Query(r)
	id := hotItem
	if err == nil && q.Get("item") != "" {
		id, err = itemOf(q.Get("item"))
	}
	if err != nil {
		labhttp.WriteError(w, r, err)
		return
	}
	if !in.stampedeMu.TryLock() {
		labhttp.WriteError(w, r, labhttp.Conflict("", "A stampede is already running on this instance; wait for its answer."))
		return
	}
	defer in.stampedeMu.Unlock()
	ctx, cancel := in.withTimeout(r.Context(), stampedeWindow)
	defer cancel()
	res, err := in.stampede(ctx, id)
	if err != nil {
		labhttp.WriteError(w, r, failure(id, err))
		return
	}
	labhttp.WriteJSON(w, http.StatusOK, res)
}

func (in *instance) handleCrash(w http.ResponseWriter, r *http.Request) {
	if in.wb == nil {
		labhttp.WriteError(w, r, labhttp.Conflict("strategy",
			"There is no flusher to crash: crash-flusher needs strategy write_behind (this instance uses %s).", in.cfg.strategy))
		return
	}
	rep, err := in.wb.crash(r.Context())
	if err != nil {
		labhttp.WriteError(w, r, labhttp.Unavailable(err, "The crash report failed."))
		return
	}
	labhttp.WriteJSON(w, http.StatusOK, rep)
}

// handleRow answers GET db/items/{item}: the row as the database holds it.
func (in *instance) handleRow(w http.ResponseWriter, r *http.Request) {
	id, err := itemOf(r.PathValue("item"))
	if err != nil {
		labhttp.WriteError(w, r, err)
		return
	}
	it, err := in.dbRow(r.Context(), id)
	switch {
	case errors.Is(err, errNoItem):
		labhttp.WriteError(w, r, noItem(id))
	case err != nil:
		labhttp.WriteError(w, r, labhttp.Unavailable(err, "The database row of item %d could not be read.", id))
	default:
		labhttp.WriteJSON(w, http.StatusOK, it)
	}
}

func (in *instance) handleStats(w http.ResponseWriter, r *http.Request) {
	s, err := in.State(r.Context())
	if err != nil {
		labhttp.WriteError(w, r, labhttp.Unavailable(err, "Could not read the stats."))
		return
	}
	labhttp.WriteJSON(w, http.StatusOK, s)
}
