package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readmeBlocks returns the shell blocks of the README marked as tested
// (an HTML comment beginning "<!-- tested:" on the line before the fence),
// in order.
func readmeBlocks(t *testing.T, readme string) []string {
	t.Helper()
	var blocks []string
	lines := strings.Split(readme, "\n")
	for i := 0; i+1 < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "<!-- tested:") || strings.TrimSpace(lines[i+1]) != "```sh" {
			continue
		}
		var b strings.Builder
		for i += 2; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			b.WriteString(lines[i] + "\n")
		}
		blocks = append(blocks, b.String())
	}
	return blocks
}

// The README's API examples run as written: its blocks marked as tested
// are run by bash (errors stop it; curl -f fails on an HTTP error) against
// a fresh server in an empty directory, its address put in place of
// localhost:8080.
func TestReadmeShellBlocks(t *testing.T) {
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to run the README's commands (scripts/test.sh installs it)", tool)
		}
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(t, string(raw))
	if len(blocks) < 2 {
		t.Fatalf("found %d blocks marked as tested in the README, want the labs' and the submissions' at least", len(blocks))
	}
	base, _, logs, _ := liveServer(t, t.TempDir())
	script := "set -euo pipefail\n" + strings.ReplaceAll(strings.Join(blocks, ""), "localhost:8080", strings.TrimPrefix(base, "http://"))
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's commands failed: %v\n%s\n--- script ---\n%s\n--- server log ---\n%s", err, out, script, logs.String())
	}
	for _, want := range []string{`"algorithm":"fixed_window"`, "HTTP/1.1 200", `"exercise":"limiter-api-quota"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the README's commands printed no %s:\n%s", want, out)
		}
	}
}

// The extraction itself: a marked block is found, an unmarked one is not.
func TestReadmeBlocksAreFound(t *testing.T) {
	doc := "text\n<!-- tested: yes -->\n```sh\necho one\necho two\n```\n\n```sh\necho three\n```\n<!-- tested: again -->\n```sh\necho four\n```\n"
	got := readmeBlocks(t, doc)
	if len(got) != 2 || got[0] != "echo one\necho two\n" || got[1] != "echo four\n" {
		t.Errorf("blocks %q", got)
	}
}
