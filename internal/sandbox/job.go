package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// JobSpec is what a job runs.
type JobSpec struct {
	// ID names the job (the submission being graded); its labels carry it.
	ID    string
	Image Image
	// Redis and Postgres start them for the service (REDIS_URL,
	// DATABASE_URL).
	Redis, Postgres bool
	// Downstream, when set, answers the service's calls to
	// DOWNSTREAM_URL (http://downstream).
	Downstream http.Handler
	// Env is added to every replica's environment.
	Env map[string]string
	// Deadline, when set, is when the job ends at the latest, for the
	// labels by which leftovers of a killed grader are found.
	Deadline time.Time
}

// The dependencies a job can pause or stop.
const (
	DepRedis    = "redis"
	DepPostgres = "postgres"
)

// Job is a started job: its network, Redis, PostgreSQL and relay, and the
// services launched in it.
type Job struct {
	e       *Engine
	spec    JobSpec
	name    string // prefix of its Docker objects' names
	labels  map[string]string
	netName string
	subnet  netip.Prefix
	deps    map[string]*dep
	relay   *relay

	tr, ctr *http.Transport
	down    atomic.Pointer[http.Handler]

	mu       sync.Mutex
	slots    [MaxReplicas]bool
	launches int
	services []*Service
	logs     map[string]*tail
	closed   bool
}

// dep is Redis or PostgreSQL in a job.
type dep struct {
	kind     string
	id       string
	password string // the learner's
	admin    string // PostgreSQL's superuser's
}

// addresses in a job's subnet.
const (
	hostRelay    = 2
	hostRedis    = 3
	hostPostgres = 4
	hostReplica0 = 16
)

// StartJob creates the job's network, starts Redis and PostgreSQL when
// asked and the relay, and returns the job ready to Launch services. A
// job that could not start is removed.
func (e *Engine) StartJob(ctx context.Context, s JobSpec) (*Job, error) {
	if s.ID == "" || s.Image.ID == "" {
		return nil, errors.New("sandbox: a job needs an ID and an image")
	}
	j := &Job{e: e, spec: s, name: "wb-" + safeName(s.ID) + "-" + randomHex(3), labels: e.labels(s.ID, s.Deadline),
		deps: map[string]*dep{}, logs: map[string]*tail{},
		tr:  &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second, DisableCompression: true},
		ctr: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 512, IdleConnTimeout: 30 * time.Second}}
	if err := j.start(ctx); err != nil {
		cctx, cancel := cleanupContext()
		defer cancel()
		_ = j.Close(cctx)
		return nil, err
	}
	e.log.Info("sandbox: job started", "job", s.ID, "network", j.netName, "subnet", j.subnet.String())
	return j, nil
}

func (j *Job) start(ctx context.Context) error {
	if err := j.createNetwork(ctx); err != nil {
		return err
	}
	if j.spec.Redis {
		if err := j.startDep(ctx, DepRedis); err != nil {
			return err
		}
	}
	if j.spec.Postgres {
		if err := j.startDep(ctx, DepPostgres); err != nil {
			return err
		}
	}
	for _, kind := range []string{DepRedis, DepPostgres} {
		if d := j.deps[kind]; d != nil {
			if err := j.waitDep(ctx, d); err != nil {
				return err
			}
		}
	}
	if d := j.deps[DepPostgres]; d != nil {
		if err := j.pgExec(ctx, "CREATE ROLE learner LOGIN PASSWORD '"+d.password+"'"); err != nil {
			return err
		}
	}
	r, err := j.startRelay(ctx)
	if err != nil {
		return err
	}
	j.relay = r
	return nil
}

// createNetwork creates the job's network: internal, with no address of
// the host's on its bridge, so its containers reach only each other. Its
// subnet is chosen at random (a taken one is tried again) so every
// container can have a fixed address.
func (j *Job) createNetwork(ctx context.Context) error {
	var last error
	for range 20 {
		n, _ := rand.Int(rand.Reader, big.NewInt(64*256))
		v := int(n.Int64())
		subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(192 + v/256), byte(v % 256), 0}), 24)
		gw := subnet.Addr().Next()
		name := j.name + "-net"
		_, err := j.e.cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{
			Driver: "bridge", Internal: true, Labels: j.labels,
			Options: map[string]string{"com.docker.network.bridge.inhibit_ipv4": "true"},
			IPAM:    &network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet, Gateway: gw}}},
		})
		if err == nil {
			j.netName, j.subnet = name, subnet
			return nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("sandbox: create the job's network: %w", last)
}

// addr is host number n in the job's subnet.
func (j *Job) addr(n int) netip.Addr {
	a := j.subnet.Addr().As4()
	a[3] = byte(n)
	return netip.AddrFrom4(a)
}

// endpoint puts a container on the job's network at host number n.
func (j *Job) endpoint(n int, aliases ...string) *network.NetworkingConfig {
	return &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		j.netName: {IPAMConfig: &network.EndpointIPAMConfig{IPv4Address: j.addr(n)}, Aliases: aliases},
	}}
}

// Close stops every service and removes everything the job created: its
// containers, network and image (found by the job's label, so also what
// a cancelled build left). It lets go of the downstream listener.
func (j *Job) Close(ctx context.Context) error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	live := slices.Clone(j.services)
	j.mu.Unlock()
	var errs []error
	for _, s := range live {
		errs = append(errs, s.Close(ctx))
	}
	if j.relay != nil {
		j.relay.closeDownstream()
	}
	j.tr.CloseIdleConnections()
	j.ctr.CloseIdleConnections()
	errs = append(errs, j.e.removeObjects(ctx, j.spec.ID))
	j.e.log.Info("sandbox: job closed", "job", j.spec.ID)
	return errors.Join(errs...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// environment returns the service's environment for replica i of launch.
func (j *Job) environment(replica, redisDB int, pgDB string, extra map[string]string) []string {
	env := map[string]string{"PORT": "8080", "REPLICA_ID": fmt.Sprint(replica)}
	if d := j.deps[DepRedis]; d != nil {
		env["REDIS_URL"] = fmt.Sprintf("redis://:%s@redis:6379/%d", d.password, redisDB)
	}
	if d := j.deps[DepPostgres]; d != nil {
		env["DATABASE_URL"] = fmt.Sprintf("postgres://learner:%s@postgres:5432/%s?sslmode=disable", d.password, pgDB)
	}
	if j.spec.Downstream != nil {
		env["DOWNSTREAM_URL"] = "http://downstream"
	}
	maps.Copy(env, j.spec.Env)
	maps.Copy(env, extra)
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// Network is the job's Docker network and its subnet.
func (j *Job) Network() (name string, subnet netip.Prefix) { return j.netName, j.subnet }

// transport carries the checker's requests to the relay.
func (j *Job) transport() *http.Transport { return j.tr }

// SetDownstream makes h answer the service's calls to DOWNSTREAM_URL from
// now on (nil: 503). It has effect only in a job started with a
// Downstream, which it replaces.
func (j *Job) SetDownstream(h http.Handler) {
	if h == nil {
		j.down.Store(nil)
		return
	}
	j.down.Store(&h)
}

// serveDownstream hands a call to the current downstream handler.
func (j *Job) serveDownstream(w http.ResponseWriter, r *http.Request) {
	h := j.down.Load()
	if h == nil {
		http.Error(w, "no downstream dependency is set for this launch", http.StatusServiceUnavailable)
		return
	}
	(*h).ServeHTTP(w, r)
}

// clientTransport carries a checker's requests to the service's
// addresses on 127.0.0.1, with room for many at once.
func (j *Job) clientTransport() *http.Transport { return j.ctr }
