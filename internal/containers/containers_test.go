package containers_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	goredis "github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"

	"github.com/sdworkbook/workbook/internal/containers"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// The test binary doubles as a grader that starts a labelled container and
// waits to be killed, when childOwner is set.
const (
	childOwner  = "CONTAINERS_TEST_CHILD_OWNER"
	childMarker = "CONTAINERS_TEST_CHILD_MARKER"
)

func TestMain(m *testing.M) {
	if owner := os.Getenv(childOwner); owner != "" {
		ctx := context.Background()
		svc, err := containers.StartRedis(ctx, redisImage(), containers.WithPassword(containers.Password()),
			containers.WithLabels(containers.GradingLabels(owner, "child-job", time.Now(), time.Now().Add(time.Minute))))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := os.WriteFile(os.Getenv(childMarker), []byte(svc.GetContainerID()), 0o600); err != nil {
			os.Exit(1)
		}
		select {} // until killed
	}
	testenv.Main(m)
}

func redisImage() string { return testenv.Image("WORKBOOK_REDIS_IMAGE", containers.DefaultRedisImage) }

func dockerClient(t *testing.T) *testcontainers.DockerClient {
	t.Helper()
	cli, err := testcontainers.NewDockerClientWithOpts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// A Redis started with a password publishes its port on 127.0.0.1 only
// and refuses a client that does not give it.
func TestRedisOnLoopbackWithPassword(t *testing.T) {
	ctx := context.Background()
	pw := containers.Password()
	svc, err := containers.StartRedis(ctx, redisImage(), containers.WithPassword(pw))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = containers.Terminate(svc.Container) })

	info, err := dockerClient(t).ContainerInspect(ctx, svc.GetContainerID(), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bindings := info.Container.HostConfig.PortBindings
	published := info.Container.NetworkSettings.Ports
	if len(bindings) == 0 || len(published) == 0 {
		t.Fatalf("no port bindings: %v, published %v", bindings, published)
	}
	for _, m := range []map[string][]string{portIPs(bindings), portIPs(published)} {
		for port, ips := range m {
			for _, ip := range ips {
				if ip != "127.0.0.1" {
					t.Errorf("port %s bound on %q, want 127.0.0.1 only", port, ip)
				}
			}
		}
	}
	if !strings.HasPrefix(svc.Addr, "127.0.0.1:") || !strings.Contains(svc.URL, ":"+pw+"@") {
		t.Errorf("address %q, URL %q", svc.Addr, svc.URL)
	}

	anon := goredis.NewClient(&goredis.Options{Addr: svc.Addr, MaxRetries: -1})
	defer anon.Close()
	if err := anon.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("PING without the password: %v; want NOAUTH", err)
	}
	opt, err := goredis.ParseURL(svc.URL)
	if err != nil {
		t.Fatal(err)
	}
	authed := goredis.NewClient(opt)
	defer authed.Close()
	if err := authed.Ping(ctx).Err(); err != nil {
		t.Errorf("PING with the password from the URL: %v", err)
	}
}

// portIPs lists the host addresses each port is bound on.
func portIPs(m network.PortMap) map[string][]string {
	out := map[string][]string{}
	for p, bs := range m {
		for _, b := range bs {
			out[p.String()] = append(out[p.String()], b.HostIP.String())
		}
	}
	return out
}

// On a network, a container is reached by its address there.
func TestOnNetwork(t *testing.T) {
	ctx := context.Background()
	cli := dockerClient(t)
	name := "workbook-test-" + containers.Password()[:8]
	if _, err := cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = cli.NetworkRemove(context.Background(), name, client.NetworkRemoveOptions{}) })
	if err := containers.CheckNetwork(ctx, name); err != nil {
		t.Fatalf("the network: %v", err)
	}
	if err := containers.CheckNetwork(ctx, name+"-none"); err == nil {
		t.Error("a network that does not exist was found")
	}
	svc, err := containers.StartRedis(ctx, redisImage(), containers.WithNetwork(name), containers.WithPassword("pw"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = containers.Terminate(svc.Container) })
	info, err := cli.ContainerInspect(ctx, svc.GetContainerID(), client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ep := info.Container.NetworkSettings.Networks[name]
	if ep == nil || svc.Addr != ep.IPAddress.String()+":6379" || len(info.Container.NetworkSettings.Networks) != 1 {
		t.Fatalf("address %q; networks %v", svc.Addr, info.Container.NetworkSettings.Networks)
	}
	if !strings.Contains(svc.URL, ":pw@"+svc.Addr) {
		t.Errorf("URL %q", svc.URL)
	}
	// StartRedis returned only once Redis answered at that address.
	for port, ips := range portIPs(info.Container.NetworkSettings.Ports) {
		for _, ip := range ips {
			if ip != "127.0.0.1" {
				t.Errorf("port %s bound on %q, want 127.0.0.1 only", port, ip)
			}
		}
	}
}

// A grader killed with its container running leaves it behind; the next
// grader of the same owner removes it, and leaves another owner's alone.
func TestKilledGradersContainerRemovedByTheNext(t *testing.T) {
	ctx := context.Background()
	owner := "test-killed-" + containers.Password()[:8]
	marker := filepath.Join(t.TempDir(), "started")
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childOwner+"="+owner, childMarker+"="+marker)
	child.Stdout, child.Stderr = os.Stderr, os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })

	other, err := containers.StartRedis(ctx, redisImage(),
		containers.WithLabels(containers.GradingLabels(owner+"-other", "other-job", time.Now(), time.Now().Add(time.Minute))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = containers.Terminate(other.Container) })

	var id []byte
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if id, err = os.ReadFile(marker); err == nil && len(id) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child never started its container")
		}
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	cli := dockerClient(t)
	if _, err := cli.ContainerInspect(ctx, string(id), client.ContainerInspectOptions{}); err != nil {
		t.Fatalf("the killed grader's container is not there to leave behind: %v", err)
	}
	t.Cleanup(func() {
		_, _ = cli.ContainerRemove(context.Background(), string(id), client.ContainerRemoveOptions{Force: true})
	})

	left, err := containers.RemoveLeftovers(ctx, owner, time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].ID != string(id) || left[0].Job != "child-job" || !strings.Contains(left[0].Why, "is gone") {
		t.Fatalf("removed %+v, want the killed grader's container %s", left, id)
	}
	if _, err := cli.ContainerInspect(ctx, string(id), client.ContainerInspectOptions{}); err == nil {
		t.Error("the killed grader's container is still there")
	}
	if _, err := cli.ContainerInspect(ctx, other.GetContainerID(), client.ContainerInspectOptions{}); err != nil {
		t.Errorf("another grader's container was removed: %v", err)
	}
}
