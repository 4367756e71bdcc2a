package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/sdworkbook/workbook/internal/app"
	"github.com/sdworkbook/workbook/internal/config"
)

const (
	// graderBeat is how often a grader-only process says it is healthy.
	graderBeat = 5 * time.Second
	// graderStale is how old its last word may be for it to count as
	// healthy still: three beats missed.
	graderStale = 4 * graderBeat
)

// graderAliveFile is where a grader-only process says it is healthy: the
// file's time is that of its last check that found the database and
// Redis answering. It is in the process's own temporary directory, which
// `server healthcheck` run in the same container reads.
func graderAliveFile() string { return filepath.Join(os.TempDir(), "workbook-grader-alive") }

// beatWhileHealthy touches graderAliveFile every graderBeat while the
// database and Redis answer, until ctx ends, and removes it then.
func beatWhileHealthy(ctx context.Context, a *app.App) {
	path := graderAliveFile()
	defer os.Remove(path)
	t := time.NewTicker(graderBeat)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := a.Store.Ping(pctx)
		if err == nil {
			err = a.Redis.Client.Ping(pctx).Err()
		}
		cancel()
		if err == nil {
			now := time.Now()
			if os.Chtimes(path, now, now) != nil {
				_ = os.WriteFile(path, nil, 0o600)
			}
		} else if ctx.Err() == nil {
			a.Log.Warn("grader health: a dependency does not answer", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// healthcheck exits 0 when this container's process is healthy: for a
// grader-only process, when it found the database and Redis answering in
// the last 20 s; for the web server, when its /readyz answers 200. For
// container health checks, without curl in the image.
func healthcheck(getenv config.Getenv, stderr io.Writer) int {
	cfg, err := config.Load(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return exitConfig
	}
	if st, err := os.Stat(graderAliveFile()); err == nil {
		if age := time.Since(st.ModTime()); age > graderStale {
			fmt.Fprintf(stderr, "healthcheck: the grader last found the database and Redis answering %s ago\n", age.Round(time.Second))
			return exitFail
		}
		return exitOK
	} else if !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return exitFail
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
