package shortener

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labhttp"
)

// routes are the lab's endpoints under the instance (the contract in
// doc.go).
//
// Short URLs: the web layer serves an instance's routes under
// /api/labs/shortener/instances/{id}/, so a link's redirect is at
// r/{code} relative to that path. POST shorten answers with both: "path"
// is relative to the instance ("r/Ab3dE9x"), and "short_url" is absolute,
// built from the request's own scheme, Host and path (the path POST
// shorten was sent to, with "shorten" replaced by "r/{code}").
func (in *instance) routes() *labhttp.Router {
	rt := labhttp.NewRouter(in.env.Log)
	rt.HandleFunc("POST /shorten", in.handleShorten)
	rt.HandleFunc("POST /batch", in.handleBatch)
	rt.HandleFunc("GET /r/{code}", in.handleRedirect)
	rt.HandleFunc("GET /links", in.handleList)
	rt.HandleFunc("GET /links/{code}", in.handleLink)
	rt.HandleFunc("GET /shards", in.handleShards)
	rt.HandleFunc("POST /reshard", in.handleReshard)
	rt.HandleFunc("GET /stats", in.handleStats)
	rt.HandleFunc("POST /crash", in.handleCrash)
	rt.HandleFunc("GET /clicks", in.handleClicks)
	return rt
}

// Handler serves the shortener's routes.
func (in *instance) Handler() http.Handler { return in.router }

// withExample adds an example body to a refusal of a body that could not
// be read at all.
func withExample(err error, example string) error {
	var e *labhttp.Error
	if errors.As(err, &e) && e.Fields["body"] != "" {
		e.Message += " Send a JSON object like " + example + "."
		e.Fields["body"] = e.Message
	}
	return err
}

// notFound is a 404 naming field.
func notFound(field, format string, args ...any) *labhttp.Error {
	return named(labhttp.NotFound(format, args...), field)
}

// named is e naming field.
func named(e *labhttp.Error, field string) *labhttp.Error {
	e.Fields = map[string]string{field: e.Message}
	return e
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

func (in *instance) handleShorten(w http.ResponseWriter, r *http.Request) {
	req, err := readCreate(r, in.cfg.codeLen)
	if err != nil {
		in.reject()
		labhttp.WriteError(w, r, err)
		return
	}
	// Invalid requests are refused before the limiter, so they do not use
	// up a client's allowance.
	if err := in.allowCreate(w, r); err != nil {
		labhttp.WriteError(w, r, err)
		return
	}
	l, existing, err := in.create(r.Context(), req)
	if err != nil {
		labhttp.WriteError(w, r, in.createError(req, err))
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
	labhttp.WriteJSON(w, status, c)
}

// allowCreate asks the creation limiter about the client; a refusal is a
// 429 with Retry-After.
func (in *instance) allowCreate(w http.ResponseWriter, r *http.Request) error {
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
		return labhttp.Errorf(http.StatusTooManyRequests, labhttp.CodeTooMany,
			"Too many links created: at most %d per second per client address. Try again in %d ms.", createLimit, retry.Milliseconds())
	}
	return nil
}

// createError is the answer to a creation that failed.
func (in *instance) createError(req createRequest, err error) *labhttp.Error {
	switch {
	case errors.Is(err, errAliasTaken):
		return labhttp.Conflict("alias", "The alias %q is taken; choose another.", req.Alias)
	case errors.Is(err, errSpaceFull):
		return named(labhttp.Errorf(http.StatusServiceUnavailable, labhttp.CodeUnavailable,
			"The counter has handed out all %s codes of length %d; a longer code_length multiplies the space by 62 per character.",
			labs.Thousands(in.space), in.cfg.codeLen), "code_length")
	case errors.Is(err, errNoFreeCode):
		return named(labhttp.Errorf(http.StatusServiceUnavailable, labhttp.CodeUnavailable,
			"%d codes in a row were already taken: the %s codes of length %d are nearly used up. A longer code_length multiplies the space by 62 per character.",
			maxAttempts, labs.Thousands(in.space), in.cfg.codeLen), "code_length")
	}
	return labhttp.Unavailable(err, "The database failed.")
}

func (in *instance) reject() {
	in.rejected.Add(1)
	in.env.Metrics.Count("rejected", 1)
}

// shortURL is the absolute URL of code's redirect, next to the path the
// creation was sent to: the path the client asked for (RequestURI), since
// the web app strips the instance's prefix from URL.Path.
func shortURL(r *http.Request, code string) string {
	p := r.URL.Path
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != "" {
		p = u.Path
	}
	base := strings.TrimSuffix(strings.TrimSuffix(p, "/"), "shorten")
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

func (in *instance) handleRedirect(w http.ResponseWriter, r *http.Request) {
	code := r.PathValue("code")
	o, err := in.redirect(r.Context(), code, true)
	if err != nil {
		labhttp.WriteError(w, r, labhttp.Unavailable(err, "The lookup failed."))
		return
	}
	switch o.status {
	case http.StatusNotFound:
		labhttp.WriteError(w, r, notFound("code", "No link has the code %q.", code))
	case http.StatusGone:
		labhttp.WriteError(w, r, named(labhttp.Errorf(http.StatusGone, labhttp.CodeNotFound, "The link %q expired at %s; expired codes are never reused.",
			code, time.UnixMilli(o.entry.expiresMS).UTC().Format(time.RFC3339)), "code"))
	default:
		h := w.Header()
		h.Set("Location", o.url)
		h.Set("X-Served-By", o.tier) // local, redis or database: which tier found the link
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
