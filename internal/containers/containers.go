// Package containers starts the throwaway PostgreSQL and Redis containers
// the grader grades in and the tests run against (testcontainers-go), from
// images named by WORKBOOK_POSTGRES_IMAGE and WORKBOOK_REDIS_IMAGE.
package containers

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcpostgres "github.com/testcontainers/testcontainers-go/modules/postgres"
	tcredis "github.com/testcontainers/testcontainers-go/modules/redis"
)

// The images used when the environment names none.
const (
	DefaultPostgresImage = "postgres:15"
	DefaultRedisImage    = "redis:7"
	// LocalPrefix names images built from distribution packages by
	// scripts/images.sh, for machines that cannot reach a registry.
	LocalPrefix = "workbook-local/"
)

// Image returns the image named by the environment variable env; else def
// when Docker has it or may pull it, or the locally built LocalPrefix+def
// when only that one is present.
func Image(ctx context.Context, env, def string) string {
	if v := os.Getenv(env); v != "" {
		return v
	}
	return Resolve(ctx, def)
}

// Resolve returns image, or the locally built LocalPrefix+image when Docker
// has only that one.
func Resolve(ctx context.Context, image string) string {
	if !HasImage(ctx, image) && HasImage(ctx, LocalPrefix+image) {
		return LocalPrefix + image
	}
	return image
}

// HasImage reports whether the Docker engine has image locally.
func HasImage(ctx context.Context, image string) bool {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return false
	}
	defer cli.Close()
	_, err = cli.ImageInspect(ctx, image)
	return err == nil
}

var (
	availMu   sync.Mutex
	availAt   time.Time
	availBool bool
)

// Available reports whether a Docker engine answers; the answer is kept for
// 30 seconds so a busy grader does not ask before every job.
func Available(ctx context.Context) bool {
	availMu.Lock()
	defer availMu.Unlock()
	if !availAt.IsZero() && time.Since(availAt) < 30*time.Second {
		return availBool
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	availBool = false
	if cli, err := testcontainers.NewDockerClientWithOpts(ctx); err == nil {
		_, err = cli.Ping(ctx, client.PingOptions{})
		availBool = err == nil
		cli.Close()
	}
	availAt = time.Now()
	return availBool
}

// Terminate removes a container, with a context of its own so a cancelled
// job still cleans up.
func Terminate(c testcontainers.Container) error {
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return testcontainers.TerminateContainer(c, testcontainers.StopContext(ctx))
}

// StartPostgres starts PostgreSQL from image and returns it with a URL to
// its database. The caller terminates it.
func StartPostgres(ctx context.Context, image string) (*tcpostgres.PostgresContainer, string, error) {
	c, err := tcpostgres.Run(ctx, image,
		tcpostgres.WithDatabase("workbook"),
		tcpostgres.WithUsername("workbook"),
		tcpostgres.WithPassword("workbook"),
		tcpostgres.BasicWaitStrategies(),
	)
	if err != nil {
		if c != nil {
			_ = Terminate(c)
		}
		return nil, "", err
	}
	url, err := c.ConnectionString(ctx, "sslmode=disable")
	if err != nil {
		_ = Terminate(c)
		return nil, "", err
	}
	return c, url, nil
}

// StartRedis starts Redis from image and returns it with its host:port.
// The caller terminates it.
func StartRedis(ctx context.Context, image string) (*tcredis.RedisContainer, string, error) {
	c, err := tcredis.Run(ctx, image)
	if err != nil {
		if c != nil {
			_ = Terminate(c)
		}
		return nil, "", err
	}
	host, err := c.Host(ctx)
	if err == nil {
		p, perr := c.MappedPort(ctx, "6379/tcp")
		if err = perr; err == nil {
			return c, host + ":" + p.Port(), nil
		}
	}
	_ = Terminate(c)
	return nil, "", err
}
