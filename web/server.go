// Package web is the HTTP face of the workbook: the route table, handlers,
// middleware, templ views and embedded static files. It holds no business
// logic; handlers call the store, auth, lessons and labs packages.
package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/klauspost/compress/gzhttp"
	goredis "github.com/redis/go-redis/v9"

	"github.com/sdworkbook/workbook/gradebook"
	"github.com/sdworkbook/workbook/grader"
	"github.com/sdworkbook/workbook/internal/app"
	"github.com/sdworkbook/workbook/internal/auth"
	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/mail"
	"github.com/sdworkbook/workbook/internal/metrics"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/interviews"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/lessons"
	"github.com/sdworkbook/workbook/progress"
)

// Deps are what the handlers need; every one is required. The app
// package builds them (NewSite).
type Deps struct {
	Config config.Config
	Store  *store.Store
	Redis  *goredis.Client
	Logger *slog.Logger
	// Library is the lesson content.
	Library *lessons.Library
	// Labs runs the live labs (a manager of no labs serves none).
	Labs *labs.Manager
	// Grader takes submissions and grades them, or leaves them to grader
	// processes when it has no workers.
	Grader *grader.Grader
	// Now is the clock.
	Now func() time.Time
	// Hasher hashes and checks passwords.
	Hasher *auth.Hasher
	// Metrics is what /metrics exports; nil makes a registry of the
	// site's own (the one dependency that is optional).
	Metrics *metrics.Metrics
}

// DepsOf are the parts of a wired application the site needs.
func DepsOf(a *app.App) Deps {
	d := Deps{Config: a.Config, Store: a.Store, Logger: a.Log, Library: a.Library, Labs: a.Labs, Grader: a.Grader,
		Now: a.Now, Hasher: a.Hasher, Metrics: a.Metrics}
	if a.Redis != nil {
		d.Redis = a.Redis.Client
	}
	return d
}

// NewSite builds the site of a wired application; app.Open calls it.
func NewSite(a *app.App) (app.Site, error) { return New(DepsOf(a)) }

// missing names the first dependency d lacks, or "".
func (d Deps) missing() string {
	for _, m := range []struct {
		name string
		nil  bool
	}{
		{"Store", d.Store == nil}, {"Redis", d.Redis == nil}, {"Logger", d.Logger == nil}, {"Library", d.Library == nil},
		{"Labs", d.Labs == nil}, {"Grader", d.Grader == nil}, {"Now", d.Now == nil}, {"Hasher", d.Hasher == nil},
	} {
		if m.nil {
			return m.name
		}
	}
	return ""
}

// Server is the web application.
type Server struct {
	cfg         config.Config
	store       *store.Store
	rdb         *goredis.Client
	log         *slog.Logger
	now         func() time.Time
	assets      *assets
	apiDoc      apiDocument // GET /api/openapi.json
	sessions    *sessions
	navs        *navCache // the nav's counts per user
	limiter     *auth.Limiter
	loginLimits auth.LoginLimits
	hasher      *auth.Hasher
	library     *lessons.Library
	interviews  *interviews.Set // the mock interview problems
	labs        *labs.Manager
	replicas    *http.Transport // to the replicas holding lab instances
	grader      *grader.Grader
	labsOpen    bool // some live labs are served, so pages link them
	progress    *progress.Service
	books       gradebook.Sources
	mail        *mail.Queue // nil: no mail server, nothing is sent
	sso         *sso        // single sign-on; nil when off
	handler     http.Handler
	engine      *gin.Engine // the route table, for tests that walk it

	metrics        *metrics.Metrics
	metricsHandler http.Handler // serves metrics' registry

	warnPlainBaseURL  sync.Once    // logs plainBaseURLWarning once
	submissionStreams *streamSlots // live grading streams on this replica
	ending            *streamsEnd  // closed when this replica shuts down
}

// New builds the application and its route table from its dependencies,
// all of them required.
func New(d Deps) (*Server, error) {
	if m := d.missing(); m != "" {
		return nil, fmt.Errorf("web.New: Deps.%s is required", m)
	}
	gin.SetMode(gin.ReleaseMode)
	now := d.Now
	a, err := loadAssets()
	if err != nil {
		return nil, err
	}
	doc, err := buildAPIDocument()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:         d.Config,
		store:       d.Store,
		rdb:         d.Redis,
		log:         d.Logger,
		now:         now,
		assets:      a,
		apiDoc:      doc,
		limiter:     auth.NewLimiter(d.Redis),
		loginLimits: auth.DefaultLoginLimits,
		hasher:      d.Hasher,
		library:     d.Library,

		navs:              newNavCache(),
		submissionStreams: newStreamSlots(maxSubmissionStreams, maxStreamsPerUser),
		ending:            newStreamsEnd(),
	}
	s.useMetrics(d.Metrics)
	if d.Config.LoginIPLimit > 0 {
		s.loginLimits.PerIP = int64(d.Config.LoginIPLimit)
	}
	if err = s.openParts(d); err != nil {
		return nil, err
	}
	s.labs = d.Labs
	s.replicas = replicaTransport()
	a.addPictures(s.labs.Labs())
	s.labsOpen = len(s.labs.Labs()) > 0
	s.grader = d.Grader
	s.progress = &progress.Service{Catalog: s.library.Catalog, Store: d.Store, Now: now, Labs: s.grader.LabEvidence,
		Interviews: s.interviews}
	s.books = gradebook.Sources{Store: d.Store, Progress: s.progress, Catalog: s.library.Catalog, Exercise: s.exercise, Ladders: s.ladders(),
		Interview: s.problemTitle}
	s.sessions = &sessions{
		store:  d.Store,
		idle:   d.Config.SessionIdle,
		max:    d.Config.SessionMax,
		secure: d.Config.SecureCookies(),
		now:    now,
		cache:  newSessionCache(d.Redis, d.Logger, now, d.Store.ForgetLearner),
	}
	s.sessions.cache.watch(d.Store)
	s.sso = newSSO(d.Config, d.Logger, now)
	engine, err := newEngine(d.Config.TrustedProxies)
	if err != nil {
		return nil, err
	}
	s.routes(engine)
	s.engine = engine

	cop := s.crossOriginProtection(d.Config.BaseURL)
	// Compress text responses (pages, CSS, JS, SVG, JSON) for clients
	// that accept it; a lesson page shrinks to about a quarter.
	gz, err := gzhttp.NewWrapper(gzhttp.MinSize(1024), gzhttp.ExceptContentTypes([]string{"text/event-stream"}))
	if err != nil {
		return nil, err
	}
	s.handler = gz(cop.Handler(engine))
	return s, nil
}

// crossOriginJSON is the API's error shape for a cross-origin refusal.
var crossOriginJSON = []byte(`{"error":{"code":"forbidden","message":"cross-origin request refused: a request that changes something must come from this site's own pages, or from a script that sends no browser Origin or Sec-Fetch-Site header."}}` + "\n")

// newEngine is gin without routes. The client's address (c.ClientIP) is
// the peer's, unless the peer is one of the configured proxies (none by
// default): then it is the right-most address in X-Forwarded-For that is
// not a configured proxy. Only that header counts; X-Real-IP or a
// platform's header could be set by the client when the proxy does not
// overwrite them.
func newEngine(trustedProxies []string) (*gin.Engine, error) {
	engine := gin.New()
	engine.HandleMethodNotAllowed = true
	engine.ContextWithFallback = true
	engine.TrustedPlatform = ""
	engine.RemoteIPHeaders = []string{"X-Forwarded-For"}
	if err := engine.SetTrustedProxies(trustedProxies); err != nil {
		return nil, err
	}
	return engine, nil
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// CleanSessions deletes expired sessions every interval until ctx ends.
func (s *Server) CleanSessions(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := s.now()
			n, err := s.store.DeleteExpiredSessions(ctx, now.Add(-s.cfg.SessionIdle), now.Add(-s.cfg.SessionMax))
			if err != nil {
				s.log.Warn("session clean-up failed", "err", err)
			} else if n > 0 {
				s.log.Info("expired sessions removed", "count", n)
			}
		}
	}
}

// openParts opens what the server builds beside its dependencies: the
// mail queue and the mock interview problems.
func (s *Server) openParts(d Deps) (err error) {
	if s.mail, err = newMailQueue(d.Config, d.Logger); err != nil {
		return err
	}
	s.interviews, err = interviews.Load(interviews.Embedded(), s.lessonExists)
	return err
}

// crossOriginProtection guards every state-changing request: browsers
// send Sec-Fetch-Site (or Origin), and a cross-site POST is refused.
func (s *Server) crossOriginProtection(baseURL string) *http.CrossOriginProtection {
	cop := http.NewCrossOriginProtection()
	if baseURL != "" {
		_ = cop.AddTrustedOrigin(baseURL)
	}
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.log.Warn("cross-origin request refused", "method", r.Method, "path", logPath(r.URL.Path),
			"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		securityHeaders(w.Header())
		if requestWantsJSON(r) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write(crossOriginJSON)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte("403 Forbidden: cross-origin request refused\n"))
	}))
	return cop
}
