package grader_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/sdworkbook/workbook/grader"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
)

// containerIDs lists the containers this test process started (other test
// processes may be starting their own), running or not.
func containerIDs(t *testing.T) map[string]string {
	t.Helper()
	ctx := context.Background()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range res.Items {
		if c.Labels["org.testcontainers.sessionId"] == testcontainers.SessionID() {
			out[c.ID] = c.Image
		}
	}
	return out
}

// Each submission gets a fresh Redis and PostgreSQL, named in its result,
// and they are gone afterwards whether the design passed, failed, ran out
// of time or crashed the check.
func TestContainersPerSubmissionAndRemovedAfter(t *testing.T) {
	before := containerIDs(t)
	r := MustRig(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()},
		grader.Options{Workers: 2, Environment: grader.EnvContainers, JobTimeout: 12 * time.Second}, testLab{needsDB: true})

	good := r.submit(t, "probe", map[string]any{"quality": "good"})
	bad := r.submit(t, "probe", map[string]any{"quality": "bad"})
	res := r.wait(t, good.ID, 2*time.Minute)
	if res.Status != store.StatusGraded || *res.Score != 15 ||
		!strings.Contains(res.Environment, "containers") || !strings.Contains(res.Environment, "PostgreSQL") || !strings.Contains(res.Environment, "Redis") {
		t.Fatalf("good design in containers: %s %v %q", res.Status, res.Score, res.Environment)
	}
	if res = r.wait(t, bad.ID, 2*time.Minute); res.Status != store.StatusGraded || *res.Score != 5 {
		t.Fatalf("bad design in containers: %s %v", res.Status, res.Score)
	}
	slow := r.submit(t, "probe", map[string]any{"sleep_ms": 60000})
	if res = r.wait(t, slow.ID, 2*time.Minute); res.Status != store.StatusTimedOut {
		t.Fatalf("slow design: %s", res.Status)
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

// In auto mode, containers that cannot start (here: an image nobody has)
// fall back to the embedded environment, and the result says why.
func TestAutoFallsBackToEmbedded(t *testing.T) {
	r := MustRig(t, testenv.Backend{Name: "embedded", DataDir: t.TempDir()},
		grader.Options{Workers: 1, Environment: grader.EnvAuto, RedisImage: "workbook-local/no-such-image:0"}, testLab{})
	sub := r.submit(t, "probe", map[string]any{})
	res := r.wait(t, sub.ID, time.Minute)
	if res.Status != store.StatusGraded || !strings.HasPrefix(res.Environment, "embedded") || !strings.Contains(res.Environment, "containers did not start") {
		t.Fatalf("auto without a usable image: %s %q", res.Status, res.Environment)
	}
}
