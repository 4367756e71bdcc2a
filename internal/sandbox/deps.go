package sandbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

var (
	depMemory int64 = 512 << 20
	depPids   int64 = 512
)

// startDep creates and starts Redis or PostgreSQL on the job's network
// only, under limits of their own (the learner holds their passwords).
func (j *Job) startDep(ctx context.Context, kind string) error {
	d := &dep{kind: kind, password: randomHex(16)}
	cfg := &container.Config{Labels: j.labels}
	host := hostRedis
	switch kind {
	case DepRedis:
		cfg.Image = j.e.o.RedisImage
		cfg.Cmd = []string{"redis-server", "--requirepass", d.password, "--databases", "1024", "--save", "", "--appendonly", "no", "--maxmemory", "256mb"}
	case DepPostgres:
		cfg.Image, host = j.e.o.PostgresImage, hostPostgres
		d.admin = randomHex(16)
		cfg.Env = []string{"POSTGRES_USER=workbook", "POSTGRES_PASSWORD=" + d.admin, "POSTGRES_DB=workbook"}
		cfg.Cmd = []string{"postgres", "-c", "fsync=off", "-c", "max_connections=300"}
	}
	hc := &container.HostConfig{
		NetworkMode: container.NetworkMode(j.netName),
		SecurityOpt: []string{"no-new-privileges"},
		LogConfig:   container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "1m", "max-file": "1"}},
		Resources:   container.Resources{Memory: depMemory, MemorySwap: depMemory, PidsLimit: &depPids},
	}
	res, err := j.e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: hc,
		NetworkingConfig: j.endpoint(host, kind), Name: j.name + "-" + kind})
	if err != nil {
		return fmt.Errorf("sandbox: create %s: %w", kind, err)
	}
	d.id = res.ID
	j.deps[kind] = d
	if _, err := j.e.cli.ContainerStart(ctx, d.id, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("sandbox: start %s: %w", kind, err)
	}
	return nil
}

// waitDep waits until Redis answers PING or PostgreSQL a query over TCP
// (both images first run a server on a socket only while initialising).
func (j *Job) waitDep(ctx context.Context, d *dep) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var last error
	for {
		var out string
		var code int
		var err error
		switch d.kind {
		case DepRedis:
			out, code, err = j.e.exec(ctx, d.id, nil, "redis-cli", "--no-auth-warning", "-a", d.password, "ping")
		case DepPostgres:
			out, code, err = j.pgQuery(ctx, "workbook", "SELECT 1")
		}
		if err == nil && code == 0 && (d.kind != DepRedis || out == "PONG\n") {
			return nil
		}
		last = errors.Join(err, fmt.Errorf("exit code %d: %s", code, lastLines(out, 3)))
		select {
		case <-ctx.Done():
			return fmt.Errorf("sandbox: %s did not become ready: %w", d.kind, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// pgQuery runs one statement as the superuser over TCP in the PostgreSQL
// container.
func (j *Job) pgQuery(ctx context.Context, db, sql string) (string, int, error) {
	d := j.deps[DepPostgres]
	return j.e.exec(ctx, d.id, []string{"PGPASSWORD=" + d.admin, "PGCONNECT_TIMEOUT=5"}, "psql", "-h", "127.0.0.1", "-U", "workbook", "-d", db, "-v", "ON_ERROR_STOP=1", "-qAtc", sql)
}

// pgExec runs one statement and fails unless it succeeded.
func (j *Job) pgExec(ctx context.Context, sql string) error {
	out, code, err := j.pgQuery(ctx, "workbook", sql)
	if err == nil && code != 0 {
		err = fmt.Errorf("exit code %d: %s", code, lastLines(out, 3))
	}
	if err != nil {
		return fmt.Errorf("sandbox: postgres: %s: %w", sql[:min(len(sql), 24)], err)
	}
	return nil
}

// Pause freezes dep ("redis" or "postgres") until heal is called: its
// connections stay open and every call to it hangs.
func (j *Job) Pause(ctx context.Context, dep string) (heal func(context.Context) error, err error) {
	d := j.deps[dep]
	if d == nil {
		return nil, fmt.Errorf("sandbox: the job has no %s", dep)
	}
	if _, err := j.e.cli.ContainerPause(ctx, d.id, client.ContainerPauseOptions{}); err != nil {
		return nil, fmt.Errorf("sandbox: pause %s: %w", dep, err)
	}
	return once(func(ctx context.Context) error {
		if _, err := j.e.cli.ContainerUnpause(ctx, d.id, client.ContainerUnpauseOptions{}); err != nil {
			return fmt.Errorf("sandbox: unpause %s: %w", dep, err)
		}
		return nil
	}), nil
}

// Stop kills dep as a crash would until heal is called, which starts it
// again and waits until it answers (Redis comes back empty; PostgreSQL
// with its rows).
func (j *Job) Stop(ctx context.Context, dep string) (heal func(context.Context) error, err error) {
	d := j.deps[dep]
	if d == nil {
		return nil, fmt.Errorf("sandbox: the job has no %s", dep)
	}
	if _, err := j.e.cli.ContainerKill(ctx, d.id, client.ContainerKillOptions{}); err != nil {
		return nil, fmt.Errorf("sandbox: stop %s: %w", dep, err)
	}
	if err := j.e.waitStopped(ctx, d.id); err != nil {
		return nil, fmt.Errorf("sandbox: stop %s: %w", dep, err)
	}
	return once(func(ctx context.Context) error {
		if _, err := j.e.cli.ContainerStart(ctx, d.id, client.ContainerStartOptions{}); err != nil {
			return fmt.Errorf("sandbox: start %s again: %w", dep, err)
		}
		return j.waitDep(ctx, d)
	}), nil
}

// once runs f at most once; later calls return its first result.
func once(f func(context.Context) error) func(context.Context) error {
	var o sync.Once
	var err error
	return func(ctx context.Context) error {
		o.Do(func() { err = f(ctx) })
		return err
	}
}
