package containers

import (
	"context"
	"os"
	"strconv"
	"time"

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

// Leftover is a grading container RemoveLeftovers removed.
type Leftover struct {
	ID, Owner, Job, Why string
}

// RemoveLeftovers removes the grading containers that no running job uses:
//   - owner's own, left by an earlier grader of that owner that was killed
//     (its process is gone, or had this process's id but ran before it, as
//     in a container that restarted), and
//   - anyone's whose job deadline passed more than margin ago: every job
//     has ended by then, and its grader would have removed them.
//
// It never touches a container without the grading label, nor one of a
// grader that may still be running it, so it is safe while jobs run.
func RemoveLeftovers(ctx context.Context, owner string, margin time.Duration, now time.Time) ([]Leftover, error) {
	PrepareReaper(ctx)
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	res, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: client.Filters{}.Add("label", LabelRole+"="+RoleGrading)})
	if err != nil {
		return nil, err
	}
	var out []Leftover
	var errs []error
	for _, c := range res.Items {
		why := leftover(c.Labels, owner, margin, now, processAlive)
		if why == "" {
			continue
		}
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, Leftover{ID: c.ID, Owner: c.Labels[LabelOwner], Job: c.Labels[LabelJob], Why: why})
	}
	if len(errs) > 0 {
		return out, errs[0]
	}
	return out, nil
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
