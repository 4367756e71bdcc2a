package views

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/sdworkbook/workbook/internal/archive"
	"github.com/sdworkbook/workbook/labs"
)

// maxLogLines is how many lines of one log a page shows.
const maxLogLines = 400

// envRow is one variable a build exercise's service is given.
type envRow struct{ Name, Meaning string }

// buildEnv lists what the service is given, in the order the contract
// states it.
func buildEnv(b *labs.Build) []envRow {
	rows := []envRow{
		{"PORT", "the port to listen on, on 0.0.0.0"},
		{"REPLICA_ID", fmt.Sprintf("which replica this is, 1 to %d", max(b.Replicas, 1))},
	}
	if b.Redis {
		rows = append(rows, envRow{"REDIS_URL", "redis://[:password@]host:port/db"})
	}
	if b.Postgres {
		rows = append(rows, envRow{"DATABASE_URL", "a PostgreSQL URL (postgres://user:password@host:5432/db?sslmode=disable)"})
	}
	if b.Downstream {
		rows = append(rows, envRow{"DOWNSTREAM_URL", "the dependency your service calls"})
	}
	names := make([]string, 0, len(b.Env))
	for k := range b.Env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		rows = append(rows, envRow{k, b.Env[k]})
	}
	return rows
}

// languageOptions are the upload form's choices: value and label.
func languageOptions() [][2]string {
	return [][2]string{
		{"", "Tell from the archive"},
		{archive.LangGo, "Go (the workbook's Dockerfile)"},
		{archive.LangPython, "Python (the workbook's Dockerfile)"},
		{archive.LangDockerfile, "My own Dockerfile"},
	}
}

// logBox is one log as the page shows it.
type logBox struct {
	ID, Title string
	Lines     []string // newest first
	Total     int      // lines in the whole log
	Hidden    int      // older lines not shown
}

// buildLogs are a build submission's logs: the image build, then each
// replica in order.
func buildLogs(build string, replicas map[string]string) []logBox {
	out := []logBox{newLogBox("build", "Image build", build)}
	names := make([]string, 0, len(replicas))
	for k := range replicas {
		names = append(names, k)
	}
	// replica-2 before replica-10
	sort.Slice(names, func(i, j int) bool {
		if len(names[i]) != len(names[j]) {
			return len(names[i]) < len(names[j])
		}
		return names[i] < names[j]
	})
	for _, n := range names {
		title := n
		if rest, ok := strings.CutPrefix(n, "replica-"); ok {
			title = "Replica " + rest
		}
		out = append(out, newLogBox(n, title, replicas[n]))
	}
	return out
}

func newLogBox(id, title, text string) logBox {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if text == "" {
		lines = nil
	}
	b := logBox{ID: id, Title: title, Total: len(lines)}
	shown := lines[max(0, len(lines)-maxLogLines):]
	b.Hidden = len(lines) - len(shown)
	b.Lines = make([]string, len(shown))
	for i, l := range shown {
		b.Lines[len(shown)-1-i] = l
	}
	return b
}

func (b logBox) count() string {
	switch b.Total {
	case 0:
		return "empty"
	case 1:
		return "1 line"
	}
	return strconv.Itoa(b.Total) + " lines"
}

// sizeText is a size in bytes in words.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
