package sandbox_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/internal/containers"
	"github.com/sdworkbook/workbook/internal/sandbox"
	"github.com/sdworkbook/workbook/labs/labtest"
)

// A grader killed in the middle of a job leaves its containers, network
// and image behind; the next grader of the same owner removes all of them
// (containers.RemoveLeftovers), and nothing of anyone else's. The killed
// grader is this test binary run again, which builds, starts a job,
// launches a service and exits without closing anything.
func TestLeftoversOfAKilledGraderAreRemoved(t *testing.T) {
	t.Parallel()       // each mostly waits on containers
	labtest.Sandbox(t) // skips without Docker
	owner, job := "crash-"+labtest.JobID(t), labtest.JobID(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledGrader$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SANDBOX_KILLED_OWNER="+owner, "SANDBOX_KILLED_JOB="+job)
	out, err := cmd.CombinedOutput()
	if !strings.Contains(string(out), "launched; exiting") {
		t.Fatalf("the grader to kill did not launch: %v\n%s", err, out)
	}
	if labelled(t, job) == "" {
		t.Fatal("the killed grader left nothing to remove")
	}
	left, err := containers.RemoveLeftovers(context.Background(), owner, time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, l := range left {
		if l.Job != job || l.Owner != owner || !strings.Contains(l.Why, "is gone") {
			t.Errorf("removed %+v", l)
		}
		kinds[l.Kind]++
	}
	t.Logf("removed %v", kinds)
	if kinds["container"] < 4 || kinds["network"] != 1 || kinds["image"] < 1 {
		t.Errorf("removed %v, want the replica, relay, Redis and PostgreSQL containers, the network and the image", kinds)
	}
	assertNothingLeft(t, job)
}

// TestKilledGrader is the grader TestLeftoversOfAKilledGraderAreRemoved
// kills: it runs only as that test's child.
func TestKilledGrader(t *testing.T) {
	owner, job := os.Getenv("SANDBOX_KILLED_OWNER"), os.Getenv("SANDBOX_KILLED_JOB")
	if owner == "" {
		t.Skip("run by TestLeftoversOfAKilledGraderAreRemoved")
	}
	e := sandboxWith(t, sandbox.Options{Owner: owner})
	ctx := context.Background()
	img := build(t, e, job, "testdata/probe", sandbox.LangPython)
	j, err := e.StartJob(ctx, sandbox.JobSpec{ID: job, Image: img, Redis: true, Postgres: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Launch(ctx, 1); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("launched; exiting\n")
	os.Exit(0)
}
