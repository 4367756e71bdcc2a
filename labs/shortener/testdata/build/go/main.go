// Command service is a URL shortener: the reference solution of the
// shortener-build exercise.
//
// Links live in PostgreSQL, the source of truth. Redis caches them in
// front (cache-aside, never longer than a link lives), and a redirect
// falls back to the database when Redis fails. Codes are 7 random base62
// characters from a cryptographic source, drawn again when one is taken,
// so replicas need no coordination and a restart changes nothing.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	maxBody  = 4 << 20
	maxBatch = 1000
	maxList  = 1000
)

func main() {
	log.SetFlags(0)
	st, err := openStore(context.Background(), os.Getenv("DATABASE_URL"), os.Getenv("REDIS_URL"))
	if err != nil {
		log.Fatalf("starting: %v", err)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("POST /shorten", st.handleShorten)
	mux.HandleFunc("POST /batch", st.handleBatch)
	mux.HandleFunc("GET /r/{code}", st.handleRedirect)
	mux.HandleFunc("GET /links", st.handleLinks)
	srv := &http.Server{Addr: "0.0.0.0:" + port, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("replica %s listening on %s", os.Getenv("REPLICA_ID"), srv.Addr)
	log.Fatal(srv.ListenAndServe())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// refuse answers the contract's error shape, naming field when there is one.
func refuse(w http.ResponseWriter, status int, code, field, msg string) {
	detail := map[string]any{"code": code, "message": msg}
	if field != "" {
		detail["fields"] = map[string]string{field: msg}
	}
	writeJSON(w, status, map[string]any{"error": detail})
}

// failed logs err and answers 500 with a sentence.
func failed(w http.ResponseWriter, r *http.Request, err error) {
	log.Printf("%s %s: %v", r.Method, r.URL.Path, err)
	refuse(w, http.StatusInternalServerError, "internal", "", "The service failed; its log says why.")
}

// readJSON decodes the body into v, or answers why it cannot.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(v)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		refuse(w, http.StatusRequestEntityTooLarge, "too_large", "body", fmt.Sprintf("The body is larger than %d bytes.", maxBody))
	case err != nil:
		refuse(w, http.StatusBadRequest, "invalid", "body", `The body must be JSON like {"url": "https://example.org/page"}.`)
	default:
		return true
	}
	return false
}

// created is POST /shorten's answer.
type created struct {
	Code      string `json:"code"`
	Path      string `json:"path"`
	ShortURL  string `json:"short_url"`
	URL       string `json:"url"`
	ExpiresAt *int64 `json:"expires_at_ms"`
}

func (s *store) handleShorten(w http.ResponseWriter, r *http.Request) {
	var b createBody
	if !readJSON(w, r, &b) {
		return
	}
	if field, msg := b.validate(); field != "" {
		refuse(w, http.StatusBadRequest, "invalid", field, msg)
		return
	}
	alias := ""
	if b.Alias != nil {
		alias = *b.Alias
	}
	var expires *int64
	if b.TTLS != nil {
		e := nowMS() + *b.TTLS*1000
		expires = &e
	}
	var code string
	err := pgx.BeginFunc(r.Context(), s.db, func(tx pgx.Tx) (err error) {
		code, _, err = insert(r.Context(), tx, *b.URL, alias, expires)
		return err
	})
	switch {
	case errors.Is(err, errTaken) && alias != "":
		refuse(w, http.StatusConflict, "conflict", "alias", fmt.Sprintf("The alias %q is taken.", alias))
	case errors.Is(err, errTaken):
		refuse(w, http.StatusServiceUnavailable, "no_free_code", "code", fmt.Sprintf("No free code was found after %d tries.", attempts))
	case err != nil:
		failed(w, r, err)
	default:
		short := "http://" + r.Host + "/r/" + code
		w.Header().Set("Location", short)
		writeJSON(w, http.StatusCreated, created{Code: code, Path: "r/" + code, ShortURL: short, URL: *b.URL, ExpiresAt: expires})
	}
}

// batchItem is one URL's fate in POST /batch.
type batchItem struct {
	Code  string `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
}

func (s *store) handleBatch(w http.ResponseWriter, r *http.Request) {
	var b struct {
		URLs []string `json:"urls"`
	}
	if !readJSON(w, r, &b) {
		return
	}
	if len(b.URLs) == 0 || len(b.URLs) > maxBatch {
		refuse(w, http.StatusBadRequest, "invalid", "urls", fmt.Sprintf("urls must be a list of 1 to %d URLs.", maxBatch))
		return
	}
	for i, u := range b.URLs {
		if msg := checkURL(u); msg != "" {
			refuse(w, http.StatusBadRequest, "invalid", "urls", fmt.Sprintf("urls[%d]: %s", i, msg))
			return
		}
	}
	results := make([]batchItem, len(b.URLs))
	created, collisions := 0, 0
	err := pgx.BeginFunc(r.Context(), s.db, func(tx pgx.Tx) error {
		created, collisions = 0, 0
		for i, u := range b.URLs {
			code, taken, err := insert(r.Context(), tx, u, "", nil)
			collisions += taken
			switch {
			case errors.Is(err, errTaken):
				results[i] = batchItem{Error: "no_free_code"}
			case err != nil:
				return err
			default:
				results[i] = batchItem{Code: code}
				created++
			}
		}
		return nil
	})
	if err != nil {
		failed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"requested": len(b.URLs), "created": created, "failed": len(b.URLs) - created,
		"collisions": collisions, "results": results})
}

func (s *store) handleRedirect(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	if !validCode(code) {
		refuse(w, http.StatusNotFound, "not_found", "code", "No link has this code.")
		return
	}
	l, err := s.lookup(r.Context(), code)
	switch {
	case err != nil:
		failed(w, r, err)
	case l == nil:
		refuse(w, http.StatusNotFound, "not_found", "code", "No link has this code.")
	case l.ExpiresAt != nil && nowMS() >= *l.ExpiresAt:
		refuse(w, http.StatusGone, "gone", "code", "This link has expired.")
	default:
		w.Header().Set("Location", l.URL)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusFound)
	}
}

func (s *store) handleLinks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := maxList
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxList {
			refuse(w, http.StatusBadRequest, "invalid", "limit", fmt.Sprintf("limit must be a whole number from 1 to %d.", maxList))
			return
		}
		limit = n
	}
	links, err := s.page(r.Context(), q.Get("after"), limit)
	if err != nil {
		failed(w, r, err)
		return
	}
	next := ""
	if len(links) == limit {
		next = links[len(links)-1].Code
	}
	writeJSON(w, http.StatusOK, map[string]any{"links": links, "next": next})
}
