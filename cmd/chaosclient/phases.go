package main

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// stack runs docker-compose and docker commands against the stack.
type stack struct {
	compose []string // the compose command and its arguments, e.g. docker-compose -p NAME
	docker  string
	outage  time.Duration
	log     func(format string, args ...any)
	// instance is the learner's lab instance (nil or "" when none): the
	// replica killed is the one holding it, the harder case for the lab.
	instance func() string
}

func (s *stack) run(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return strings.TrimSpace(string(out)), nil
}

func (s *stack) dc(ctx context.Context, args ...string) (string, error) {
	return s.run(ctx, s.compose[0], append(append([]string{}, s.compose[1:]...), args...)...)
}

// until polls f every 100 ms until it succeeds or limit passes.
func until(ctx context.Context, limit time.Duration, f func() bool) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if f() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// stopDependency stops a service for the outage, starts it again and
// returns when it answers again (probe succeeds).
func (s *stack) stopDependency(ctx context.Context, service string, probe ...string) (time.Time, error) {
	if _, err := s.dc(ctx, "stop", "-t", "2", service); err != nil {
		return time.Time{}, err
	}
	s.log("%s stopped for %s", service, s.outage)
	time.Sleep(s.outage)
	if _, err := s.dc(ctx, "start", service); err != nil {
		return time.Time{}, err
	}
	if !until(ctx, time.Minute, func() bool {
		_, err := s.dc(ctx, append([]string{"exec", "-T", service}, probe...)...)
		return err == nil
	}) {
		return time.Time{}, fmt.Errorf("%s did not answer within a minute of starting", service)
	}
	back := time.Now()
	s.log("%s answers again", service)
	return back, nil
}

func (s *stack) redisOutage(ctx context.Context) (time.Time, error) {
	return s.stopDependency(ctx, "redis", "redis-cli", "ping")
}

func (s *stack) postgresOutage(ctx context.Context) (time.Time, error) {
	return s.stopDependency(ctx, "postgres", "pg_isready", "-U", "workbook", "-h", "127.0.0.1")
}

// killReplica kills one app replica (SIGKILL, no goodbye), starts it
// again after a moment and returns once Docker reports it healthy.
func (s *stack) killReplica(ctx context.Context) (time.Time, error) {
	ids, err := s.dc(ctx, "ps", "-q", "app")
	if err != nil || ids == "" {
		return time.Time{}, fmt.Errorf("no app replica: %v", err)
	}
	id, why := s.pickReplica(ctx, strings.Fields(ids))
	if _, err := s.run(ctx, s.docker, "kill", id); err != nil {
		return time.Time{}, err
	}
	killed := time.Now()
	s.log("replica %.12s killed%s", id, why)
	time.Sleep(3 * time.Second)
	if _, err := s.run(ctx, s.docker, "start", id); err != nil {
		return time.Time{}, err
	}
	if !until(ctx, 90*time.Second, func() bool {
		st, err := s.run(ctx, s.docker, "inspect", "-f", "{{.State.Health.Status}}", id)
		return err == nil && st == "healthy"
	}) {
		return time.Time{}, fmt.Errorf("replica %.12s was not healthy again within 90 s", id)
	}
	s.log("replica %.12s healthy again", id)
	return killed, nil // recovery counts from the kill: the other replica serves at once
}

// pickReplica is the replica holding the learner's lab instance, read
// from the directory in PostgreSQL (its address names the container's
// host name, the container's short id); the first replica otherwise.
func (s *stack) pickReplica(ctx context.Context, ids []string) (string, string) {
	if s.instance == nil || s.instance() == "" {
		return ids[0], ""
	}
	q := "SELECT holder_url FROM lab_instances WHERE id = '" + strings.ReplaceAll(s.instance(), "'", "") + "'"
	out, err := s.dc(ctx, "exec", "-T", "postgres", "psql", "-U", "workbook", "-d", "workbook", "-tAc", q)
	if err != nil {
		s.log("reading the lab instance's holder: %v", err)
		return ids[0], ""
	}
	host := strings.TrimPrefix(strings.TrimSpace(out), "http://")
	host, _, _ = strings.Cut(host, ":")
	for _, id := range ids {
		if host != "" && strings.HasPrefix(id, host) {
			return id, " (it holds the lab instance)"
		}
	}
	return ids[0], " (the lab instance's holder " + host + " is not among the replicas)"
}

// reloadBalancer has nginx load its configuration again.
func (s *stack) reloadBalancer(ctx context.Context) (time.Time, error) {
	if _, err := s.dc(ctx, "exec", "-T", "nginx", "nginx", "-s", "reload"); err != nil {
		return time.Time{}, err
	}
	s.log("nginx reloaded")
	return time.Now(), nil
}

// killGrader submits a design, kills the grader service while it grades
// it, starts the grader again and waits for the verdict.
func (s *stack) killGrader(ctx context.Context, l *learner, verdicts map[string]string) (time.Time, error) {
	id, err := l.submit(ctx)
	if err != nil {
		return time.Time{}, err
	}
	if !until(ctx, 2*time.Minute, func() bool {
		sub, err := l.submission(ctx, id)
		return err == nil && sub.Status == "running"
	}) {
		return time.Time{}, fmt.Errorf("submission %s never started grading", id)
	}
	gid, err := s.dc(ctx, "ps", "-q", "grader")
	if err != nil || gid == "" {
		return time.Time{}, fmt.Errorf("no grader: %v", err)
	}
	if _, err := s.run(ctx, s.docker, "kill", strings.Fields(gid)[0]); err != nil {
		return time.Time{}, err
	}
	s.log("grader killed while grading %s", id)
	time.Sleep(2 * time.Second)
	if _, err := s.run(ctx, s.docker, "start", strings.Fields(gid)[0]); err != nil {
		return time.Time{}, err
	}
	back := time.Now()
	verdicts[id] = s.awaitVerdict(ctx, l, id)
	return back, nil
}

// awaitVerdict waits for the submission's final state and says whether it
// was graded exactly once: a terminal status, and the check rows of one
// grading run only (a run cut short leaves none behind).
func (s *stack) awaitVerdict(ctx context.Context, l *learner, id string) string {
	var sub submission
	if !until(ctx, 4*time.Minute, func() bool {
		var err error
		sub, err = l.submission(ctx, id)
		return err == nil && sub.Status != "queued" && sub.Status != "running"
	}) {
		return fmt.Sprintf("%s: still %q after 4 minutes", id, sub.Status)
	}
	q := fmt.Sprintf(`SELECT s.status, s.run, (SELECT count(DISTINCT run) FROM submission_checks c WHERE c.submission_id = s.id),
		(SELECT count(*) FROM submission_checks c WHERE c.submission_id = s.id), coalesce(j.state::text, '-'), coalesce(j.attempt, 0)
		FROM submissions s LEFT JOIN river_job j ON j.id = s.job_id WHERE s.id = '%s'`, id)
	row, err := s.dc(ctx, "exec", "-T", "postgres", "psql", "-U", "workbook", "-d", "workbook", "-tA", "-F", " ", "-c", q)
	if err != nil {
		return fmt.Sprintf("%s: %s, but the database could not be read: %v", id, sub.Status, err)
	}
	var status, jobState string
	var run, runs, rows, attempt int
	if _, err := fmt.Sscan(row, &status, &run, &runs, &rows, &jobState, &attempt); err != nil {
		return fmt.Sprintf("%s: %s, database row %q", id, sub.Status, row)
	}
	once := status == "graded" && runs == 1 && rows == len(sub.Checks) && len(sub.Checks) > 0
	score := -1
	if sub.Score != nil {
		score = *sub.Score
	}
	return fmt.Sprintf("%s: %s, score %d, %d checks from %d grading run(s) (run %d kept), queue job %s after %d attempt(s): graded exactly once: %v",
		id, status, score, rows, runs, run, jobState, attempt, once)
}
