package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/sdworkbook/workbook/internal/app"
	"github.com/sdworkbook/workbook/internal/config"
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
	case "serve", "migrate", "admin", "grader", "backup", "restore":
	default:
		fmt.Fprintf(stderr, "server: unknown command %q (try --help)\n", cmd)
		return exitConfig
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "server: invalid configuration: %v\n", err)
		return exitConfig
	}
	logOut := newAsyncWriter(stderr)
	defer logOut.Close()
	log := newLogger(cfg, logOut)
	switch cmd {
	case "backup":
		return backup(ctx, cfg, args, stdout, stderr)
	case "restore":
		return restore(ctx, cfg, args, stdout, stderr)
	}
	if cfg.DatabaseURL == "" && cmd != "admin" {
		// Every process serving, grading or migrating from the SQLite
		// database holds the data directory's lock (shared), so a restore
		// knows none is running.
		lock, err := lockDataDir(cfg.DataDir, false)
		if err != nil {
			log.Error("server stopped", "err", err)
			return exitFail
		}
		defer lock.Close()
	}
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

// newLogger writes to w; through an asyncWriter, request lines are
// written behind the requests.
func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		opts.ReplaceAttr = durationsInMS
		h = slog.NewJSONHandler(w, opts)
	}
	if aw, ok := w.(*asyncWriter); ok {
		h = flushingHandler{h, aw}
	}
	return slog.New(h)
}

// durationsInMS writes a duration as milliseconds under the key with
// "_ms" added ("took": 1500000 nanoseconds becomes "took_ms": 1.5), as the
// JSON log's readers expect a number with its unit in the name.
func durationsInMS(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindDuration {
		return a
	}
	key := a.Key
	if !strings.HasSuffix(key, "_ms") {
		key += "_ms"
	}
	return slog.Float64(key, float64(a.Value.Duration().Microseconds())/1000)
}

// serve runs the workbook until ctx ends.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	a, err := app.Open(ctx, cfg, app.Options{Logger: log, Site: web.NewSite})
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Run(ctx)
}

// graderOnly grades submissions until ctx ends, without a web server: a
// worker process on another machine that shares the database and Redis.
func graderOnly(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	if cfg.GraderWorkers < 1 {
		return errors.New("WORKBOOK_GRADER_WORKERS must be at least 1 for `server grader`")
	}
	a, err := app.Open(ctx, cfg, app.Options{Logger: log})
	if err != nil {
		return err
	}
	defer a.Close()
	bctx, stop := context.WithCancel(ctx)
	beating := make(chan struct{})
	go func() { beatWhileHealthy(bctx, a); close(beating) }()
	defer func() { stop(); <-beating }()
	return a.Run(ctx)
}

func migrate(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer) int {
	st, err := app.OpenStore(ctx, cfg, log)
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
