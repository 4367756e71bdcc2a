package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/sdworkbook/workbook/internal/config"
)

// Start starts the grader's workers; Close stops them.
func (a *App) Start(ctx context.Context) error {
	if err := a.Grader.Start(ctx); err != nil {
		return fmt.Errorf("grader: %w", err)
	}
	a.closers = append(a.closers, a.stopGrader)
	return nil
}

// Run starts the workers and serves until ctx ends: the site on the
// configured address with its background work (expired sessions, idle
// lab instances, the lab directory's heartbeat and sweep), or, without a site, grading alone. Requests in flight
// get 10 s to finish; call Close after.
func (a *App) Run(ctx context.Context) error {
	if err := a.Start(ctx); err != nil {
		return err
	}
	if a.Site == nil {
		a.Log.Info("grader is running", "workers", a.Config.GraderWorkers, "environment", a.Grader.Environment(ctx),
			"timeout", a.Config.GraderTimeout)
		<-ctx.Done()
		a.Log.Info("grader stopping: finishing jobs (20 s at most)")
		return nil
	}
	ln, err := net.Listen("tcp", a.Config.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", a.Config.Addr, err)
	}
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	go a.Site.CleanSessions(bg, 10*time.Minute)
	reaperDone := make(chan struct{})
	go func() { a.Labs.RunReaper(bg, time.Minute); close(reaperDone) }()
	go a.Labs.RunDirectory(bg)
	defer func() { stopBG(); <-reaperDone }() // stop every lab instance before the connections close
	if a.Config.DebugAddr != "" {
		stop, err := serveDebug(a.Config.DebugAddr, a.Log)
		if err != nil {
			return err
		}
		defer stop()
	}
	a.announce(ctx, ln.Addr())
	return a.serve(ctx, ln)
}

// serveDebug serves Go's profiler on addr (WORKBOOK_DEBUG_ADDR), apart
// from the site: the soak script reads the goroutine count there.
func serveDebug(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on WORKBOOK_DEBUG_ADDR %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("profiler listening", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// serve answers on ln until ctx ends, then shuts down gracefully.
func (a *App) serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.Site,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(a.Site.EndStreams)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.Log.Info("shutting down: finishing in-flight requests (10 s at most)")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	a.Log.Info("stopped cleanly")
	return nil
}

// announce logs where the server runs and on what, and, while the server
// has no admin, the one-time link that claims it: whoever reads this log
// claims it, not whoever registers first on a public address.
func (a *App) announce(ctx context.Context, addr net.Addr) {
	cfg := a.Config
	db := "sqlite " + cfg.SQLitePath()
	if cfg.DatabaseURL != "" {
		db = "postgres"
	}
	rd := "embedded " + a.Redis.Addr()
	if !a.Redis.Embedded {
		rd = a.Redis.Addr()
	}
	a.Log.Info("System Design Workbook is running", "url", PublicURL(cfg.BaseURL, addr),
		"database", db, "redis", rd, "grader_workers", cfg.GraderWorkers, "email", cfg.SMTP, "startup_ms", time.Since(a.opened).Milliseconds())

	if link, err := a.Site.SetupLink(ctx, PublicURL(cfg.BaseURL, addr)); err != nil {
		a.Log.Warn("no setup link for the first admin", "err", err)
	} else if link != "" {
		a.Log.Warn("No admin account yet: open this one-time link to create one (it works for 24 hours; or run `server admin create-user --role admin`)", "setup_url", link)
	}
}

// PublicURL is the address people open: the configured base URL, else
// the one the server listens on, with localhost for every interface.
func PublicURL(baseURL string, addr net.Addr) string {
	if baseURL != "" {
		return baseURL
	}
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// graderOwner names this grader on its containers' labels: the host and
// the database it grades for, so the same server started again on the
// same data finds what it left behind when it was killed.
func graderOwner(cfg config.Config) string {
	databaseURL := cfg.DatabaseURL
	host, _ := os.Hostname()
	db := cfg.SQLitePath()
	if abs, err := filepath.Abs(db); err == nil {
		db = abs
	}
	if u, err := url.Parse(databaseURL); err == nil && databaseURL != "" {
		db = u.Host + u.Path // no credentials on a label
	}
	sum := sha256.Sum256([]byte(db))
	return host + "-" + hex.EncodeToString(sum[:6])
}
