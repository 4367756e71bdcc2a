package lessons

import (
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
)

type questionMeta struct {
	Slug       string   `yaml:"slug"`
	Title      string   `yaml:"title"`
	Topic      string   `yaml:"topic"`
	Source     string   `yaml:"source"`
	Difficulty string   `yaml:"difficulty"`
	Lessons    []string `yaml:"lessons"`
	KeyPoints  []string `yaml:"key_points"`
	FollowUps  []string `yaml:"follow_ups"`
}

// loadQuestions reads the interview questions, slug.md each.
func (c *Catalog) loadQuestions(fsys fs.FS, p *problems) {
	qfiles, _ := fs.Glob(fsys, "questions/*.md")
	sort.Strings(qfiles)
	for _, f := range qfiles {
		var meta questionMeta
		body, ok := p.readDoc(fsys, f, &meta)
		if !ok {
			continue
		}
		if meta.Slug+".md" != path.Base(f) {
			p.add(f, "slug %q does not match the file name", meta.Slug)
		}
		meta.check(p, f)
		r, err := render(body)
		if err != nil {
			p.add(f, "markdown: %v", err)
			continue
		}
		q := &Question{Slug: meta.Slug, Title: meta.Title, Topic: meta.Topic, Source: meta.Source,
			Difficulty: meta.Difficulty, Lessons: meta.Lessons, AnswerHTML: r.HTML, GoBlocks: r.GoBlocks,
			text: meta.Title + " " + strings.Join(meta.KeyPoints, " ") + " " + r.Text}
		for _, k := range meta.KeyPoints {
			h, _ := renderInline(k)
			q.KeyPoints = append(q.KeyPoints, h)
		}
		for _, k := range meta.FollowUps {
			h, _ := renderInline(k)
			q.FollowUps = append(q.FollowUps, h)
		}
		c.Questions = append(c.Questions, q)
		c.questionBySlug[q.Slug] = q
	}
}

// check records what a question's front matter lacks.
func (meta questionMeta) check(p *problems, f string) {
	if meta.Title == "" || !knownTopic(meta.Topic) {
		p.add(f, "needs a title and a known topic (got %q)", meta.Topic)
	}
	if meta.Source != "module" && meta.Source != "workbook" {
		p.add(f, "source must be module or workbook")
	}
	if !slices.Contains([]string{"easy", "medium", "hard"}, meta.Difficulty) {
		p.add(f, "difficulty must be easy, medium or hard")
	}
	if len(meta.KeyPoints) < 3 || len(meta.FollowUps) < 1 {
		p.add(f, "needs at least 3 key points and 1 follow-up")
	}
}
