// Package containers starts the throwaway PostgreSQL and Redis containers
// the grader grades in and the tests run against (testcontainers-go), from
// images the caller names (WORKBOOK_POSTGRES_IMAGE and
// WORKBOOK_REDIS_IMAGE, read by the configuration).
//
// The package reads no settings of its own from the environment: callers
// pass the images their configuration names. Only testcontainers' own
// reaper switch is looked at, and set, in the process environment, which
// is where testcontainers reads it (see PrepareReaper).
//
// A container publishes its port on 127.0.0.1 only, so nothing outside the
// Docker host reaches it; a grader that runs in a container itself reaches
// them instead by their address on a Docker network they join (WithNetwork).
// Grading containers carry labels naming their grader, job and deadline, so
// a grader that was killed can have what it left behind removed (see
// RemoveLeftovers).
package containers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	goredis "github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"
)

// The images used when the environment names none.
const (
	DefaultPostgresImage = "postgres:15"
	DefaultRedisImage    = "redis:7"
	// LocalPrefix names images built from distribution packages by
	// scripts/images.sh, for machines that cannot reach a registry.
	LocalPrefix = "workbook-local/"
)

// The user and database of every PostgreSQL container.
const (
	PostgresUser = "workbook"
	PostgresDB   = "workbook"
)

// Image returns named, the image the configuration names, as it is; with
// none named, def when Docker has it or may pull it, or the locally built
// LocalPrefix+def when only that one is present.
func Image(ctx context.Context, named, def string) string {
	if named != "" {
		return named
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
	PrepareReaper(ctx)
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return false
	}
	defer cli.Close()
	_, err = cli.ImageInspect(ctx, image)
	return err == nil
}

// reaperEnv is testcontainers' switch for its reaper. testcontainers reads
// its configuration once, at its first use in the process, so the switch
// must be set before that.
const reaperEnv = "TESTCONTAINERS_RYUK_DISABLED"

var (
	reaperOnce sync.Once
	reaperOn   bool
	reaperWhy  string
)

// PrepareReaper decides whether testcontainers starts its reaper (a
// container that removes the others when this process goes away) and
// reports the decision. The reaper runs only when its image is already on
// the Docker host: without a registry it can never be pulled, and every
// container start would fail on it. Nothing needs it: the grader removes
// what it starts, and RemoveLeftovers what a killed grader left behind.
// An explicit TESTCONTAINERS_RYUK_DISABLED is left as it is.
//
// Every function of this package that reaches Docker calls it first; call
// it before any other use of testcontainers in the process.
func PrepareReaper(ctx context.Context) (on bool, why string) {
	reaperOnce.Do(func() {
		if v, ok := os.LookupEnv(reaperEnv); ok {
			reaperOn = v != "true" // what testcontainers makes of it
			reaperWhy = reaperEnv + "=" + v
			return
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		cli, err := client.New(client.FromEnv)
		if err == nil {
			_, err = cli.ImageInspect(ctx, testcontainers.ReaperDefaultImage)
			cli.Close()
		}
		if err == nil {
			reaperOn, reaperWhy = true, "its image "+testcontainers.ReaperDefaultImage+" is present"
			return
		}
		_ = os.Setenv(reaperEnv, "true")
		reaperOn, reaperWhy = false, "its image "+testcontainers.ReaperDefaultImage+" is not on the Docker host"
	})
	return reaperOn, reaperWhy
}

// Engine asks whether a Docker engine answers, and keeps the answer for
// 30 seconds so a busy grader does not ask before every job. The zero
// value is ready to use.
type Engine struct {
	mu  sync.Mutex
	at  time.Time
	err error
}

// Check returns nil when a Docker engine answers, else why not.
func (e *Engine) Check(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.at.IsZero() && time.Since(e.at) < 30*time.Second {
		return e.err
	}
	PrepareReaper(ctx)
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err == nil {
		_, err = cli.Ping(ctx, client.PingOptions{})
		cli.Close()
	}
	e.err, e.at = err, time.Now()
	return e.err
}

// Available reports whether a Docker engine answers (see Check).
func (e *Engine) Available(ctx context.Context) bool { return e.Check(ctx) == nil }

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

// Password returns a new random password, for one container's use.
func Password() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Option changes how StartRedis and StartPostgres start a container.
type Option func(*spec)

type spec struct {
	password string
	network  string
	labels   map[string]string
	log      *slog.Logger
}

// WithPassword makes the server require password: Redis through
// requirepass, PostgreSQL as the password of its user.
func WithPassword(password string) Option { return func(s *spec) { s.password = password } }

// WithNetwork puts the container on the Docker network name (instead of
// the default bridge); it is reached by its address on that network.
func WithNetwork(name string) Option { return func(s *spec) { s.network = name } }

// WithLabels adds labels to the container.
func WithLabels(labels map[string]string) Option {
	return func(s *spec) {
		if s.labels == nil {
			s.labels = map[string]string{}
		}
		for k, v := range labels {
			s.labels[k] = v
		}
	}
}

// WithLog sends testcontainers' progress lines to log, at debug level.
func WithLog(log *slog.Logger) Option { return func(s *spec) { s.log = log } }

// Service is a started container and how to reach it.
type Service struct {
	testcontainers.Container
	// Addr is host:port: 127.0.0.1 and the published port, or the
	// container's address on the network it joined.
	Addr string
	// URL is a connection URL with credentials: redis://:password@addr/0
	// or postgres://workbook:password@addr/workbook?sslmode=disable.
	URL string
}

// StartRedis starts Redis from image and waits until it answers. The
// caller terminates it.
func StartRedis(ctx context.Context, image string, opts ...Option) (*Service, error) {
	s := newSpec(opts)
	var extra []testcontainers.ContainerCustomizer
	u := &url.URL{Scheme: "redis", Path: "/0"}
	if s.password != "" {
		// The official image and the local one (scripts/images.sh) both
		// take the server's options as arguments after "redis-server".
		extra = append(extra, testcontainers.WithCmd("redis-server", "--requirepass", s.password))
		u.User = url.UserPassword("", s.password)
	}
	svc, err := start(ctx, image, "6379/tcp", s, extra...)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	u.Host = svc.Addr
	svc.URL = u.String()
	rc := goredis.NewClient(&goredis.Options{Addr: svc.Addr, Password: s.password, DialTimeout: 2 * time.Second, MaxRetries: -1})
	defer rc.Close()
	if err := ready(ctx, svc, func(ctx context.Context) error { return rc.Ping(ctx).Err() }); err != nil {
		_ = Terminate(svc.Container)
		return nil, fmt.Errorf("redis: %w", err)
	}
	return svc, nil
}

// StartPostgres starts PostgreSQL from image and waits until it accepts
// connections to its database. The password is "workbook" unless given.
// The caller terminates it.
func StartPostgres(ctx context.Context, image string, opts ...Option) (*Service, error) {
	s := newSpec(opts)
	if s.password == "" {
		s.password = "workbook"
	}
	svc, err := start(ctx, image, "5432/tcp", s,
		testcontainers.WithEnv(map[string]string{"POSTGRES_USER": PostgresUser, "POSTGRES_PASSWORD": s.password, "POSTGRES_DB": PostgresDB}),
		testcontainers.WithCmd("postgres", "-c", "fsync=off"),
	)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	u := &url.URL{Scheme: "postgres", User: url.UserPassword(PostgresUser, s.password), Host: svc.Addr, Path: "/" + PostgresDB, RawQuery: "sslmode=disable"}
	svc.URL = u.String()
	// Both images initialise the cluster with a server that listens on a
	// socket only, so the first TCP connection is the real server's.
	err = ready(ctx, svc, func(ctx context.Context) error {
		c, err := pgx.Connect(ctx, svc.URL)
		if err != nil {
			return err
		}
		return c.Close(ctx)
	})
	if err != nil {
		_ = Terminate(svc.Container)
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return svc, nil
}

func newSpec(opts []Option) spec {
	var s spec
	for _, o := range opts {
		o(&s)
	}
	return s
}

var loopback = netip.MustParseAddr("127.0.0.1")

// start creates and starts the container, its port published on loopback
// only, and finds its address.
func start(ctx context.Context, image, port string, s spec, extra ...testcontainers.ContainerCustomizer) (*Service, error) {
	PrepareReaper(ctx)
	p, err := network.ParsePort(port)
	if err != nil {
		return nil, err
	}
	var opts []testcontainers.ContainerCustomizer
	if s.log != nil {
		opts = append(opts, testcontainers.WithLogger(debugLog{s.log}))
	}
	opts = append(opts,
		testcontainers.WithExposedPorts(port),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = network.PortMap{p: {{HostIP: loopback}}}
			if s.network != "" {
				hc.NetworkMode = container.NetworkMode(s.network)
			}
		}),
	)
	if len(s.labels) > 0 {
		opts = append(opts, testcontainers.WithLabels(s.labels))
	}
	if s.network != "" {
		opts = append(opts, tcnetwork.WithNetworkName(nil, s.network))
	}
	opts = append(opts, extra...)
	c, err := testcontainers.Run(ctx, image, opts...)
	if err != nil {
		if c != nil {
			_ = Terminate(c)
		}
		return nil, err
	}
	svc := &Service{Container: c}
	if s.network != "" {
		info, err := c.Inspect(ctx)
		if err == nil {
			ep := info.NetworkSettings.Networks[s.network]
			if ep == nil || !ep.IPAddress.IsValid() {
				err = fmt.Errorf("the container has no address on network %q", s.network)
			} else {
				svc.Addr = net.JoinHostPort(ep.IPAddress.String(), strconv.Itoa(int(p.Num())))
			}
		}
		if err != nil {
			_ = Terminate(c)
			return nil, err
		}
		return svc, nil
	}
	mapped, err := c.MappedPort(ctx, port)
	if err != nil {
		_ = Terminate(c)
		return nil, err
	}
	svc.Addr = net.JoinHostPort(loopback.String(), strconv.Itoa(int(mapped.Num())))
	return svc, nil
}

// ready calls try until it succeeds, the container stops, or ctx (at most
// two minutes) ends.
func ready(ctx context.Context, svc *Service, try func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var last error
	for i := 0; ; i++ {
		tctx, tcancel := context.WithTimeout(ctx, 2*time.Second)
		last = try(tctx)
		tcancel()
		if last == nil {
			return nil
		}
		if i%10 == 9 {
			if st, err := svc.State(ctx); err == nil && !st.Running {
				return fmt.Errorf("the container stopped (exit code %d) before it answered: %w", st.ExitCode, last)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer from %s: %w", svc.Addr, errors.Join(ctx.Err(), last))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// debugLog hands testcontainers' progress lines to a slog.Logger.
type debugLog struct{ log *slog.Logger }

func (d debugLog) Printf(format string, v ...any) {
	d.log.Debug(fmt.Sprintf(format, v...), "component", "containers")
}
