package labtest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Variant writes the sources in ref, changed by the unified diff in the
// file patch, to a directory of the test's own and returns it. A flawed
// variant of a reference is kept as such a diff, so that it says only what
// it changes. The diff must apply exactly: every context and removed line
// where its hunk says, or the test fails.
func Variant(tb testing.TB, ref, patch string) string {
	tb.Helper()
	text, err := os.ReadFile(patch)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	if err := os.CopyFS(dir, os.DirFS(ref)); err != nil {
		tb.Fatal(err)
	}
	if err := ApplyPatch(dir, string(text)); err != nil {
		tb.Fatalf("%s does not apply to %s: %v", patch, ref, err)
	}
	return dir
}

// filePatch is the part of a unified diff that changes one file.
type filePatch struct {
	name  string
	hunks []hunk
}

// hunk is one "@@ -old +new @@" block: the first line it replaces
// (1-based), and its lines with their ' ', '-' or '+' prefix.
type hunk struct {
	oldStart, oldLines, newLines int
	lines                        []string
}

var hunkHeader = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+\d+(?:,(\d+))? @@`)

// ApplyPatch applies a unified diff (as diff -u or git diff write it, one
// or more files, paths below dir, an "a/" or "b/" prefix dropped) to the
// files in dir. It changes existing files only, and refuses a hunk whose
// context or removed lines differ from the file.
func ApplyPatch(dir, diff string) error {
	files, err := parsePatch(diff)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("the patch changes no file")
	}
	for _, fp := range files {
		if err := applyFile(dir, fp); err != nil {
			return fmt.Errorf("%s: %w", fp.name, err)
		}
	}
	return nil
}

// parsePatch splits a unified diff into its files and hunks. A hunk's
// lines are as many as its header counts; what follows is the next file's
// header or the next hunk.
func parsePatch(diff string) ([]filePatch, error) {
	var files []filePatch
	var cur *hunk
	oldLeft, newLeft := 0, 0
	for i, line := range strings.Split(strings.TrimSuffix(diff, "\n"), "\n") {
		if cur != nil && (oldLeft > 0 || newLeft > 0) {
			if line == "" {
				line = " " // an empty context line whose blank was trimmed
			}
			switch line[0] {
			case ' ':
				oldLeft--
				newLeft--
			case '-':
				oldLeft--
			case '+':
				newLeft--
			default:
				return nil, fmt.Errorf("line %d: %q inside a hunk", i+1, line)
			}
			if oldLeft < 0 || newLeft < 0 {
				return nil, fmt.Errorf("line %d: more lines than the hunk header says", i+1)
			}
			cur.lines = append(cur.lines, line)
			continue
		}
		switch {
		case strings.HasPrefix(line, `\`):
			return nil, fmt.Errorf("line %d: files without a final newline are not supported", i+1)
		case strings.HasPrefix(line, "+++ "):
			name := strings.Fields(strings.TrimPrefix(line, "+++ "))[0]
			name = strings.TrimPrefix(strings.TrimPrefix(name, "b/"), "a/")
			files = append(files, filePatch{name: filepath.FromSlash(name)})
			cur = nil
		case strings.HasPrefix(line, "@@"):
			if len(files) == 0 {
				return nil, fmt.Errorf("line %d: a hunk before any file", i+1)
			}
			h, err := parseHunkHeader(line)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			fp := &files[len(files)-1]
			fp.hunks = append(fp.hunks, h)
			cur = &fp.hunks[len(fp.hunks)-1]
			oldLeft, newLeft = h.oldLines, h.newLines
		}
	}
	if oldLeft > 0 || newLeft > 0 {
		return nil, fmt.Errorf("the patch ends inside a hunk")
	}
	return files, nil
}

func parseHunkHeader(line string) (hunk, error) {
	m := hunkHeader.FindStringSubmatch(line)
	if m == nil {
		return hunk{}, fmt.Errorf("bad hunk header %q", line)
	}
	count := func(s string) int {
		if s == "" {
			return 1
		}
		n, _ := strconv.Atoi(s)
		return n
	}
	start, _ := strconv.Atoi(m[1])
	return hunk{oldStart: start, oldLines: count(m[2]), newLines: count(m[3])}, nil
}

// applyFile applies fp's hunks, in order, to its file in dir.
func applyFile(dir string, fp filePatch) error {
	path := filepath.Join(dir, fp.name)
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	old := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	var out []string
	next := 0 // the first line of old not yet copied (0-based)
	for _, h := range fp.hunks {
		at := h.oldStart - 1
		if h.oldLines == 0 {
			at = h.oldStart // an insertion: after line oldStart
		}
		if at < next || at > len(old) {
			return fmt.Errorf("hunk at line %d is out of order or past the end", h.oldStart)
		}
		out = append(out, old[next:at]...)
		next = at
		var removed, added int
		for _, l := range h.lines {
			op, text := l[0], l[1:]
			if op != '+' {
				if next >= len(old) || old[next] != text {
					return fmt.Errorf("line %d is not %q", next+1, text)
				}
				next++
				removed++
			}
			if op != '-' {
				out = append(out, text)
				added++
			}
		}
		if removed != h.oldLines || added != h.newLines {
			return fmt.Errorf("hunk at line %d has %d old and %d new lines, its header says %d and %d",
				h.oldStart, removed, added, h.oldLines, h.newLines)
		}
	}
	out = append(out, old[next:]...)
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(strings.Join(out, "\n")+"\n"), fi.Mode().Perm())
}
