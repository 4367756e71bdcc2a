// Package testenv starts the real infrastructure tests run against:
// PostgreSQL and Redis in containers (testcontainers-go), one of each per
// test package, with every test isolated in its own database and Redis
// logical database. It is imported by tests only.
//
// Docker must answer: the tests fail rather than skip without it, so a
// green run always means the container-backed tests ran. scripts/test.sh
// starts the engine and builds the images on a fresh machine.
package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	goredis "github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"

	"github.com/sdworkbook/workbook/internal/containers"
)

func init() {
	// The reaper image cannot be pulled without a registry, and this kind of
	// machine looks like a container to testcontainers, which then guesses
	// the wrong host for mapped ports.
	setDefault("TESTCONTAINERS_RYUK_DISABLED", "true")
	setDefault("TESTCONTAINERS_HOST_OVERRIDE", "127.0.0.1")
}

func setDefault(k, v string) {
	if _, ok := os.LookupEnv(k); !ok {
		_ = os.Setenv(k, v)
	}
}

// Image returns the image named by env, else def or its locally built
// copy (see containers.Image).
func Image(env, def string) string {
	return containers.Image(context.Background(), os.Getenv(env), def)
}

var (
	mu         sync.Mutex
	pg         testcontainers.Container
	pgAdminURL string
	rd         testcontainers.Container
	rdAddr     string
	seq        atomic.Int64
	redisDB    atomic.Int64
	started    []testcontainers.Container
)

// Main runs the package's tests and removes the containers afterwards.
// Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Terminate()
	os.Exit(code)
}

// Terminate removes every container this package started.
func Terminate() {
	mu.Lock()
	defer mu.Unlock()
	for _, c := range started {
		_ = testcontainers.TerminateContainer(c)
	}
	started, pg, rd = nil, nil, nil
}

// StartPostgres starts a PostgreSQL container from WORKBOOK_POSTGRES_IMAGE
// and returns it with its admin URL. The caller terminates it.
func StartPostgres(ctx context.Context) (testcontainers.Container, string, error) {
	svc, err := containers.StartPostgres(ctx, Image("WORKBOOK_POSTGRES_IMAGE", containers.DefaultPostgresImage))
	if err != nil {
		return nil, "", err
	}
	return svc.Container, svc.URL, nil
}

// StartRedis starts a Redis container from WORKBOOK_REDIS_IMAGE and returns
// it with its host:port. The caller terminates it.
func StartRedis(ctx context.Context) (testcontainers.Container, string, error) {
	svc, err := containers.StartRedis(ctx, Image("WORKBOOK_REDIS_IMAGE", containers.DefaultRedisImage))
	if err != nil {
		return nil, "", err
	}
	return svc.Container, svc.Addr, nil
}

// PostgresURL returns the URL of a new, empty database in the package's
// PostgreSQL container, dropped when the test ends.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	mu.Lock()
	if pg == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		c, url, err := StartPostgres(ctx)
		cancel()
		if err != nil {
			mu.Unlock()
			tb.Fatalf("testenv: start PostgreSQL (is Docker running? scripts/test.sh starts it): %v", err)
		}
		pg, pgAdminURL = c, url
		started = append(started, c)
	}
	admin := pgAdminURL
	mu.Unlock()

	db, err := sql.Open("pgx", admin)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), seq.Add(1))
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		tb.Fatalf("testenv: create database: %v", err)
	}
	tb.Cleanup(func() {
		db, err := sql.Open("pgx", admin)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	return replaceDB(admin, name)
}

// RedisURL returns the URL of an empty logical database in the package's
// Redis container. Tests in one package share 16 logical databases in turn,
// so they must not run in parallel with each other.
func RedisURL(tb testing.TB) string {
	tb.Helper()
	mu.Lock()
	if rd == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		c, addr, err := StartRedis(ctx)
		cancel()
		if err != nil {
			mu.Unlock()
			tb.Fatalf("testenv: start Redis (is Docker running? scripts/test.sh starts it): %v", err)
		}
		rd, rdAddr = c, addr
		started = append(started, c)
	}
	addr := rdAddr
	mu.Unlock()
	n := redisDB.Add(1) % 16
	c := goredis.NewClient(&goredis.Options{Addr: addr, DB: int(n)})
	defer c.Close()
	if err := c.FlushDB(context.Background()).Err(); err != nil {
		tb.Fatalf("testenv: flush redis db %d: %v", n, err)
	}
	return fmt.Sprintf("redis://%s/%d", addr, n)
}

func replaceDB(url, name string) string {
	// url is postgres://user:pass@host:port/db?params
	base, q, _ := strings.Cut(url, "?")
	j := strings.LastIndexByte(base, '/')
	if q != "" {
		q = "?" + q
	}
	return base[:j+1] + name + q
}

// Backend is one way the workbook can run: its database and Redis URLs
// (both empty for the embedded default) and a data dir.
type Backend struct {
	Name        string
	DatabaseURL string
	RedisURL    string
	DataDir     string
}

// Backends returns the embedded default and the container-backed
// PostgreSQL + Redis, so a test can run its body against both.
func Backends(tb testing.TB) []Backend {
	tb.Helper()
	return []Backend{
		{Name: "embedded", DataDir: tb.TempDir()},
		{Name: "postgres+redis", DatabaseURL: PostgresURL(tb), RedisURL: RedisURL(tb), DataDir: tb.TempDir()},
	}
}
