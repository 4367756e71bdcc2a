package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/sdworkbook/workbook/internal/containers"
	"github.com/sdworkbook/workbook/internal/sandbox"
)

// hostileRow is how one hostile submission ended, for the table the test
// prints.
type hostileRow struct{ name, ended string }

// Hostile submissions end with a sentence for the learner or run within
// the sandbox's limits, reach nothing outside their job, and leave the
// host and the job working: one that tries the internet, the host's
// services, the grader's own database, the Docker socket and the metadata
// address; a fork bomb; a memory hog; a 50 MB log flood; one that never
// becomes ready; one that crashes; a busy loop. The job is removed
// afterwards (startJob asserts nothing labelled for it remains).
func TestHostileSubmissions(t *testing.T) {
	t.Parallel() // each mostly waits on containers
	w := startProbe(t, nil)
	var rows []hostileRow
	t.Run("tries to reach what is outside its job", func(t *testing.T) {
		rows = append(rows, hostileRow{"network: internet, host, grader's database, Docker socket, metadata", reachNothing(t, w)})
	})
	for _, c := range []struct {
		mode, name string
		check      func(t *testing.T, w probeWorld, svc *sandbox.Service, err error) string
	}{
		{"fork", "fork bomb", checkForkBomb},
		{"oom", "memory hog (allocates without end)", learnerEnd("ran out of memory (its limit is 256 MiB)", "")},
		{"flood", "50 MB log flood", checkFlood},
		{"never", "never listens", learnerEnd("did not answer GET /healthz with 200 within 20s (nothing answered on port 8080)", "never listening")},
		{"crash", "exits at start", learnerEnd("exited with code 3 before it answered", "giving up at once")},
		{"busy", "busy loop in 4 processes", checkBusy},
	} {
		t.Run(c.name, func(t *testing.T) {
			svc, err := w.j.LaunchEnv(context.Background(), 1, map[string]string{"MODE": c.mode})
			ended := c.check(t, w, svc, err)
			if svc != nil {
				_ = svc.Close(context.Background())
			}
			rows = append(rows, hostileRow{c.name, ended})
			checkStillWorking(t, w)
		})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| hostile submission | how it ended |\n| --- | --- |\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s |\n", r.name, r.ended)
	}
	t.Log(b.String())
}

// learnerEnd expects the launch to fail with a LearnerError whose reason
// holds reason and whose log holds log.
func learnerEnd(reason, log string) func(*testing.T, probeWorld, *sandbox.Service, error) string {
	return func(t *testing.T, _ probeWorld, _ *sandbox.Service, err error) string {
		var le *sandbox.LearnerError
		if !errors.As(err, &le) {
			t.Fatalf("want the learner's failure, got %v", err)
		}
		if !strings.Contains(le.Reason, reason) || !strings.Contains(le.Log, log) {
			t.Errorf("reason %q, log:\n%s", le.Reason, tailOf(le.Log, 500))
		}
		return "LearnerError: " + le.Reason
	}
}

// checkForkBomb: the service keeps answering while its children fork
// until the process limit stops them, and the host can still start
// processes.
func checkForkBomb(t *testing.T, _ probeWorld, svc *sandbox.Service, err error) string {
	if err != nil {
		t.Fatal(err)
	}
	most := 0.0
	for range 20 { // let the bomb fill its limit
		_, m := getJSON(t, svc.Base+"/pids")
		n, _ := m["pids"].(float64)
		if n > most {
			most = n
		}
		time.Sleep(250 * time.Millisecond)
	}
	if most > sandbox.ReplicaPids {
		t.Errorf("%v processes in a replica, over its limit of %d", most, sandbox.ReplicaPids)
	}
	if st, _ := getJSON(t, svc.Base+"/healthz"); st != 200 {
		t.Errorf("the service stopped answering: %d", st)
	}
	if err := exec.Command("true").Run(); err != nil {
		t.Errorf("the host cannot start a process: %v", err)
	}
	return fmt.Sprintf("ran; at most %.0f processes seen in the container (limit %d), the service kept answering", most, sandbox.ReplicaPids)
}

// checkFlood: the service runs; Docker's log file stays within 1 MiB and
// the job's log of the replica within LogKeep, saying what was cut.
func checkFlood(t *testing.T, w probeWorld, svc *sandbox.Service, err error) string {
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := getJSON(t, svc.Base+"/healthz"); st != 200 {
		t.Errorf("healthz: %d", st)
	}
	file := logFileSize(t, w, svc)
	if file > 1<<20+64<<10 {
		t.Errorf("Docker kept %d bytes of the replica's log", file)
	}
	if err := svc.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	log := w.j.Logs()["replica-1"]
	if len(log) > sandbox.LogKeep+200 || !strings.Contains(log, "were cut") || !strings.Contains(log, "listening on 8080") {
		t.Errorf("the replica's log: %d bytes, starting %q", len(log), log[:min(len(log), 200)])
	}
	return fmt.Sprintf("ran; Docker kept %d KiB of the 50 MiB, the job's log %d KiB (the last lines)", file>>10, len(log)>>10)
}

// logFileSize is the size of the service's replica's log file on the
// Docker host.
func logFileSize(t *testing.T, w probeWorld, svc *sandbox.Service) int64 {
	t.Helper()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	name, _ := w.j.Network()
	in, err := cli.NetworkInspect(context.Background(), name, client.NetworkInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for id, ep := range in.Network.Containers {
		if !strings.Contains(ep.Name, "-r1") {
			continue
		}
		c, err := cli.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(c.Container.LogPath)
		if err != nil {
			t.Fatalf("the replica's log file: %v", err)
		}
		return fi.Size()
	}
	t.Fatal("no replica on the job's network")
	return 0
}

// checkBusy: the service answers while four processes spin.
func checkBusy(t *testing.T, _ probeWorld, svc *sandbox.Service, err error) string {
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if st, _ := getJSON(t, svc.Base+"/healthz"); st != 200 {
			t.Errorf("healthz: %d", st)
		}
	}
	return "ran; three processes spinning under the one-CPU limit, the service kept answering"
}

// checkStillWorking: after a hostile launch, the job launches a service
// that answers and uses Redis and PostgreSQL, and the Docker engine
// answers.
func checkStillWorking(t *testing.T, w probeWorld) {
	t.Helper()
	ctx := context.Background()
	svc, err := w.j.Launch(ctx, 1)
	if err != nil {
		t.Fatalf("a normal launch after it: %v", err)
	}
	defer svc.Close(ctx)
	if st, m := getJSON(t, svc.Base+"/redis"); st != 200 || m["count"] != 1.0 {
		t.Errorf("redis after it: %d %v", st, m)
	}
	if st, m := getJSON(t, svc.Base+"/pg"); st != 200 || m["count"] != 1.0 {
		t.Errorf("postgres after it: %d %v", st, m)
	}
	var de containers.Engine
	if err := de.Check(ctx); err != nil {
		t.Errorf("the Docker engine after it: %v", err)
	}
}

// reachNothing launches the probe and has it try every address outside
// its job: the internet, this host's addresses (a listener here counts
// connections), the grader's own PostgreSQL (published on 127.0.0.1 and
// on the default bridge), the relay's outer address, the metadata
// address, a name lookup and the Docker socket. Nothing may answer.
func reachNothing(t *testing.T, w probeWorld) string {
	ctx := context.Background()
	var accepted atomic.Int64
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	targets := probeTargets(t, w, ln.Addr().(*net.TCPAddr).Port)
	svc, err := w.j.Launch(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close(ctx)
	_, m := getJSON(t, svc.Base+"/probe?tcp="+strings.Join(targets, ","))
	reached := 0
	for k, v := range m {
		t.Logf("%-40s %v", k, v)
		if !strings.HasPrefix(fmt.Sprint(v), "no: ") {
			t.Errorf("the service reached %s: %v", k, v)
			reached++
		}
	}
	if n := accepted.Load(); n > 0 {
		t.Errorf("the listener on this host accepted %d connections", n)
	}
	if len(m) < len(targets)+3 {
		t.Errorf("the probe answered %d results for %d targets: %v", len(m), len(targets), m)
	}
	return fmt.Sprintf("ran; reached %d of %d addresses and names (the host's listener saw %d connections)", reached, len(m), accepted.Load())
}

// probeTargets are the addresses the probe tries: the internet, the
// metadata address, every IPv4 address of this host at port, the job
// network's gateway address, the grader's database and the relay's
// address on the default bridge.
func probeTargets(t *testing.T, w probeWorld, port int) []string {
	t.Helper()
	targets := []string{"1.1.1.1:80", "8.8.8.8:53", "169.254.169.254:80"}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			targets = append(targets, net.JoinHostPort(ipn.IP.String(), fmt.Sprint(port)))
		}
	}
	_, subnet := w.j.Network()
	targets = append(targets, net.JoinHostPort(subnet.Addr().Next().String(), fmt.Sprint(port)))
	image := containers.Image(context.Background(), os.Getenv("WORKBOOK_POSTGRES_IMAGE"), containers.DefaultPostgresImage)
	pg, err := containers.StartPostgres(context.Background(), image, containers.WithPassword("grader"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = containers.Terminate(pg.Container) })
	ip, err := pg.ContainerIP(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, pgPort, _ := net.SplitHostPort(pg.Addr)
	targets = append(targets, pg.Addr, "172.17.0.1:"+pgPort, net.JoinHostPort(ip, "5432"))
	return append(targets, relayOuter(t, w)...)
}

// relayOuter is the relay's address on the default bridge.
func relayOuter(t *testing.T, w probeWorld) []string {
	t.Helper()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	name, _ := w.j.Network()
	in, err := cli.NetworkInspect(context.Background(), name, client.NetworkInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for id, ep := range in.Network.Containers {
		if !strings.HasSuffix(ep.Name, "-relay") {
			continue
		}
		c, err := cli.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if br := c.Container.NetworkSettings.Networks["bridge"]; br != nil {
			return []string{net.JoinHostPort(br.IPAddress.String(), "8000")}
		}
	}
	t.Fatal("no relay on the default bridge")
	return nil
}
