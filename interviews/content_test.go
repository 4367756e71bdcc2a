package interviews_test

import (
	"testing"
	"testing/fstest"

	"github.com/sdworkbook/workbook/interviews"
	"github.com/sdworkbook/workbook/lessons"
)

func lessonExists(t *testing.T) func(string) bool {
	t.Helper()
	cat, err := lessons.Load(lessons.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	return func(slug string) bool { _, ok := cat.Lesson(slug); return ok }
}

// TestEmbeddedProblems validates every problem shipped: all stages in
// order, 3 to 6 checkpoints each, and lesson links that resolve.
func TestEmbeddedProblems(t *testing.T) {
	set, err := interviews.Load(interviews.Embedded(), lessonExists(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Problems) < 12 {
		t.Fatalf("want at least 12 problems, got %d", len(set.Problems))
	}
	for _, slug := range []string{"url-shortener", "news-feed", "rate-limiter", "ecommerce", "chat", "notifications",
		"search-service", "web-crawler", "typeahead", "key-value-store", "video-streaming", "proximity-service",
		"job-scheduler", "payment-system"} {
		p, ok := set.Problem(slug)
		if !ok {
			t.Errorf("problem %s is missing", slug)
			continue
		}
		for i, st := range p.Steps {
			if st.Stage != interviews.Stages[i].ID {
				t.Errorf("%s: stage %d is %s", slug, i, st.Stage)
			}
		}
	}
}

const goodStages = `
  - {stage: requirements, prompt: p, checkpoints: [a, b, c]}
  - {stage: estimation, prompt: p, checkpoints: [a, b, c]}
  - {stage: api, prompt: p, checkpoints: [a, b, c]}
  - {stage: data-model, prompt: p, checkpoints: [a, b, c]}
  - {stage: high-level, prompt: p, checkpoints: [a, b, c]}
  - {stage: deep-dives, prompt: p, checkpoints: [a, b, c]}
  - {stage: tradeoffs, prompt: p, checkpoints: [a, b, c]}
`

// TestLoadRefusesBadProblems checks that the validation catches each kind
// of mistake an author can make.
func TestLoadRefusesBadProblems(t *testing.T) {
	exists := func(s string) bool { return s == "caching" }
	cases := map[string]string{
		"x.yaml":      "slug: y\ntitle: T\nsummary: S\nlessons: [caching]\nstages:" + goodStages,
		"lesson.yaml": "slug: lesson\ntitle: T\nsummary: S\nlessons: [nope]\nstages:" + goodStages,
		"few.yaml": "slug: few\ntitle: T\nsummary: S\nlessons: [caching]\nstages:\n" +
			"  - {stage: requirements, prompt: p, checkpoints: [a, b]}\n",
		"order.yaml": "slug: order\ntitle: T\nsummary: S\nlessons: [caching]\nstages:" +
			"\n  - {stage: estimation, prompt: p, checkpoints: [a, b, c]}" + goodStages[len("\n  - {stage: requirements, prompt: p, checkpoints: [a, b, c]}"):],
		"field.yaml": "slug: field\ntitle: T\nsummary: S\nlessons: [caching]\nextra: 1\nstages:" + goodStages,
	}
	for name, body := range cases {
		fsys := fstest.MapFS{name: {Data: []byte(body)}}
		if _, err := interviews.Load(fsys, exists); err == nil {
			t.Errorf("%s: loaded without a problem", name)
		}
	}
	ok := fstest.MapFS{"ok.yaml": {Data: []byte("slug: ok\ntitle: T\nsummary: S\nlessons: [caching]\nstages:" + goodStages)}}
	if _, err := interviews.Load(ok, exists); err != nil {
		t.Errorf("a good problem was refused: %v", err)
	}
}
