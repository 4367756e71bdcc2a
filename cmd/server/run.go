package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/sdworkbook/workbook/grader"
	"github.com/sdworkbook/workbook/internal/config"
	"github.com/sdworkbook/workbook/internal/redis"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/all"
	"github.com/sdworkbook/workbook/lessons"
	"github.com/sdworkbook/workbook/web"
)

// Exit codes.
const (
	exitOK     = 0
	exitFail   = 1
	exitConfig = 2
)

// run is the whole program, callable from tests: it returns the exit code.
func run(ctx context.Context, args []string, getenv config.Getenv, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, config.Usage())
		return exitOK
	case "healthcheck":
		return healthcheck(getenv, stderr)
	case "serve", "migrate", "admin", "grader":
	default:
		fmt.Fprintf(stderr, "server: unknown command %q (try --help)\n", cmd)
		return exitConfig
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "server: invalid configuration: %v\n", err)
		return exitConfig
	}
	log := newLogger(cfg, stderr)
	switch cmd {
	case "migrate":
		return migrate(ctx, cfg, log, stdout)
	case "admin":
		return admin(ctx, cfg, args, os.Stdin, stdout, stderr)
	case "grader":
		if err := graderOnly(ctx, cfg, log); err != nil {
			log.Error("grader stopped", "err", err)
			return exitFail
		}
		return exitOK
	}
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("server stopped", "err", err)
		return exitFail
	}
	return exitOK
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (*store.Store, error) {
	st, err := store.Open(ctx, store.Options{PostgresURL: cfg.DatabaseURL, SQLitePath: cfg.SQLitePath(), Logger: log})
	if err != nil {
		return nil, err
	}
	n, err := st.Migrate(ctx)
	if err != nil {
		st.Close()
		return nil, err
	}
	if n > 0 {
		log.Info("migrations applied", "count", n, "dialect", st.Dialect())
	}
	return st, nil
}

// openContent is the labs this build serves and the lessons, whose links
// to labs must all resolve in the registry.
func openContent(cfg config.Config, log *slog.Logger) (*labs.Registry, *lessons.Library, error) {
	reg := all.Registry()
	lib, err := lessons.OpenLibrary(cfg.Dev, "lessons/content", log)
	if err != nil {
		return nil, nil, err
	}
	if bad := lib.Catalog().UnknownLabs(reg.IDs()); len(bad) > 0 {
		return nil, nil, fmt.Errorf("the lessons link labs this build does not have: %v", bad)
	}
	return reg, lib, nil
}

func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	start := time.Now()
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	rc, err := redis.Open(ctx, cfg.RedisURL)
	if err != nil {
		return err
	}
	defer rc.Close()
	reg, lib, err := openContent(cfg, log)
	if err != nil {
		return err
	}
	mgr := labs.NewManager(reg, rc.Client, st.SQL(), string(st.Dialect()), log, nil, labs.DefaultLimits)
	gr, err := newGrader(ctx, cfg, st, rc, log, cfg.GraderWorkers, reg)
	if err != nil {
		return err
	}
	app, err := web.New(web.Deps{Config: cfg, Store: st, Redis: rc.Client, Logger: log, Library: lib, Labs: mgr, Grader: gr})
	if err != nil {
		return err
	}
	defer flushMail(app, log)
	if err := gr.Start(ctx); err != nil {
		return fmt.Errorf("grader: %w", err)
	}
	defer stopGrader(gr, log)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	srv := &http.Server{
		Handler:           app,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	go app.CleanSessions(bg, 10*time.Minute)
	reaperDone := make(chan struct{})
	go func() { mgr.RunReaper(bg, time.Minute); close(reaperDone) }()
	defer func() { stopBG(); <-reaperDone }() // stop every lab instance before the connections close

	announce(ctx, cfg, app, rc, ln.Addr(), log, start)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests (10 s at most)")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped cleanly")
	return nil
}

// announce logs where the server runs and on what, and, while the server
// has no admin, the one-time link that claims it: whoever reads this log
// claims it, not whoever registers first on a public address.
func announce(ctx context.Context, cfg config.Config, app *web.Server, rc *redis.Conn, addr net.Addr, log *slog.Logger, start time.Time) {
	db := "sqlite " + cfg.SQLitePath()
	if cfg.DatabaseURL != "" {
		db = "postgres"
	}
	rd := "embedded " + rc.Addr()
	if !rc.Embedded {
		rd = rc.Addr()
	}
	log.Info("System Design Workbook is running", "url", publicURL(cfg, addr),
		"database", db, "redis", rd, "grader_workers", cfg.GraderWorkers, "email", cfg.SMTP, "startup_ms", time.Since(start).Milliseconds())

	if link, err := app.SetupLink(ctx, publicURL(cfg, addr)); err != nil {
		log.Warn("no setup link for the first admin", "err", err)
	} else if link != "" {
		log.Warn("No admin account yet: open this one-time link to create one (it works for 24 hours; or run `server admin create-user --role admin`)", "setup_url", link)
	}
}

// stopGrader stops grading before the database closes: a job still
// running after 20 s is cancelled and runs again on another worker.
func stopGrader(gr *grader.Grader, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := gr.Stop(ctx); err != nil {
		log.Warn("stopping the grader", "err", err)
	}
}

// flushMail gives emails still queued when the server stops 10 s to go
// out; any left then are logged as not sent.
func flushMail(app *web.Server, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := app.FlushMail(ctx); err != nil {
		log.Warn("stopping with emails unsent", "err", err)
	}
}

func newGrader(ctx context.Context, cfg config.Config, st *store.Store, rc *redis.Conn, log *slog.Logger, workers int, reg *labs.Registry) (*grader.Grader, error) {
	gr, err := grader.New(st, rc.Client, log.With("component", "grader"), grader.Options{
		Workers: workers, JobTimeout: cfg.GraderTimeout, Environment: cfg.GraderEnv,
		PostgresImage: cfg.PostgresImage, RedisImage: cfg.RedisImage,
	}, reg)
	if err == nil && workers > 0 {
		gr.PrepareContainers(ctx, grader.ContainerOptions{Owner: graderOwner(cfg), Network: cfg.GraderNetwork})
	}
	return gr, err
}

// graderOwner names this grader on its containers' labels: the host and
// the database it grades for, so the same server started again on the
// same data finds what it left behind when it was killed.
func graderOwner(cfg config.Config) string {
	host, _ := os.Hostname()
	db := cfg.SQLitePath()
	if abs, err := filepath.Abs(db); err == nil {
		db = abs
	}
	if u, err := url.Parse(cfg.DatabaseURL); err == nil && cfg.DatabaseURL != "" {
		db = u.Host + u.Path // no credentials on a label
	}
	sum := sha256.Sum256([]byte(db))
	return host + "-" + hex.EncodeToString(sum[:6])
}

// graderOnly grades submissions until ctx ends, without a web server: a
// worker process on another machine that shares the database and Redis.
func graderOnly(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	if cfg.GraderWorkers < 1 {
		return errors.New("WORKBOOK_GRADER_WORKERS must be at least 1 for `server grader`")
	}
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()
	rc, err := redis.Open(ctx, cfg.RedisURL)
	if err != nil {
		return err
	}
	defer rc.Close()
	gr, err := newGrader(ctx, cfg, st, rc, log, cfg.GraderWorkers, all.Registry())
	if err != nil {
		return err
	}
	if err := gr.Start(ctx); err != nil {
		return err
	}
	log.Info("grader is running", "workers", cfg.GraderWorkers, "environment", gr.Environment(ctx), "timeout", cfg.GraderTimeout)
	<-ctx.Done()
	log.Info("grader stopping: finishing jobs (20 s at most)")
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return gr.Stop(sctx)
}

func publicURL(cfg config.Config, addr net.Addr) string {
	if cfg.BaseURL != "" {
		return cfg.BaseURL
	}
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func migrate(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer) int {
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		log.Error("migrate failed", "err", err)
		return exitFail
	}
	defer st.Close()
	if err := st.CheckSchema(); err != nil {
		log.Error("schema check failed", "err", err)
		return exitFail
	}
	fmt.Fprintf(stdout, "database (%s) is up to date\n", st.Dialect())
	return exitOK
}

// healthcheck asks the local server's /readyz, for container health checks
// in images that have no shell or curl.
func healthcheck(getenv config.Getenv, stderr io.Writer) int {
	cfg, err := config.Load(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return exitConfig
	}
	_, port, _ := net.SplitHostPort(cfg.Addr)
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get("http://" + net.JoinHostPort("127.0.0.1", port) + "/readyz")
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return exitFail
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "healthcheck: /readyz answered %s\n", resp.Status)
		return exitFail
	}
	return exitOK
}
