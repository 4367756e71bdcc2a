package sandbox

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// tail keeps the last max bytes written to it, counting all.
type tail struct {
	max   int
	buf   []byte
	total int64
}

func newTail(max int) *tail { return &tail{max: max} }

func (t *tail) Write(p []byte) (int, error) {
	t.total += int64(len(p))
	if len(p) >= t.max {
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return len(p), nil
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return len(p), nil
}

// String is what was kept, after a line saying how much was cut when
// something was: the kept text starts at a line's beginning.
func (t *tail) String() string {
	s := string(t.buf)
	if cut := t.total - int64(len(t.buf)); cut > 0 {
		if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
			cut += int64(i + 1)
			s = s[i+1:]
		}
		return fmt.Sprintf("[the first %s were cut; the last lines follow]\n%s", size(cut), s)
	}
	return s
}

// size is n bytes in words.
func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// containerLog returns the last LogKeep bytes of a container's output
// (stdout and stderr interleaved as Docker stored them).
func (e *Engine) containerLog(ctx context.Context, id string) string {
	r, err := e.cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "2000"})
	if err != nil {
		return "(its log could not be read: " + err.Error() + ")"
	}
	defer r.Close()
	t := newTail(LogKeep)
	if _, err := stdcopy.StdCopy(t, t, r); err != nil && err != io.EOF {
		_, _ = fmt.Fprintf(t, "\n(reading the log stopped: %v)\n", err)
	}
	return t.String()
}

// lastLines is the last n non-empty lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	var keep []string
	for i := len(lines) - 1; i >= 0 && len(keep) < n; i-- {
		if strings.TrimSpace(lines[i]) != "" {
			keep = append(keep, lines[i])
		}
	}
	for i, j := 0, len(keep)-1; i < j; i, j = i+1, j-1 {
		keep[i], keep[j] = keep[j], keep[i]
	}
	return strings.Join(keep, "\n")
}

// Logs are the job's logs, each capped to its last LogKeep bytes: "build"
// and "replica-1", "replica-2"… (each replica number's output across the
// services launched, the latest last, the running ones included).
func (j *Job) Logs() map[string]string {
	j.mu.Lock()
	live := slices.Clone(j.services)
	j.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	now := map[int][]string{}
	for _, s := range live {
		for _, r := range s.replicas {
			if r.id != "" && !s.closed.Load() {
				now[r.n] = append(now[r.n], fmt.Sprintf("──── launch %d (running) ────\n%s", s.launch, j.e.containerLog(ctx, r.id)))
			}
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	out := map[string]string{}
	if j.spec.Image.Log != "" {
		out["build"] = j.spec.Image.Log
	}
	for n := 1; n <= MaxReplicas; n++ {
		key := fmt.Sprintf("replica-%d", n)
		t := j.logs[key]
		if t == nil && len(now[n]) == 0 {
			continue
		}
		c := newTail(LogKeep)
		if t != nil {
			c.buf, c.total = slices.Clone(t.buf), t.total
		}
		for _, text := range now[n] {
			_, _ = io.WriteString(c, text)
		}
		out[key] = c.String()
	}
	return out
}

// addLog appends a replica's log of one launch.
func (j *Job) addLog(replica int, launch int, text string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	key := fmt.Sprintf("replica-%d", replica)
	t := j.logs[key]
	if t == nil {
		t = newTail(LogKeep)
		j.logs[key] = t
	}
	fmt.Fprintf(t, "──── launch %d ────\n%s", launch, text)
	if text != "" && text[len(text)-1] != '\n' {
		t.Write([]byte("\n"))
	}
}
