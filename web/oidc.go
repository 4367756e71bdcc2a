package web

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gin-gonic/gin"
	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/oauth2"

	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/web/views"
)

// sso is single sign-on with one OpenID Connect provider: the authorization
// code flow with PKCE, a state and a nonce per attempt kept in Redis and
// bound to the browser, and the ID token verified (signature, issuer,
// audience, expiry, nonce). The provider's endpoints are discovered when
// the server starts and, while the provider does not answer, again on
// demand at most every discoveryRetry, so a provider that is briefly down
// never stops the workbook from starting.
type sso struct {
	cfg      config.OIDC
	redirect string
	client   *http.Client
	log      *slog.Logger
	now      func() time.Time

	mu      sync.Mutex // held during discovery
	found   *ssoEndpoints
	lastTry time.Time
	lastErr error
}

// ssoEndpoints is what discovery found.
type ssoEndpoints struct {
	provider *oidc.Provider
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
	// origins are where the login page's form may send the browser: the
	// issuer and the authorization endpoint.
	origins string
}

const (
	// discoveryRetry spaces attempts to reach a provider that did not answer.
	discoveryRetry = 15 * time.Second
	// ssoAttemptTTL is how long a person has at the provider to sign in.
	ssoAttemptTTL = 10 * time.Minute
	// ssoStartsPerIP bounds the attempts one address may start per window:
	// each holds a small record in Redis until it is used or expires. A
	// class behind one address signing in at once fits easily.
	ssoStartsPerIP = 300
	ssoStartWindow = 15 * time.Minute
)

// newSSO returns nil when single sign-on is off; otherwise it starts
// discovering the provider in the background.
func newSSO(cfg config.Config, log *slog.Logger, now func() time.Time) *sso {
	if !cfg.OIDC.Enabled() {
		return nil
	}
	p := &sso{
		cfg:      cfg.OIDC,
		redirect: cfg.OIDCRedirectURL(),
		client:   &http.Client{Timeout: 10 * time.Second},
		log:      log,
		now:      now,
	}
	go func() { _, _ = p.endpoints(context.Background()) }()
	return p
}

// endpoints returns the discovered provider, discovering it first unless
// the last attempt failed less than discoveryRetry ago.
func (p *sso) endpoints(ctx context.Context) (*ssoEndpoints, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.found != nil {
		return p.found, nil
	}
	if p.lastErr != nil && p.now().Sub(p.lastTry) < discoveryRetry {
		return nil, p.lastErr
	}
	p.lastTry = p.now()
	ctx, cancel := context.WithTimeout(ctx, p.client.Timeout)
	defer cancel()
	prov, err := oidc.NewProvider(oidc.ClientContext(ctx, p.client), p.cfg.Issuer)
	if err != nil {
		p.lastErr = err
		p.log.Warn("single sign-on: the provider's discovery document could not be read; retrying on demand",
			"issuer", p.cfg.Issuer, "err", err)
		return nil, err
	}
	ep := &ssoEndpoints{
		provider: prov,
		oauth: oauth2.Config{
			ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret, RedirectURL: p.redirect,
			Endpoint: prov.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "email", "profile"},
		},
		verifier: prov.Verifier(&oidc.Config{ClientID: p.cfg.ClientID}),
		origins:  originOf(p.cfg.Issuer),
	}
	if o := originOf(prov.Endpoint().AuthURL); o != "" && o != ep.origins {
		ep.origins += " " + o
	}
	p.found, p.lastErr = ep, nil
	p.log.Info("single sign-on: provider discovered", "issuer", p.cfg.Issuer)
	return ep, nil
}

// signIn is the login page's offer. It never waits for discovery: while
// one is running the button shows as usual, and after a failed one the
// page says so and a new attempt starts in the background.
func (p *sso) signIn() views.SignIn {
	si := views.SignIn{Name: p.cfg.Name, Only: p.cfg.Only}
	if !p.mu.TryLock() {
		return si
	}
	found, failed, stale := p.found != nil, p.lastErr != nil, p.now().Sub(p.lastTry) >= discoveryRetry
	p.mu.Unlock()
	if !found && failed {
		si.Unreachable = true
		if stale {
			go func() { _, _ = p.endpoints(context.Background()) }()
		}
	}
	return si
}

// formOrigins are the origins the login page's form may lead to.
func (p *sso) formOrigins() string {
	if p.mu.TryLock() {
		defer p.mu.Unlock()
		if p.found != nil {
			return p.found.origins
		}
	}
	return originOf(p.cfg.Issuer)
}

func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// ssoAttempt is one sign-in in flight, stored under its state.
type ssoAttempt struct {
	Binding  string `json:"b"` // TokenID of the browser's binding cookie
	Nonce    string `json:"n"`
	Verifier string `json:"v"` // the PKCE code verifier
	Next     string `json:"next"`
}

func ssoAttemptKey(state string) string { return "sso:attempt:" + auth.TokenID(state) }

// bindingCookieName is the cookie that ties an attempt to the browser that started it, so a
// callback carrying someone else's state (a link an attacker started) is
// refused. One cookie serves every attempt of the browser, so two tabs can
// sign in at once.
func (s *Server) bindingCookieName() string {
	if s.cfg.SecureCookies() {
		return "__Host-workbook_sso"
	}
	return "workbook_sso"
}

// oidcStart sends the browser to the provider with a fresh state, nonce
// and PKCE challenge. It is a POST from the login page's button, so the
// cross-origin protection keeps other sites from starting sign-ins.
func (s *Server) oidcStart(c *gin.Context) {
	if err := s.parseForm(c); err != nil {
		s.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	next := safeNext(c.Request.PostForm.Get("next"))
	name := s.cfg.OIDC.Name
	wait, err := s.limiter.Take(ctx, auth.Limit{Key: "throttle:sso:start:ip:" + c.ClientIP(), Max: ssoStartsPerIP, Window: ssoStartWindow})
	if err != nil {
		s.ssoFailed(c, http.StatusServiceUnavailable, "Signing in is unavailable right now. Please try again shortly.", next, "redis", "err", err)
		return
	}
	if wait > 0 {
		c.Header("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		s.ssoFailed(c, http.StatusTooManyRequests, retryMessage(wait), next, "too many sign-ins started from this address")
		return
	}
	ep, err := s.sso.endpoints(ctx)
	if err != nil {
		s.ssoFailed(c, http.StatusServiceUnavailable,
			fmt.Sprintf("%s is not answering right now, so you cannot sign in with it. Please try again in a minute.", name), next,
			"provider unreachable", "err", err)
		return
	}
	binding := ""
	if ck, err := c.Request.Cookie(s.bindingCookieName()); err == nil && len(ck.Value) == 43 {
		binding = ck.Value
	} else {
		binding = auth.NewToken()
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name: s.bindingCookieName(), Value: binding, Path: "/", MaxAge: int(ssoAttemptTTL.Seconds()),
		// Lax: the provider's redirect back is a top-level GET from its site.
		HttpOnly: true, Secure: s.cfg.SecureCookies(), SameSite: http.SameSiteLaxMode,
	})
	state, nonce, verifier := auth.NewToken(), auth.NewToken(), oauth2.GenerateVerifier()
	rec, _ := json.Marshal(ssoAttempt{Binding: auth.TokenID(binding), Nonce: nonce, Verifier: verifier, Next: next})
	if err := s.rdb.Set(ctx, ssoAttemptKey(state), rec, ssoAttemptTTL).Err(); err != nil {
		s.ssoFailed(c, http.StatusServiceUnavailable, "Signing in is unavailable right now. Please try again shortly.", next, "redis", "err", err)
		return
	}
	c.Redirect(http.StatusSeeOther, ep.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)))
}

// takeAttempt returns the attempt stored under state and removes it, so
// a callback works once only. It is nil, with the reason, when there is
// none, or when it was started in another browser: that one is left for
// its own browser, so a stolen callback link burns nothing.
func (s *Server) takeAttempt(ctx context.Context, c *gin.Context, state string) (*ssoAttempt, string, error) {
	key := ssoAttemptKey(state)
	raw, err := s.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, "unknown, used or expired state", nil
	}
	if err != nil {
		return nil, "", err
	}
	var a ssoAttempt
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, "", err
	}
	ck, err := c.Request.Cookie(s.bindingCookieName())
	if err != nil || subtle.ConstantTimeCompare([]byte(auth.TokenID(ck.Value)), []byte(a.Binding)) != 1 {
		return nil, "state started in another browser", nil
	}
	// Of two callbacks racing with one state, only the one that deletes it
	// goes on.
	n, err := s.rdb.Del(ctx, key).Result()
	if err != nil {
		return nil, "", err
	}
	if n == 0 {
		return nil, "state used by a concurrent callback", nil
	}
	return &a, "", nil
}

// expiredMessage answers a callback without a matching attempt: a state
// that was tampered with, a callback used twice, a link from another
// browser, or an attempt older than ssoAttemptTTL.
const expiredMessage = "That sign-in has expired or was already used. Please sign in again."

// oidcCallback is where the provider sends the browser back.
func (s *Server) oidcCallback(c *gin.Context) {
	ctx := c.Request.Context()
	q := c.Request.URL.Query()
	name := s.cfg.OIDC.Name
	state := q.Get("state")
	if state == "" || len(state) > 256 {
		s.ssoFailed(c, http.StatusBadRequest, expiredMessage, "", "no state")
		return
	}
	attempt, reason, err := s.takeAttempt(ctx, c, state)
	if err != nil {
		s.ssoFailed(c, http.StatusServiceUnavailable, "Signing in is unavailable right now. Please try again shortly.", "", "redis", "err", err)
		return
	}
	if attempt == nil {
		s.ssoFailed(c, http.StatusBadRequest, expiredMessage, "", reason)
		return
	}
	next := attempt.Next
	if e := q.Get("error"); e != "" {
		desc := q.Get("error_description")
		if len(desc) > 300 {
			desc = desc[:300]
		}
		msg := fmt.Sprintf("%s could not sign you in. Please try again, or ask your administrator if it keeps happening.", name)
		status := http.StatusBadGateway
		if e == "access_denied" {
			msg = fmt.Sprintf("%s did not let you in, so you are not signed in. Sign in again to try once more.", name)
			status = http.StatusForbidden
		}
		s.ssoFailed(c, status, msg, next, "provider answered with an error", "error", e, "error_description", desc)
		return
	}
	code := q.Get("code")
	if code == "" {
		s.ssoFailed(c, http.StatusBadRequest, expiredMessage, next, "no code")
		return
	}
	ep, err := s.sso.endpoints(ctx)
	if err != nil {
		s.ssoFailed(c, http.StatusServiceUnavailable,
			fmt.Sprintf("%s is not answering right now, so you cannot sign in with it. Please try again in a minute.", name), next,
			"provider unreachable", "err", err)
		return
	}
	id, err := s.ssoVerify(ctx, ep, code, attempt)
	if err != nil {
		s.ssoFailed(c, http.StatusBadGateway,
			fmt.Sprintf("Signing in with %s did not work. Please try again, or ask your administrator if it keeps happening.", name), next,
			"token exchange or verification failed", "err", err)
		return
	}
	acct, refusal, err := s.ssoAccount(ctx, id, next)
	if err != nil {
		s.fail(c, err)
		return
	}
	if refusal != nil {
		s.ssoFailed(c, refusal.status, refusal.message, next, refusal.reason, "subject", id.Subject, "email", id.Email)
		return
	}
	if err := s.sessions.start(c, acct.user.ID); err != nil {
		s.fail(c, err)
		return
	}
	if acct.created {
		s.flash(c, "success", "Welcome! Your account is ready.")
	}
	c.Redirect(http.StatusSeeOther, next)
}

// ssoIdentity is the person the provider vouched for.
type ssoIdentity struct {
	Subject       string
	Email         string // normalised; empty when the provider gave none that is usable
	EmailVerified bool
}

// ssoVerify exchanges the code (with the PKCE verifier) for tokens and
// checks the ID token: signature, issuer, audience and expiry (go-oidc),
// then the nonce, the authorized party and the access token's hash. The
// email comes from the ID token, or from the userinfo endpoint when the
// provider keeps it there.
func (s *Server) ssoVerify(ctx context.Context, ep *ssoEndpoints, code string, a *ssoAttempt) (ssoIdentity, error) {
	ctx = oidc.ClientContext(ctx, s.sso.client)
	tok, err := ep.oauth.Exchange(ctx, code, oauth2.VerifierOption(a.Verifier))
	if err != nil {
		return ssoIdentity{}, fmt.Errorf("exchange: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return ssoIdentity{}, errors.New("the token response has no id_token")
	}
	idt, err := ep.verifier.Verify(ctx, raw)
	if err != nil {
		return ssoIdentity{}, fmt.Errorf("id token: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(a.Nonce)) != 1 {
		return ssoIdentity{}, errors.New("id token: nonce does not match the attempt's")
	}
	var claims struct {
		AuthorizedParty string          `json:"azp"`
		Email           string          `json:"email"`
		EmailVerified   json.RawMessage `json:"email_verified"`
	}
	if err := idt.Claims(&claims); err != nil {
		return ssoIdentity{}, fmt.Errorf("id token claims: %w", err)
	}
	if len(idt.Audience) > 1 && claims.AuthorizedParty != s.cfg.OIDC.ClientID {
		return ssoIdentity{}, fmt.Errorf("id token: issued to %q, not this client", claims.AuthorizedParty)
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return ssoIdentity{}, fmt.Errorf("id token: %w", err)
		}
	}
	if idt.Subject == "" {
		return ssoIdentity{}, errors.New("id token: no subject")
	}
	id := ssoIdentity{Subject: idt.Subject}
	email, verified := claims.Email, trueClaim(claims.EmailVerified)
	if email == "" {
		// Many providers keep the address at the userinfo endpoint when an
		// access token is issued too.
		info, err := ep.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		switch {
		case err != nil:
			s.log.Warn("single sign-on: userinfo unavailable", "err", err)
		case info.Subject != idt.Subject:
			return ssoIdentity{}, errors.New("userinfo: subject differs from the id token's")
		default:
			email, verified = info.Email, info.EmailVerified
		}
	}
	if e, msg := auth.NormaliseEmail(email); msg == "" {
		id.Email, id.EmailVerified = e, verified
	}
	return id, nil
}

// trueClaim reads email_verified, which some providers send as the string
// "true" rather than a boolean.
func trueClaim(raw json.RawMessage) bool {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	var s string
	return json.Unmarshal(raw, &s) == nil && strings.EqualFold(s, "true")
}
