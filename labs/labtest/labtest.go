// Package labtest builds lab environments for tests: the embedded default
// (in-process Redis server and SQLite) and real Redis and PostgreSQL in
// containers, so every lab property is checked on both.
package labtest

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/redis"
	"github.com/sdworkbook/workbook/internal/sqlopen"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
)

// Named is an environment and its name for t.Run.
type Named struct {
	Name string
	Env  labs.Env
}

// Envs returns a fresh environment on each backend for instance id.
// Callers' TestMain must call testenv.Main.
func Envs(tb testing.TB, id string) []Named {
	tb.Helper()
	var out []Named
	for _, b := range testenv.Backends(tb) {
		out = append(out, Named{Name: b.Name, Env: Env(tb, b, id)})
	}
	return out
}

// Env builds one environment on backend b.
func Env(tb testing.TB, b testenv.Backend, id string) labs.Env {
	tb.Helper()
	ctx := context.Background()
	db, dialect, err := sqlopen.Open(ctx, sqlopen.Options{PostgresURL: b.DatabaseURL, SQLitePath: filepath.Join(b.DataDir, "lab.db"),
		ConnectTimeout: sqlopen.GradingConnectTimeout}) // as the grader opens a grading's database
	if err != nil {
		tb.Fatal(err)
	}
	rc, err := redis.Open(ctx, b.RedisURL)
	if err != nil {
		tb.Fatal(err)
	}
	m := labs.NewMetrics(time.Now)
	tb.Cleanup(func() {
		m.Close()
		rc.Close()
		db.Close()
	})
	return labs.Env{Redis: rc.Client, DB: db, Dialect: string(dialect), Instance: id, Prefix: "lab:" + id + ":",
		Metrics: m, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
}
