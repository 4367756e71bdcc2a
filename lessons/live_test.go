package lessons

import (
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// copyContent copies the embedded content to a directory an author edits.
func copyContent(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	err := fs.WalkDir(Embedded(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, p), 0o755)
		}
		b, err := fs.ReadFile(Embedded(), p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), b, 0o644)
	})
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

func TestDevModeReloadsOnChange(t *testing.T) {
	dir := copyContent(t)
	lib, err := OpenLibrary(true, dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	lib.every = 0
	l, _ := lib.Catalog().Lesson("cap")
	old := l.Title

	path := filepath.Join(dir, "lessons", "02-cap.md")
	b, _ := os.ReadFile(path)
	edited := strings.Replace(string(b), "title: ", "title: Edited ", 1)
	if err := os.WriteFile(path, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(2 * time.Second) // mtime granularity differs by filesystem
	_ = os.Chtimes(path, later, later)
	if l, _ := lib.Catalog().Lesson("cap"); l.Title != "Edited "+old {
		t.Errorf("after an edit the title is %q", l.Title)
	}

	// A broken edit keeps the last good content.
	if err := os.WriteFile(path, []byte("no front matter"), 0o644); err != nil {
		t.Fatal(err)
	}
	later = later.Add(2 * time.Second)
	_ = os.Chtimes(path, later, later)
	if l, ok := lib.Catalog().Lesson("cap"); !ok || l.Title != "Edited "+old {
		t.Error("a broken edit replaced the last good content")
	}

	// Without dev mode the embedded content is served.
	lib, err = OpenLibrary(false, dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := lib.Catalog().Lesson("cap"); l.Title != old {
		t.Errorf("embedded title %q", l.Title)
	}
}

func TestLoaderReportsProblems(t *testing.T) {
	dir := copyContent(t)
	// Break several rules at once: every problem is reported.
	os.Remove(filepath.Join(dir, "quizzes", "cap.yaml"))
	os.WriteFile(filepath.Join(dir, "questions", "pacelc.md"), []byte("---\nslug: pacelc\ntitle: X\ntopic: nonsense\nsource: module\ndifficulty: easy\nkey_points: [a]\nfollow_ups: []\n---\nbody\n"), 0o644)
	_, err := Load(os.DirFS(dir))
	if err == nil {
		t.Fatal("broken content loaded")
	}
	for _, want := range []string{"quizzes/cap.yaml", "questions/pacelc.md: needs a title and a known topic", "key points"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems do not mention %q:\n%v", want, err)
		}
	}
}

func TestSearchFindsLessonsAndQuestions(t *testing.T) {
	c := MustCatalog(t)
	hits := c.Search("consistent hashing", 10)
	if len(hits) == 0 {
		t.Fatal("no hits")
	}
	found := map[string]bool{}
	for _, h := range hits {
		found[h.Kind+"/"+h.Slug] = true
		if h.Snippet == "" {
			t.Errorf("%s has no snippet", h.Slug)
		}
	}
	if !found["question/consistent-hashing"] || !found["lesson/database-scaling"] {
		t.Errorf("hits %v", found)
	}
	if len(c.Search("stamp", 10)) == 0 {
		t.Error("prefix search for 'stamp' found nothing")
	}
	if len(c.Search("zzqx", 10)) != 0 || len(c.Search("  ", 10)) != 0 {
		t.Error("nonsense matched")
	}
}
