package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/internal/names"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/web/views"
)

const (
	// maxTokens bounds the access tokens one account holds.
	maxTokens    = 20
	maxTokenName = 60
	// tokenPrefix marks our tokens, so a leaked one is recognisable.
	tokenPrefix = "wbk_"
	// defaultTokenDays is how long a new token works unless another
	// expiry is chosen.
	defaultTokenDays = 90
)

func (s *Server) accountModel(c *gin.Context) (views.AccountPage, error) {
	u := currentUser(c)
	toks, err := s.store.Tokens(c.Request.Context(), u.ID)
	if err != nil {
		return views.AccountPage{}, err
	}
	sess, err := s.sessionRows(c)
	return views.AccountPage{
		Email: u.Email, Role: string(u.Role), Tokens: tokenRows(toks, s.now()), MaxTokens: maxTokens, Now: s.now(),
		TokenDays: tokenDayChoices, Days: defaultTokenDays, Scope: string(store.ScopeReadOnly),
		Sessions: sess, MaxSessions: maxSessions,
		Mail: views.MailStatus{MailEnabled: s.mail != nil, VerifiedAt: u.EmailVerifiedAt},
	}, err
}

func (s *Server) accountPage(c *gin.Context) {
	m, err := s.accountModel(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.render(c, http.StatusOK, views.Page{Title: "Your account", Section: "account"}, views.AccountView(m))
}

// createToken makes a personal access token and shows it once, on this
// response only: it is never stored, so it cannot be shown again.
func (s *Server) createToken(c *gin.Context) {
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	name := strings.TrimSpace(c.Request.PostForm.Get("name"))
	m, err := s.accountModel(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	days, scope, errs := parseTokenOptions(c.Request.PostForm.Get("expires_days"), c.Request.PostForm.Get("scope"))
	status := http.StatusUnprocessableEntity
	switch {
	case name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxTokenName:
		m.NameError = fmt.Sprintf("Name the token (1 to %d characters), so you know which script holds it.", maxTokenName)
	case names.HasUnsafe(name):
		m.NameError = names.Message
	case len(m.Tokens) >= maxTokens:
		m.NameError = fmt.Sprintf("You already have %d tokens; revoke one you no longer use first.", maxTokens)
		status = http.StatusTooManyRequests
	}
	if m.NameError != "" || len(errs) > 0 {
		m.Name, m.TokenErrors = name, errs
		if days != 0 {
			m.Days = days
		}
		if scope != "" {
			m.Scope = string(scope)
		}
		s.render(c, status, views.Page{Title: "Your account", Section: "account"}, views.AccountView(m))
		return
	}
	token := tokenPrefix + auth.NewToken()
	now := s.now()
	t, err := s.store.CreateToken(c.Request.Context(), store.APIToken{
		UserID: currentUser(c).ID, Name: name, TokenHash: auth.TokenID(token), Prefix: token[:len(tokenPrefix)+6],
		CreatedAt: now, ExpiresAt: now.Add(time.Duration(days) * 24 * time.Hour), Scope: scope,
	}, maxTokens)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.log.Info("access token created", "user_id", t.UserID, "token_id", t.ID, "scope", t.Scope, "days", days)
	if m, err = s.accountModel(c); err != nil {
		s.fail(c, err)
		return
	}
	m.NewToken, m.NewTokenName = token, name
	s.render(c, http.StatusCreated, views.Page{Title: "Your account", Section: "account"}, views.AccountView(m))
}

func (s *Server) revokeToken(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("tid"), 10, 64)
	if err != nil {
		s.notFound(c)
		return
	}
	t, err := s.store.DeleteToken(c.Request.Context(), currentUser(c).ID, id)
	if err != nil {
		s.fail(c, err)
		return
	}
	s.log.Info("access token revoked", "user_id", t.UserID, "token_id", t.ID)
	s.flash(c, "success", "Token “"+t.Name+"” revoked; scripts using it are refused from now on.")
	c.Redirect(http.StatusSeeOther, "/account")
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	scheme, tok, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(tok), true
}

// loadSessionOrToken authenticates a script by its access token when the
// request carries one, and otherwise reads the session cookie. A token
// that is not valid is a 401, never an anonymous request. Only the API
// and the exports take tokens; pages go through loadSession.
func (s *Server) loadSessionOrToken(c *gin.Context) {
	tok, ok := bearerToken(c.Request)
	if !ok {
		s.loadSession(c)
		return
	}
	c.Header("WWW-Authenticate", `Bearer realm="workbook"`)
	if !strings.HasPrefix(tok, tokenPrefix) || len(tok) > 100 {
		s.failWith(c, http.StatusUnauthorized, string(apperr.Unauthorized),
			"Send a personal access token as Authorization: Bearer wbk_…; create one on your account page.", nil)
		return
	}
	now := s.now()
	t, u, err := s.store.UserByToken(c.Request.Context(), auth.TokenID(tok), now)
	if apperr.Is(err, apperr.NotFound) {
		s.failWith(c, http.StatusUnauthorized, string(apperr.Unauthorized), "This access token is not valid: it was revoked, or it is mistyped.", nil)
		return
	}
	if err != nil {
		s.fail(c, apperr.Wrap(err, apperr.Unavailable, "Access tokens cannot be checked right now. Please try again shortly."))
		return
	}
	if t.Expired(now) {
		s.failWith(c, http.StatusUnauthorized, string(apperr.Unauthorized),
			"This access token expired on "+t.ExpiresAt.UTC().Format("2 Jan 2006")+"; create a new one on your account page.", nil)
		return
	}
	if t.Scope != store.ScopeReadWrite && c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead {
		s.failWith(c, http.StatusForbidden, string(apperr.Forbidden),
			"This access token is read-only: it may only read (GET requests). Create a read-write token on your account page to change things.", nil)
		return
	}
	c.Set(ctxUser, &u)
	c.Next()
}
