package grader_test

import (
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	goredis "github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"

	"github.com/sdworkbook/workbook/grader"
	"github.com/sdworkbook/workbook/internal/containers"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
)

// listContainers lists the containers, running or not, that carry every
// label given as key=value.
func listContainers(t *testing.T, labels ...string) []container.Summary {
	t.Helper()
	ctx := context.Background()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	opts := client.ContainerListOptions{All: true}
	if len(labels) > 0 {
		opts.Filters = client.Filters{}.Add("label", labels...)
	}
	res, err := cli.ContainerList(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res.Items
}

// containerIDs lists the containers this test process started (other test
// processes may be starting their own), running or not.
func containerIDs(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range listContainers(t, "org.testcontainers.sessionId="+testcontainers.SessionID()) {
		out[c.ID] = c.Image
	}
	return out
}

// containerJobTimeout leaves room for containers that start slowly on a
// loaded machine.
const containerJobTimeout = 40 * time.Second

// Each submission gets a fresh Redis and PostgreSQL, named in its result,
// and they are gone afterwards whether the design passed, failed, ran out
// of time or crashed the check. While a job runs, its containers carry its
// labels, publish their ports on 127.0.0.1 only, and want a password.
func TestContainersPerSubmissionAndRemovedAfter(t *testing.T) {
	before := containerIDs(t)
	r := MustRig(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()},
		grader.Options{Workers: 2, Environment: grader.EnvContainers, JobTimeout: containerJobTimeout}, testLab{needsDB: true})

	good := r.submit(t, "probe", map[string]any{"quality": "good"})
	bad := r.submit(t, "probe", map[string]any{"quality": "bad"})
	res := r.wait(t, good.ID, 2*time.Minute)
	want := "Graded in containers: Redis 7 and PostgreSQL 15."
	if res.Status != store.StatusGraded || *res.Score != 15 || res.Environment != want || res.StaffDetail != "" {
		t.Fatalf("good design in containers: %s %v %q %q (staff: %q); want environment %q", res.Status, res.Score, res.Environment, res.Message, res.StaffDetail, want)
	}
	if res = r.wait(t, bad.ID, 2*time.Minute); res.Status != store.StatusGraded || *res.Score != 5 {
		t.Fatalf("bad design in containers: %s %v %q (staff: %q)", res.Status, res.Score, res.Message, res.StaffDetail)
	}
	slow := r.submit(t, "probe", map[string]any{"sleep_ms": 60000})
	inspectJobContainers(t, r, slow.ID)
	if res = r.wait(t, slow.ID, 2*time.Minute); res.Status != store.StatusTimedOut {
		t.Fatalf("slow design: %s %q (staff: %q)", res.Status, res.Message, res.StaffDetail)
	}
	crash := r.submit(t, "probe", map[string]any{"panic": true})
	if res = r.wait(t, crash.ID, 3*time.Minute); res.Status != store.StatusNotGradable {
		t.Fatalf("crashing check: %s", res.Status)
	}
	// The result is recorded first and the environment removed just after,
	// so the learner does not wait for the teardown.
	deadline := time.Now().Add(time.Minute)
	for {
		var left []string
		for id, image := range containerIDs(t) {
			if _, ok := before[id]; !ok {
				left = append(left, id[:12]+" ("+image+")")
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("containers left behind: %s", strings.Join(left, ", "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// inspectJobContainers waits until the job of submission id is past its
// first check, then checks its two containers' labels, port bindings and
// passwords.
func inspectJobContainers(t *testing.T, r *rig, id string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		res, err := r.g.Submission(context.Background(), id, r.user)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Checks) > 0 {
			break
		}
		if res.Terminal() || time.Now().After(deadline) {
			t.Fatalf("the job never reached its second check: %s", res.Status)
		}
	}
	found := listContainers(t, containers.LabelJob+"="+id, containers.LabelRole+"="+containers.RoleGrading)
	if len(found) != 2 {
		t.Fatalf("the job's containers: %d found, want 2", len(found))
	}
	ctx := context.Background()
	for _, c := range found {
		l := c.Labels
		started, err1 := time.Parse(time.RFC3339, l[containers.LabelStarted])
		ends, err2 := time.Parse(time.RFC3339, l[containers.LabelDeadline])
		// The deadline is the job's: its time limit after it began, a
		// little before the containers started.
		if err1 != nil || err2 != nil || ends.Sub(started) > containerJobTimeout || ends.Sub(started) < containerJobTimeout/2 ||
			l[containers.LabelOwner] == "" || l[containers.LabelPID] == "" {
			t.Errorf("labels of %s: %v", c.Image, l)
		}
		if len(c.Ports) == 0 {
			t.Errorf("%s publishes no port", c.Image)
		}
		var port uint16
		for _, p := range c.Ports {
			if p.PublicPort != 0 && p.IP.String() != "127.0.0.1" {
				t.Errorf("%s publishes port %d on %s, want 127.0.0.1 only", c.Image, p.PrivatePort, p.IP)
			}
			port = p.PublicPort
		}
		addr := "127.0.0.1:" + strconv.Itoa(int(port))
		switch {
		case strings.Contains(c.Image, "redis"):
			rc := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1})
			err := rc.Ping(ctx).Err()
			rc.Close()
			if err == nil || !strings.Contains(err.Error(), "NOAUTH") {
				t.Errorf("PING without a password: %v; want it refused (NOAUTH)", err)
			}
		case strings.Contains(c.Image, "postgres"):
			conn, err := pgx.Connect(ctx, "postgres://workbook:workbook@"+addr+"/workbook?sslmode=disable")
			if err == nil {
				conn.Close(ctx)
				t.Errorf("PostgreSQL let in the fixed password of old")
			} else if !strings.Contains(err.Error(), "password authentication failed") {
				t.Errorf("PostgreSQL with a wrong password: %v", err)
			}
		default:
			t.Errorf("unexpected image %s", c.Image)
		}
	}
}

// In auto mode, containers that cannot start because the image is not
// there (and cannot be pulled) fall back to the built-in environment: the
// learner reads one sentence, staff read the reason.
func TestAutoFallsBackToEmbedded(t *testing.T) {
	r := MustRig(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()},
		grader.Options{Workers: 1, Environment: grader.EnvAuto, RedisImage: "workbook-local/no-such-image:0"}, testLab{})
	sub := r.submit(t, "probe", map[string]any{})
	res := r.wait(t, sub.ID, time.Minute)
	want := "Graded on the built-in Redis: the container images for grading are not on this server."
	if res.Status != store.StatusGraded || res.Environment != want || !strings.Contains(res.StaffDetail, "workbook-local/no-such-image:0") {
		t.Fatalf("auto without a usable image: %s %q (staff: %q); want %q", res.Status, res.Environment, res.StaffDetail, want)
	}
}

// A grader that starts removes what an earlier grader of its owner left
// behind when it was killed, and anyone's containers whose job deadline is
// long past; it leaves alone the containers of other graders, of a live
// grader of its owner, and those that are not grading containers.
func TestStartRemovesWhatAKilledGraderLeft(t *testing.T) {
	ctx := context.Background()
	image := testenv.Image("WORKBOOK_REDIS_IMAGE", containers.DefaultRedisImage)
	owner := "test-owner-" + containers.Password()[:8]
	other := "test-other-" + containers.Password()[:8]

	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	live := exec.Command("sleep", "300")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = live.Process.Kill(); _ = live.Wait() })

	now := time.Now()
	labels := func(owner string, pid int, deadline time.Time) map[string]string {
		l := containers.GradingLabels(owner, "sub-"+owner, now, deadline)
		l[containers.LabelPID] = strconv.Itoa(pid)
		return l
	}
	cases := []struct {
		name   string
		labels map[string]string
		gone   bool
	}{
		{"the killed grader's", labels(owner, dead.Process.Pid, now.Add(time.Minute)), true},
		{"a live grader's of the same owner", labels(owner, live.Process.Pid, now.Add(time.Minute)), false},
		{"another grader's", labels(other, dead.Process.Pid, now.Add(time.Minute)), false},
		{"another grader's, long past its deadline", labels(other, live.Process.Pid, now.Add(-10*time.Minute)), true},
		{"not a grading container", map[string]string{containers.LabelOwner: owner}, false},
	}
	ids := make([]string, len(cases))
	errs := make([]error, len(cases))
	done := make(chan struct{})
	for i, c := range cases {
		go func() {
			defer func() { done <- struct{}{} }()
			svc, err := containers.StartRedis(ctx, image, containers.WithLabels(c.labels))
			if err != nil {
				errs[i] = err
				return
			}
			ids[i] = svc.GetContainerID()
			t.Cleanup(func() { _ = containers.Terminate(svc.Container) })
		}()
	}
	for range cases {
		<-done
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}

	st, err := store.Open(ctx, store.Options{SQLitePath: t.TempDir() + "/wb.db"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g, err := grader.New(st, nil, quiet(), grader.Options{Workers: 1, Environment: grader.EnvContainers}, labs.MustRegistry(testLab{}))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.PrepareContainers(ctx, grader.ContainerOptions{Owner: owner}):
	case <-time.After(time.Minute):
		t.Fatal("the clean-up did not end")
	}
	present := map[string]bool{}
	for _, c := range listContainers(t) {
		present[c.ID] = true
	}
	for i, c := range cases {
		if present[ids[i]] == c.gone {
			t.Errorf("%s container: removed %v, want %v", c.name, !present[ids[i]], c.gone)
		}
	}
}
