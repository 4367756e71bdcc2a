package web

import (
	"context"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/internal/store"
)

// sessions keeps server-side sessions in the database, so every replica
// sees them; the cookie holds only a random token.
type sessions struct {
	store  *store.Store
	idle   time.Duration
	max    time.Duration
	secure bool
	now    func() time.Time
	cache  *sessionCache
}

// touchEvery bounds how often a request writes last_seen_at.
const touchEvery = time.Minute

// maxSessions bounds the live sessions of one account: a login beyond it
// ends the session unused for longest.
const maxSessions = 20

// maxUserAgent bounds the User-Agent kept with a session, in characters.
const maxUserAgent = 200

func (m *sessions) cookieName() string {
	if m.secure {
		// __Host-: Secure, Path=/, no Domain, so a sibling subdomain cannot set it.
		return "__Host-workbook_session"
	}
	return "workbook_session"
}

// lookup returns the session's user, or nil when there is no live session.
func (m *sessions) lookup(ctx context.Context, r *http.Request) (*store.User, string, error) {
	ck, err := r.Cookie(m.cookieName())
	if err != nil || ck.Value == "" || len(ck.Value) > 100 {
		return nil, "", nil
	}
	id := auth.TokenID(ck.Value)
	sess, user, err := m.read(ctx, id)
	if apperr.Is(err, apperr.NotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	now := m.now()
	if now.Sub(sess.LastSeenAt) > m.idle || now.Sub(sess.CreatedAt) > m.max {
		_ = m.store.DeleteSession(ctx, id)
		return nil, "", nil
	}
	if now.Sub(sess.LastSeenAt) > touchEvery {
		if err := m.store.TouchSession(ctx, id, now); err != nil {
			return nil, "", err
		}
		m.cache.touched(id, now)
	}
	return &user, id, nil
}

// read is the session and its account, from this replica's cache when it
// has them.
func (m *sessions) read(ctx context.Context, id string) (store.Session, store.User, error) {
	if sess, user, ok := m.cache.get(id); ok {
		return sess, user, nil
	}
	gen := m.cache.generation()
	sess, user, err := m.store.SessionWithUser(ctx, id)
	if err == nil {
		m.cache.put(gen, sess, user)
	}
	return sess, user, err
}

// start logs a user in with a fresh token, ending any session the browser
// had, so a token planted before login is worthless after it. The
// account's oldest sessions end beyond maxSessions.
func (m *sessions) start(c *gin.Context, userID int64) error {
	m.endCurrent(c)
	token := auth.NewToken()
	sess := store.Session{ID: auth.TokenID(token), UserID: userID, CreatedAt: m.now(), UserAgent: cleanUserAgent(c.Request.UserAgent())}
	if err := m.store.CreateSession(c.Request.Context(), sess, maxSessions); err != nil {
		return err
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name: m.cookieName(), Value: token, Path: "/", MaxAge: int(m.max.Seconds()),
		HttpOnly: true, Secure: m.secure, SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// endCurrent destroys the browser's session, if any, and clears the cookie.
func (m *sessions) endCurrent(c *gin.Context) {
	if ck, err := c.Request.Cookie(m.cookieName()); err == nil && ck.Value != "" {
		_ = m.store.DeleteSession(c.Request.Context(), auth.TokenID(ck.Value))
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name: m.cookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: m.secure, SameSite: http.SameSiteLaxMode,
	})
}

const (
	ctxUser    = "user"
	ctxSession = "session" // the id of the request's session, when it has one
)

// loadSession puts the signed-in user, if any, into the context.
func (s *Server) loadSession(c *gin.Context) {
	u, id, err := s.sessions.lookup(c.Request.Context(), c.Request)
	if err != nil {
		s.fail(c, apperr.Wrap(err, apperr.Unavailable, "Sessions are unavailable right now. Please try again shortly."))
		return
	}
	if u != nil {
		c.Set(ctxUser, u)
		c.Set(ctxSession, id)
	}
	c.Next()
}

// currentSession is the id of the request's session, or "" when it came
// with an access token or none.
func currentSession(c *gin.Context) string { return c.GetString(ctxSession) }

// cleanUserAgent shortens a User-Agent to maxUserAgent characters of
// printable text, for the session list.
func cleanUserAgent(ua string) string {
	var b strings.Builder
	n := 0
	for _, r := range ua {
		if n == maxUserAgent {
			break
		}
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			continue
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

func currentUser(c *gin.Context) *store.User {
	if v, ok := c.Get(ctxUser); ok {
		if u, ok := v.(*store.User); ok {
			return u
		}
	}
	return nil
}

// requireUser sends anonymous browsers to the login page (API clients get 401).
func (s *Server) requireUser(c *gin.Context) {
	if currentUser(c) != nil {
		c.Next()
		return
	}
	if wantsJSON(c) || c.Request.Method != http.MethodGet {
		s.fail(c, apperr.New(apperr.Unauthorized, "Log in first."))
		return
	}
	c.Redirect(http.StatusSeeOther, "/login?next="+urlQueryEscape(c.Request.URL.RequestURI()))
	c.Abort()
}

// requireRole lets through users with one of roles; others get 403.
func (s *Server) requireRole(roles ...store.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		u := currentUser(c)
		if u == nil {
			s.requireUser(c)
			return
		}
		for _, r := range roles {
			if u.Role == r {
				c.Next()
				return
			}
		}
		s.fail(c, apperr.New(apperr.Forbidden, "Your account's role does not allow this."))
	}
}
