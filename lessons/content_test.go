package lessons

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sdworkbook/workbook/labs/all"
)

// MustCatalog loads the embedded content or fails the test with every problem.
func MustCatalog(tb testing.TB) *Catalog {
	tb.Helper()
	c, err := Load(Embedded())
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestEveryTopicHasItsLessonInOrder(t *testing.T) {
	c := MustCatalog(t)
	// The module's topics, in teaching order (case studies span four lessons).
	var seen []string
	for _, l := range c.Lessons {
		if len(seen) == 0 || seen[len(seen)-1] != l.Topic {
			seen = append(seen, l.Topic)
		}
	}
	var want []string
	for _, tp := range Topics {
		want = append(want, tp.ID)
	}
	if !slices.Equal(seen, want) {
		t.Errorf("lesson topics in order:\n got %v\nwant %v", seen, want)
	}
	for _, cs := range []string{"case-url-shortener", "case-timeline", "case-rate-limiter", "case-ecommerce"} {
		if _, ok := c.Lesson(cs); !ok {
			t.Errorf("case study %s missing", cs)
		}
	}
}

func TestLessonsAreComplete(t *testing.T) {
	c := MustCatalog(t)
	for _, l := range c.Lessons {
		if len(l.Diagrams) == 0 {
			t.Errorf("%s: no diagram", l.Slug)
		}
		if len(l.Pitfalls) == 0 || len(l.Objectives) < 2 || l.Minutes <= 0 {
			t.Errorf("%s: needs pitfalls, objectives and an estimated time", l.Slug)
		}
		if len(l.Questions) == 0 {
			t.Errorf("%s: links no interview question", l.Slug)
		}
		if !slices.ContainsFunc(l.TOC, func(h Heading) bool { return strings.HasPrefix(h.Text, "Worked example") }) {
			t.Errorf("%s: no worked example section", l.Slug)
		}
		q := c.Quizzes[l.Slug]
		if q == nil || len(q.Questions) < 5 {
			t.Errorf("%s: quiz has fewer than 5 questions", l.Slug)
			continue
		}
		kinds := map[string]int{}
		for _, qq := range q.Questions {
			kinds[qq.Kind]++
			if strings.TrimSpace(string(qq.Explanation)) == "" {
				t.Errorf("%s/%s: no explanation", l.Slug, qq.ID)
			}
		}
		if kinds[KindSingle]+kinds[KindMultiple] == 0 {
			t.Errorf("%s: quiz has no choice questions", l.Slug)
		}
	}
}

func TestSpotTheBugExercises(t *testing.T) {
	c := MustCatalog(t)
	want := map[string]string{
		"bug-breaker-mutex":         "the breaker holds its mutex across the protected call",
		"bug-incr-expire":           "INCR then EXPIRE as two commands",
		"bug-stampede-global-mutex": "one global mutex for every key",
		"bug-token-bucket-seconds":  "the token bucket refills in whole seconds",
		"bug-redis-nil":             "Redis errors ignored; redis.Nil not told apart",
		"bug-breaker-half-open":     "half-open resets the failure count and admits every call",
		"bug-lua-undeclared-key":    "a Lua script builds a key it was not given in KEYS",
	}
	found := map[string]string{}
	for _, l := range c.Lessons {
		for _, b := range l.Bugs {
			found[b] = l.Slug
		}
	}
	for id, what := range want {
		if found[id] == "" {
			t.Errorf("no spot-the-bug exercise %s (%s)", id, what)
		}
	}
}

func TestQuestions(t *testing.T) {
	c := MustCatalog(t)
	if len(c.Questions) < 30 {
		t.Errorf("%d interview questions, want at least 30", len(c.Questions))
	}
	module := 0
	topics := map[string]bool{}
	for _, q := range c.Questions {
		if q.Source == "module" {
			module++
		}
		topics[q.Topic] = true
		if len(q.KeyPoints) < 3 || len(q.FollowUps) < 1 || len(q.Lessons) == 0 {
			t.Errorf("%s: needs key points, follow-ups and lessons", q.Slug)
		}
	}
	if module != 5 {
		t.Errorf("%d questions from the module, want its 5", module)
	}
	for _, tp := range Topics {
		if !topics[tp.ID] {
			t.Errorf("no interview question on %s", tp.ID)
		}
	}
	if len(c.Outcomes) < 8 {
		t.Errorf("checklist has %d outcomes, want the module's 8 at least", len(c.Outcomes))
	}
}

// TestGoSnippetsCompile builds every fenced Go block of the content, each
// on its own, and vets it. A block is a file (with "package lesson" added
// when it has none) or, marked "go fragment", statements wrapped in a func.
func TestGoSnippetsCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles every snippet")
	}
	c := MustCatalog(t)
	type snip struct {
		where string
		block CodeBlock
	}
	var all []snip
	for _, l := range c.Lessons {
		for _, b := range l.GoBlocks {
			all = append(all, snip{fmt.Sprintf("lessons/%02d-%s.md:%d", l.Order, l.Slug, b.Line), b})
		}
	}
	for _, q := range c.Questions {
		for _, b := range q.GoBlocks {
			all = append(all, snip{fmt.Sprintf("questions/%s.md:%d", q.Slug, b.Line), b})
		}
	}
	if len(all) < 20 {
		t.Fatalf("only %d Go blocks found; the extractor is broken", len(all))
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(root, "zz_snippets_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	where := map[string]string{}
	for i, s := range all {
		name := fmt.Sprintf("b%03d", i)
		where[name] = s.where
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, "main.go"), []byte(WrapSnippet(s.block)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", "vet", "./"+filepath.Base(dir)+"/...")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := string(out)
		for name, w := range where {
			msg = strings.ReplaceAll(msg, filepath.Base(dir)+"/"+name+"/main.go", w+" (block)")
		}
		t.Fatalf("Go blocks that do not compile or vet:\n%s", msg)
	}
	t.Logf("%d Go blocks compile and vet", len(all))
}

// Every lab the content names is a lab of the build's registry.
func TestContentLinksRegisteredLabs(t *testing.T) {
	c := MustCatalog(t)
	if len(c.LabRefs()) == 0 {
		t.Fatal("the content names no lab")
	}
	if bad := c.UnknownLabs(all.Registry().IDs()); len(bad) > 0 {
		t.Errorf("the content names labs no registry has: %v", bad)
	}
	if bad := c.UnknownLabs([]string{"limiter"}); len(bad) == 0 {
		t.Error("a registry of one lab resolves every link")
	}
}
