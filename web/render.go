package web

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/a-h/templ"
	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/web/views"
)

// render writes a full page: the layout around body, with the nav filled
// from the request's session and, on a signed-in page that is not an
// error, the nav's counts (navCounts, one query).
func (s *Server) render(c *gin.Context, status int, p views.Page, body templ.Component) {
	p = s.page(c, p)
	if status < 400 {
		s.navCounts(c, &p)
	}
	if p.Flash == nil {
		p.Flash = s.takeFlash(c)
	}
	c.Header("Cache-Control", "no-store")
	s.write(c, status, views.Layout(p, body))
}

// navCounts fills the badges of a signed-in visitor's nav: the cards due
// (unless the handler knows them already) and the notices, with, for
// staff, the submissions waiting for a look. It reads them in one query,
// or reuses them (navCache) while this process wrote nothing; when that
// fails, the page shows no badges and the log says why.
func (s *Server) navCounts(c *gin.Context, p *views.Page) {
	rec, ok := s.navRecord(c)
	if !ok {
		return
	}
	if !p.DueKnown {
		p.DueCards = s.progress.DueCount(rec)
	}
	p.Notices = rec.Unread + rec.Waiting
}

// navRecord is the signed-in visitor's nav record, read in one query or
// reused from navCache; false for a visitor, or when reading failed (the
// log says why).
func (s *Server) navRecord(c *gin.Context) (store.NavRecord, bool) {
	u := currentUser(c)
	if u == nil {
		return store.NavRecord{}, false
	}
	version := s.store.WriteVersion()
	if rec, ok := s.navs.get(u.ID, version); ok {
		return rec, true
	}
	rec, err := s.progress.NavRecord(c.Request.Context(), u.ID, isStaff(u), maxWaitingCounted)
	if err != nil {
		s.log.Warn("counting the nav's badges", "request_id", c.GetString(ctxRequestID), "err", err)
		return store.NavRecord{}, false
	}
	s.navs.put(u.ID, version, rec)
	return rec, true
}

// page fills the parts of a page model every page shares: the user and
// asset URLs. Handlers whose body needs them call it before render.
func (s *Server) page(c *gin.Context, p views.Page) views.Page {
	if u := currentUser(c); u != nil {
		p.User = &views.User{ID: u.ID, Email: u.Email, Role: string(u.Role)}
	}
	p.Asset = s.assets.url
	p.LabsOpen = s.labsOpen
	return p
}

// fragment writes a component on its own, for htmx swaps.
func (s *Server) fragment(c *gin.Context, status int, comp templ.Component) {
	c.Header("Cache-Control", "no-store")
	s.write(c, status, comp)
}

// write renders comp into a pooled buffer and sends it in one piece with
// its length: a page leaves in one write rather than as a chunked stream
// of small ones, and a template that fails sends a plain error page
// rather than half a page.
func (s *Server) write(c *gin.Context, status int, comp templ.Component) {
	buf := pagePool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledPage {
			buf.Reset()
			pagePool.Put(buf)
		}
	}()
	if err := comp.Render(c.Request.Context(), buf); err != nil {
		_ = c.Error(err)
		s.log.Error("render failed", "request_id", c.GetString(ctxRequestID), "err", err)
		c.Header("Content-Type", "text/plain; charset=utf-8")
		c.String(http.StatusInternalServerError, "This page could not be shown. Try again; if it keeps failing, tell whoever runs this workbook.")
		return
	}
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("Content-Length", strconv.Itoa(buf.Len()))
	c.Status(status)
	_, _ = c.Writer.Write(buf.Bytes())
}

// pagePool holds the buffers pages are rendered into; one bigger than
// maxPooledPage is left to the garbage collector.
var pagePool = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, 32<<10)) }}

const maxPooledPage = 1 << 20

const flashCookie = "workbook_flash"

// flash stores a message to show on the next page the browser opens.
func (s *Server) flash(c *gin.Context, kind, msg string) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(kind + "|" + msg)),
		Path: "/", MaxAge: 60, HttpOnly: true, Secure: s.cfg.SecureCookies(), SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) takeFlash(c *gin.Context) *views.Flash {
	ck, err := c.Request.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: s.cfg.SecureCookies(), SameSite: http.SameSiteLaxMode})
	raw, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil || len(raw) > 300 {
		return nil
	}
	kind, msg, ok := strings.Cut(string(raw), "|")
	if !ok || (kind != "info" && kind != "success" && kind != "error") {
		return nil
	}
	return &views.Flash{Kind: kind, Message: msg}
}
