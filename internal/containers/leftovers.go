package containers

import (
	"context"
	"errors"
	"os"
	"strconv"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// Labels on every container a grading job starts.
const (
	// LabelRole is RoleGrading on a grading container.
	LabelRole = "org.sdworkbook.role"
	// LabelOwner names the grader that started it: the same for a grader
	// that starts again on the same host over the same database.
	LabelOwner = "org.sdworkbook.owner"
	// LabelPID is the process id of that grader.
	LabelPID = "org.sdworkbook.pid"
	// LabelJob is the submission being graded.
	LabelJob = "org.sdworkbook.job"
	// LabelStarted is when the container was started (RFC 3339).
	LabelStarted = "org.sdworkbook.started"
	// LabelDeadline is when its job ends at the latest (RFC 3339): the
	// grader's job timeout after the job started.
	LabelDeadline = "org.sdworkbook.deadline"

	RoleGrading = "grading"
)

// GradingLabels are the labels of a container that grader owner starts for
// job, which ends by deadline (zero: unknown).
func GradingLabels(owner, job string, started, deadline time.Time) map[string]string {
	l := map[string]string{
		LabelRole:    RoleGrading,
		LabelOwner:   owner,
		LabelPID:     strconv.Itoa(os.Getpid()),
		LabelJob:     job,
		LabelStarted: started.UTC().Format(time.RFC3339Nano),
	}
	if !deadline.IsZero() {
		l[LabelDeadline] = deadline.UTC().Format(time.RFC3339Nano)
	}
	return l
}

// processStart is when this process began: a container started after it
// was started by this process.
var processStart = time.Now()

// Leftover is a grading container, network or image RemoveLeftovers
// removed.
type Leftover struct {
	// Kind is "container", "network" or "image".
	Kind                string
	ID, Owner, Job, Why string
}

// RemoveLeftovers removes the grading containers, networks and images
// (a build's, in the sandbox) that no running job uses:
//   - owner's own, left by an earlier grader of that owner that was killed
//     (its process is gone, or had this process's id but ran before it, as
//     in a container that restarted), and
//   - anyone's whose job deadline passed more than margin ago: every job
//     has ended by then, and its grader would have removed them.
//
// It never touches an object without the grading label, nor one of a
// grader that may still be running it, so it is safe while jobs run.
func RemoveLeftovers(ctx context.Context, owner string, margin time.Duration, now time.Time) ([]Leftover, error) {
	PrepareReaper(ctx)
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	grading := client.Filters{}.Add("label", LabelRole+"="+RoleGrading)
	var out []Leftover
	var errs []error
	found := func(kind, id string, labels map[string]string, remove func() error) {
		why := leftover(labels, owner, margin, now, processAlive)
		if why == "" {
			return
		}
		if err := remove(); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, err)
			return
		}
		out = append(out, Leftover{Kind: kind, ID: id, Owner: labels[LabelOwner], Job: labels[LabelJob], Why: why})
	}
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: grading})
	if err != nil {
		return nil, err
	}
	for _, c := range cs.Items {
		found("container", c.ID, c.Labels, func() error {
			_, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
			return err
		})
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: grading})
	errs = append(errs, err)
	for _, n := range ns.Items {
		found("network", n.ID, n.Labels, func() error {
			_, err := cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{})
			return err
		})
	}
	imgs, err := removeLeftoverImages(ctx, cli, grading, func(labels map[string]string) string {
		return leftover(labels, owner, margin, now, processAlive)
	})
	return append(out, imgs...), errors.Join(append(errs, err)...)
}

// removeLeftoverImages removes the images why finds left over, children
// before their parents: a build's steps are images too, and a parent with
// a child cannot go first, so it takes a few passes.
func removeLeftoverImages(ctx context.Context, cli *testcontainers.DockerClient, grading client.Filters, why func(map[string]string) string) ([]Leftover, error) {
	var out []Leftover
	var last error
	for range 8 {
		is, err := cli.ImageList(ctx, client.ImageListOptions{All: true, Filters: grading})
		if err != nil {
			return out, err
		}
		last = nil
		progress := false
		for _, im := range is.Items {
			w := why(im.Labels)
			if w == "" {
				continue
			}
			if _, err := cli.ImageRemove(ctx, im.ID, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
				last = err
				continue
			}
			progress = true
			out = append(out, Leftover{Kind: "image", ID: im.ID, Owner: im.Labels[LabelOwner], Job: im.Labels[LabelJob], Why: w})
		}
		if !progress {
			break
		}
	}
	return out, last
}

// leftover says why a container with labels is left over, or "" when it
// may still be in use. alive reports whether a process id runs.
func leftover(labels map[string]string, owner string, margin time.Duration, now time.Time, alive func(int) bool) string {
	if labels[LabelRole] != RoleGrading {
		return ""
	}
	if owner != "" && labels[LabelOwner] == owner {
		pid, err := strconv.Atoi(labels[LabelPID])
		switch {
		case err != nil:
		case pid == os.Getpid():
			if t, err := time.Parse(time.RFC3339Nano, labels[LabelStarted]); err == nil && t.Before(processStart) {
				return "started by this grader before it restarted"
			}
		case !alive(pid):
			return "its grader (process " + labels[LabelPID] + ") is gone"
		}
	}
	if d, err := time.Parse(time.RFC3339, labels[LabelDeadline]); err == nil && now.After(d.Add(margin)) {
		return "its job's deadline passed at " + labels[LabelDeadline]
	}
	return ""
}

// CheckNetwork returns nil when the Docker network name exists.
func CheckNetwork(ctx context.Context, name string) error {
	PrepareReaper(ctx)
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	_, err = cli.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	return err
}
