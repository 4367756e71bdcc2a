package labtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const patchBase = "one\ntwo\n\nthree\nfour\nfive\nsix\n"

func TestApplyPatch(t *testing.T) {
	for _, tc := range []struct {
		name, diff, want, err string
	}{
		{name: "two hunks, a trimmed empty context line", diff: `--- a/app.py	2026-01-01
+++ b/app.py	2026-01-01
@@ -1,3 +1,2 @@
-one
 two

@@ -5,2 +4,3 @@
 four
+four and a half
 five
`, want: "two\n\nthree\nfour\nfour and a half\nfive\nsix\n"},
		{name: "an insertion after a line", diff: "--- app.py\n+++ app.py\n@@ -7,0 +8 @@\n+seven\n", want: patchBase + "seven\n"},
		{name: "context that differs", diff: "--- a/app.py\n+++ b/app.py\n@@ -1,2 +1,2 @@\n one\n-TWO\n+2\n", err: `line 2 is not "TWO"`},
		{name: "a hunk shorter than its header", diff: "--- a/app.py\n+++ b/app.py\n@@ -1,3 +1,3 @@\n one\n-two\n+2\n", err: "ends inside a hunk"},
		{name: "a file that is not there", diff: "--- a/main.go\n+++ b/main.go\n@@ -1 +1 @@\n-one\n+1\n", err: "main.go"},
		{name: "no file", diff: "nothing here\n", err: "changes no file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "app.py")
			if err := os.WriteFile(p, []byte(patchBase), 0o644); err != nil {
				t.Fatal(err)
			}
			err := ApplyPatch(dir, tc.diff)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(p)
			if string(b) != tc.want {
				t.Errorf("got %q, want %q", b, tc.want)
			}
		})
	}
}
