// Package sandbox builds a learner's own service from its sources and runs
// it in containers that reach nothing but the job's own Redis, PostgreSQL
// and the dependency the grader controls, so the lab's checks can judge it
// over HTTP.
//
// A Job is one grading of one built image. Its containers share a Docker
// network created --internal with the bridge's own address inhibited, so a
// container on it has no route anywhere: not to the internet, not to the
// host, not to the gateway. Redis and PostgreSQL are on that network only.
// The checker (this process) reaches the replicas through a relay, an nginx
// container on the job network and on the default bridge whose one port is
// published on 127.0.0.1: every request names its replica's slot in a
// header the relay strips. The relay also serves the name "downstream" on
// the job network, forwarding to the handler the job was given, which this
// process serves on the bridge's gateway address.
//
// Everything a job creates (image, containers, network) carries
// internal/containers' grading labels, so Close removes it by label and
// containers.RemoveLeftovers removes what a killed grader left behind.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"

	"github.com/sdworkbook/workbook/internal/containers"
)

// The images offered to learners and used by the sandbox when the options
// name none (scripts/images.sh builds them from Debian packages).
const (
	DefaultGoImage     = "workbook-local/go:1.24"
	DefaultPythonImage = "workbook-local/python:3.11"
	DefaultRelayImage  = "nginx:1.27"
)

// The sandbox's limits.
const (
	// BuildTimeout bounds one build (Options.BuildTimeout).
	BuildTimeout = 3 * time.Minute
	// BuildMemory is a build's memory limit.
	BuildMemory = 1 << 30
	// ReplicaMemory is a replica's memory limit (no swap beyond it).
	ReplicaMemory = 256 << 20
	// ReplicaPids is how many processes and threads a replica may have.
	ReplicaPids = 128
	// ReplicaTmp is the size of a replica's writable /tmp.
	ReplicaTmp = "16m"
	// ReadyTimeout is how long a replica has to answer GET /healthz 200.
	ReadyTimeout = 20 * time.Second
	// LogKeep is how much of a log is kept: the last bytes.
	LogKeep = 64 << 10
	// MaxReplicas is how many replicas may run in a job at once.
	MaxReplicas = 16
)

// Options configure an Engine.
type Options struct {
	// Owner names the grader, for the labels of what it starts (see
	// containers.GradingLabels).
	Owner string
	// Log hears what the sandbox does, for operators.
	Log *slog.Logger
	// GoImage and PythonImage are the base images learners build on:
	// default DefaultGoImage and DefaultPythonImage.
	GoImage, PythonImage string
	// RelayImage is nginx (default nginx:1.27, or the locally built one);
	// RedisImage and PostgresImage as internal/containers resolves them.
	RelayImage, RedisImage, PostgresImage string
	// Network is the Docker network the checker reaches the relay on, for
	// a grader that runs in a container on it (WORKBOOK_GRADER_NETWORK);
	// empty: the default bridge, with the relay's port published on
	// 127.0.0.1.
	Network string
	// BuildTimeout bounds one build; 0 means BuildTimeout (3 minutes).
	BuildTimeout time.Duration
}

// Engine builds images and starts jobs on one Docker engine.
type Engine struct {
	o   Options
	cli *client.Client
	log *slog.Logger
	// local is this process's address on the relay's outer network
	// (the default bridge's gateway on the Docker host itself), where
	// the downstream handler is served; invalid when this process has
	// none (a remote Docker engine).
	local netip.Addr
}

// New connects to the Docker engine (DOCKER_HOST or the local socket) and
// resolves the images.
func New(ctx context.Context, o Options) (*Engine, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("sandbox: docker client: %w", err)
	}
	e := &Engine{o: o, cli: cli, log: o.Log}
	if e.log == nil {
		e.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if e.o.BuildTimeout <= 0 {
		e.o.BuildTimeout = BuildTimeout
	}
	if e.o.GoImage == "" {
		e.o.GoImage = DefaultGoImage
	}
	if e.o.PythonImage == "" {
		e.o.PythonImage = DefaultPythonImage
	}
	e.o.RelayImage = containers.Image(ctx, e.o.RelayImage, DefaultRelayImage)
	e.o.RedisImage = containers.Image(ctx, e.o.RedisImage, containers.DefaultRedisImage)
	e.o.PostgresImage = containers.Image(ctx, e.o.PostgresImage, containers.DefaultPostgresImage)
	outer := e.o.Network
	if outer == "" {
		outer = "bridge"
	}
	n, err := cli.NetworkInspect(ctx, outer, client.NetworkInspectOptions{})
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("sandbox: the network %s: %w", outer, err)
	}
	e.local = localAddr(n.Network.IPAM.Config)
	return e, nil
}

// localAddr is an address of this host's interfaces inside one of the
// network's subnets.
func localAddr(cfgs []network.IPAMConfig) netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return netip.Addr{}
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(ipn.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		for _, c := range cfgs {
			if c.Subnet.IsValid() && c.Subnet.Contains(ip) {
				return ip
			}
		}
	}
	return netip.Addr{}
}

// Close lets go of the Docker client.
func (e *Engine) Close() error { return e.cli.Close() }

// Images are the base images learners may build on: Go's, then Python's.
func (e *Engine) Images() []string { return []string{e.o.GoImage, e.o.PythonImage} }

// CheckImages returns nil when every image the sandbox needs is on the
// Docker host, else an error naming the missing ones.
func (e *Engine) CheckImages(ctx context.Context) error {
	var missing []string
	for _, img := range []string{e.o.GoImage, e.o.PythonImage, e.o.RelayImage, e.o.RedisImage, e.o.PostgresImage} {
		if _, err := e.cli.ImageInspect(ctx, img); err != nil {
			missing = append(missing, img)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("sandbox: images missing on the Docker host: %s (scripts/images.sh sandbox builds them)", strings.Join(missing, ", "))
	}
	return nil
}

// LearnerError is a failure the learner's service caused: it does not
// build, its build took too long or wrote too much, its Dockerfile names a
// base image that is not offered, it never became ready, it crashed or ran
// out of memory. Reason is a sentence for the learner; Log holds the build
// output or the replica's last log lines. Any other error of this package
// is the environment's.
type LearnerError struct {
	Reason string
	Log    string
}

func (e *LearnerError) Error() string { return e.Reason }

// ServiceFailure is Reason: the sentence a check that stopped on this
// error shows (labs.ServiceFailure).
func (e *LearnerError) ServiceFailure() string { return e.Reason }

// learnerf is a LearnerError with a formatted reason.
func learnerf(log string, format string, args ...any) *LearnerError {
	return &LearnerError{Reason: fmt.Sprintf(format, args...), Log: log}
}

// IsLearner reports whether err is a LearnerError.
func IsLearner(err error) bool {
	var le *LearnerError
	return errors.As(err, &le)
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// safeName is s as a Docker object name part.
func safeName(s string) string {
	s = unsafeName.ReplaceAllString(s, "-")
	if len(s) > 40 {
		s = s[len(s)-40:]
	}
	return strings.Trim(s, "-.")
}

// labels are the grading labels of what job starts.
func (e *Engine) labels(job string, deadline time.Time) map[string]string {
	return containers.GradingLabels(e.o.Owner, job, time.Now(), deadline)
}

// jobFilter selects what job created.
func jobFilter(job string) client.Filters {
	return client.Filters{}.Add("label", containers.LabelJob+"="+job).Add("label", containers.LabelRole+"="+containers.RoleGrading)
}

// cleanupContext is a context for removing things that outlives a
// cancelled job.
func cleanupContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 60*time.Second)
}
