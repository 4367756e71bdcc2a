package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/sdworkbook/workbook/internal/duplex"
)

// Service is one launch of the learner's image: its replicas, reached by
// the checker through the job's relay.
type Service struct {
	// Base is the address that spreads requests over the replicas
	// round-robin, one request each in turn, never retried on another.
	Base string

	j        *Job
	launch   int
	replicas []*replica
	servers  []*http.Server
	next     atomic.Uint64
	closed   atomic.Bool
}

// replica is one container of a service.
type replica struct {
	n    int // REPLICA_ID: 1…
	slot int // its slot in the relay, and its address in the subnet
	id   string
	url  string
}

// Launch starts replicas fresh copies of the image, on a fresh Redis
// database number and a fresh PostgreSQL database, and returns when each
// answered GET /healthz with 200 within ReadyTimeout. A replica that never
// did, crashed or ran out of memory is a *LearnerError with its last log
// lines.
func (j *Job) Launch(ctx context.Context, replicas int) (*Service, error) {
	return j.LaunchEnv(ctx, replicas, nil)
}

// LaunchEnv is Launch with env added to the replicas' environment.
func (j *Job) LaunchEnv(ctx context.Context, replicas int, env map[string]string) (*Service, error) {
	if replicas < 1 || replicas > MaxReplicas {
		return nil, fmt.Errorf("sandbox: %d replicas: a service has 1 to %d", replicas, MaxReplicas)
	}
	s := &Service{j: j}
	if err := j.takeSlots(s, replicas); err != nil {
		return nil, err
	}
	if err := s.start(ctx, env); err != nil {
		cctx, cancel := cleanupContext()
		defer cancel()
		_ = s.Close(cctx)
		return nil, err
	}
	return s, nil
}

// takeSlots reserves n relay slots for s's replicas and numbers its
// launch.
func (j *Job) takeSlots(s *Service, n int) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return errors.New("sandbox: the job is closed")
	}
	var slots []int
	for i := range j.slots {
		if !j.slots[i] && len(slots) < n {
			slots = append(slots, i)
		}
	}
	if len(slots) < n {
		return fmt.Errorf("sandbox: %d replicas already run in this job; %d more do not fit", MaxReplicas-len(slots), n)
	}
	for n, i := range slots {
		j.slots[i] = true
		s.replicas = append(s.replicas, &replica{n: n + 1, slot: i})
	}
	j.launches++
	s.launch = j.launches
	j.services = append(j.services, s)
	return nil
}

// start prepares fresh databases, starts the replicas and waits for them.
func (s *Service) start(ctx context.Context, env map[string]string) error {
	j := s.j
	redisDB := s.launch % 1024
	if d := j.deps[DepRedis]; d != nil && s.launch >= 1024 {
		if _, _, err := j.e.exec(ctx, d.id, nil, "redis-cli", "--no-auth-warning", "-a", d.password, "-n", strconv.Itoa(redisDB), "flushdb"); err != nil {
			return fmt.Errorf("sandbox: empty Redis database %d: %w", redisDB, err)
		}
	}
	pgDB := "launch" + strconv.Itoa(s.launch)
	if j.deps[DepPostgres] != nil {
		if err := j.pgExec(ctx, "CREATE DATABASE "+pgDB+" OWNER learner"); err != nil {
			return err
		}
	}
	for _, r := range s.replicas {
		if err := s.create(ctx, r, j.environment(r.n, redisDB, pgDB, env)); err != nil {
			return err
		}
	}
	for _, r := range s.replicas {
		if _, err := j.e.cli.ContainerStart(ctx, r.id, client.ContainerStartOptions{}); err != nil {
			return fmt.Errorf("sandbox: start replica %d: %w", r.n, err)
		}
	}
	if err := s.waitAll(ctx, s.replicas); err != nil {
		return err
	}
	return s.serve()
}

var replicaPids int64 = ReplicaPids

// create creates replica r's container: on the job's network only, at its
// slot's address, read-only, as nobody, with no capabilities, and within
// the sandbox's memory, process and CPU limits.
func (s *Service) create(ctx context.Context, r *replica, env []string) error {
	j := s.j
	res, err := j.e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:   fmt.Sprintf("%s-l%d-r%d", j.name, s.launch, r.n),
		Config: &container.Config{Image: j.spec.Image.ID, Env: env, User: "65534:65534", Labels: j.labels, Hostname: "replica-" + strconv.Itoa(r.n)},
		HostConfig: &container.HostConfig{
			NetworkMode:    container.NetworkMode(j.netName),
			ReadonlyRootfs: true,
			Tmpfs:          map[string]string{"/tmp": "rw,noexec,nosuid,nodev,size=" + ReplicaTmp},
			CapDrop:        []string{"ALL"},
			SecurityOpt:    []string{"no-new-privileges"},
			LogConfig:      container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1m", "max-file": "1"}},
			Resources: container.Resources{Memory: ReplicaMemory, MemorySwap: ReplicaMemory, PidsLimit: &replicaPids,
				NanoCPUs: 1e9},
		},
		NetworkingConfig: j.endpoint(hostReplica0+r.slot, "replica-"+strconv.Itoa(r.n)),
	})
	if err != nil {
		return fmt.Errorf("sandbox: create replica %d: %w", r.n, err)
	}
	r.id = res.ID
	return nil
}

// waitAll waits for each of rs to become ready, at once.
func (s *Service) waitAll(ctx context.Context, rs []*replica) error {
	errs := make([]error, len(rs))
	var wg sync.WaitGroup
	for i, r := range rs {
		wg.Go(func() { errs[i] = s.waitReady(ctx, r) })
	}
	wg.Wait()
	// A replica the learner's code failed is the error to report, before
	// any the others had meanwhile.
	for _, err := range errs {
		if IsLearner(err) {
			return err
		}
	}
	return errors.Join(errs...)
}

// waitReady waits until r answers GET /healthz with 200, or stopped, or
// ReadyTimeout passed.
func (s *Service) waitReady(ctx context.Context, r *replica) error {
	start := time.Now()
	c := &http.Client{Timeout: 2 * time.Second, Transport: s.j.transport()}
	last := "nothing answered yet"
	for i := 0; ; i++ {
		status, err := s.probe(ctx, c, r)
		switch {
		case err == nil && status == http.StatusOK:
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			last = "the request failed: " + err.Error()
		case status == http.StatusBadGateway || status == http.StatusGatewayTimeout:
			last = "nothing answered on port 8080"
		default:
			last = fmt.Sprintf("it answered %d", status)
		}
		if i%5 == 4 || time.Since(start) > ReadyTimeout {
			if err := s.stopped(ctx, r); err != nil {
				return err
			}
		}
		if time.Since(start) > ReadyTimeout {
			log := s.j.e.containerLog(ctx, r.id)
			return learnerf(log, "Replica %d did not answer GET /healthz with 200 within %s (%s).", r.n, ReadyTimeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// probe asks r for GET /healthz through the relay.
func (s *Service) probe(ctx context.Context, c *http.Client, r *replica) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.j.relay.base+"/healthz", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set(slotHeader, "s"+strconv.Itoa(r.slot))
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// stopped returns a LearnerError when r is no longer running: it ran out
// of memory, or exited.
func (s *Service) stopped(ctx context.Context, r *replica) error {
	in, err := s.j.e.cli.ContainerInspect(ctx, r.id, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("sandbox: inspect replica %d: %w", r.n, err)
	}
	st := in.Container.State
	if st == nil || st.Running {
		return nil
	}
	log := s.j.e.containerLog(ctx, r.id)
	if st.OOMKilled {
		return learnerf(log, "Replica %d ran out of memory (its limit is %d MiB) and was stopped.", r.n, ReplicaMemory>>20)
	}
	return learnerf(log, "Replica %d exited with code %d before it answered GET /healthz with 200.", r.n, st.ExitCode)
}

// serve opens the service's addresses on 127.0.0.1: Base and one per
// replica.
func (s *Service) serve() error {
	base, err := s.listen(func() int {
		n := s.next.Add(1) - 1
		return s.replicas[n%uint64(len(s.replicas))].slot
	})
	if err != nil {
		return err
	}
	s.Base = base
	for _, r := range s.replicas {
		if r.url, err = s.listen(func() int { return r.slot }); err != nil {
			return err
		}
	}
	return nil
}

// listen serves a proxy to the relay that sends each request to the slot
// pick names, and returns its URL.
func (s *Service) listen(pick func() int) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("sandbox: listen: %w", err)
	}
	target, _ := url.Parse(s.j.relay.base)
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Set(slotHeader, "s"+strconv.Itoa(pick()))
		},
		Transport:     s.j.transport(),
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "the sandbox's relay did not answer", http.StatusBadGateway)
		},
	}
	srv := &http.Server{Handler: duplex.Handler(p), ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// Replicas are the replicas' own addresses, in REPLICA_ID order.
func (s *Service) Replicas() []string {
	out := make([]string, len(s.replicas))
	for i, r := range s.replicas {
		out[i] = r.url
	}
	return out
}

// Kill kills replica i (0-based: REPLICA_ID i+1) as a crash would.
func (s *Service) Kill(ctx context.Context, i int) error {
	if i < 0 || i >= len(s.replicas) {
		return fmt.Errorf("sandbox: no replica %d", i)
	}
	r := s.replicas[i]
	if _, err := s.j.e.cli.ContainerKill(ctx, r.id, client.ContainerKillOptions{Signal: "KILL"}); err != nil && !isNotRunning(err) {
		return fmt.Errorf("sandbox: kill replica %d: %w", r.n, err)
	}
	return s.j.e.waitStopped(ctx, r.id)
}

// Start starts replica i again (same address, same environment, an empty
// /tmp) and waits until it is ready, as Launch does.
func (s *Service) Start(ctx context.Context, i int) error {
	if i < 0 || i >= len(s.replicas) {
		return fmt.Errorf("sandbox: no replica %d", i)
	}
	r := s.replicas[i]
	if _, err := s.j.e.cli.ContainerStart(ctx, r.id, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("sandbox: start replica %d: %w", r.n, err)
	}
	return s.waitReady(ctx, r)
}

// Restart kills every replica, then starts them all again.
func (s *Service) Restart(ctx context.Context) error {
	for i := range s.replicas {
		if err := s.Kill(ctx, i); err != nil {
			return err
		}
	}
	for _, r := range s.replicas {
		if _, err := s.j.e.cli.ContainerStart(ctx, r.id, client.ContainerStartOptions{}); err != nil {
			return fmt.Errorf("sandbox: start replica %d: %w", r.n, err)
		}
	}
	return s.waitAll(ctx, s.replicas)
}

// isNotRunning reports whether err says the container was not running.
func isNotRunning(err error) bool {
	return err != nil && (isNotFound(err) || strings.Contains(err.Error(), "is not running"))
}

// Close keeps the replicas' logs for Job.Logs and removes them.
func (s *Service) Close(ctx context.Context) error {
	if s.closed.Swap(true) {
		return nil
	}
	for _, srv := range s.servers {
		_ = srv.Close()
	}
	var errs []error
	for _, r := range s.replicas {
		if r.id == "" {
			continue
		}
		s.j.addLog(r.n, s.launch, s.j.e.containerLog(ctx, r.id))
		if _, err := s.j.e.cli.ContainerRemove(ctx, r.id, client.ContainerRemoveOptions{Force: true}); ignoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("sandbox: remove replica %d: %w", r.n, err))
		}
	}
	j := s.j
	j.mu.Lock()
	for _, r := range s.replicas {
		j.slots[r.slot] = false
	}
	for i, o := range j.services {
		if o == s {
			j.services = append(j.services[:i], j.services[i+1:]...)
			break
		}
	}
	j.mu.Unlock()
	return errors.Join(errs...)
}
