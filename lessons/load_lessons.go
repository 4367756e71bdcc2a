package lessons

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

type lessonMeta struct {
	Slug       string   `yaml:"slug"`
	Title      string   `yaml:"title"`
	Topic      string   `yaml:"topic"`
	Minutes    int      `yaml:"minutes"`
	Summary    string   `yaml:"summary"`
	Objectives []string `yaml:"objectives"`
	Pitfalls   []string `yaml:"pitfalls"`
	Labs       []string `yaml:"labs"`
	Questions  []string `yaml:"questions"`
	Cards      []struct {
		Front string `yaml:"front"`
		Back  string `yaml:"back"`
	} `yaml:"cards"`
}

// loadLessons reads the lessons, numbered NN-slug.md, in order.
func (c *Catalog) loadLessons(fsys fs.FS, p *problems) {
	files, _ := fs.Glob(fsys, "lessons/*.md")
	sort.Strings(files)
	for _, f := range files {
		m := lessonFile.FindStringSubmatch(path.Base(f))
		if m == nil {
			p.add(f, "lesson files are named NN-slug.md")
			continue
		}
		var meta lessonMeta
		body, ok := p.readDoc(fsys, f, &meta)
		if !ok {
			continue
		}
		order, _ := strconv.Atoi(m[1])
		if meta.Slug != m[2] {
			p.add(f, "slug %q does not match the file name", meta.Slug)
		}
		if !slugRE.MatchString(meta.Slug) {
			p.add(f, "slug %q is not lowercase-with-hyphens", meta.Slug)
		}
		if order != len(c.Lessons)+1 {
			p.add(f, "lesson number %d out of sequence (expected %02d)", order, len(c.Lessons)+1)
		}
		meta.check(p, f)
		if asciiArtBox.Match(body) {
			p.add(f, "uses box-drawing characters: draw diagrams as SVG files instead")
		}
		l, ok := c.lesson(p, f, meta, order, body)
		if !ok {
			continue
		}
		if c.lessonBySlug[l.Slug] != nil {
			p.add(f, "duplicate lesson slug %q", l.Slug)
		}
		c.Lessons = append(c.Lessons, l)
		c.lessonBySlug[l.Slug] = l
	}
}

// check records what a lesson's front matter lacks.
func (meta lessonMeta) check(p *problems, f string) {
	if meta.Title == "" || meta.Summary == "" || meta.Minutes <= 0 {
		p.add(f, "title, summary and minutes are required")
	}
	if !knownTopic(meta.Topic) {
		p.add(f, "unknown topic %q", meta.Topic)
	}
	if len(meta.Objectives) < 2 {
		p.add(f, "needs at least 2 objectives")
	}
	if len(meta.Pitfalls) < 1 {
		p.add(f, "needs a pitfalls box (pitfalls: …)")
	}
	if len(meta.Questions) < 1 {
		p.add(f, "must link at least one interview question")
	}
	if len(meta.Cards) < 3 {
		p.add(f, "needs at least 3 flashcards")
	}
	for _, lab := range meta.Labs {
		if !labID.MatchString(lab) {
			p.add(f, "lab %q is not a lab id", lab)
		}
	}
}

// lesson renders a lesson's body and the parts of its front matter that
// are Markdown: pitfalls, spot-the-bug boxes, diagrams and cards.
func (c *Catalog) lesson(p *problems, f string, meta lessonMeta, order int, body []byte) (*Lesson, bool) {
	r, err := render(body)
	if err != nil {
		p.add(f, "markdown: %v", err)
		return nil, false
	}
	l := &Lesson{
		Slug: meta.Slug, Title: meta.Title, Topic: meta.Topic, Order: order, Minutes: meta.Minutes,
		Summary: meta.Summary, Objectives: meta.Objectives, Labs: meta.Labs, Questions: meta.Questions,
		HTML: r.HTML, TOC: r.TOC, GoBlocks: r.GoBlocks,
		text: strings.Join([]string{meta.Title, meta.Summary, strings.Join(meta.Objectives, " "), r.Text}, " "),
	}
	for _, pf := range meta.Pitfalls {
		h, err := renderInline(pf)
		if err != nil {
			p.add(f, "pitfall: %v", err)
		}
		l.Pitfalls = append(l.Pitfalls, h)
	}
	for _, bm := range bugIDRE.FindAllSubmatch(body, -1) {
		l.Bugs = append(l.Bugs, string(bm[1]))
	}
	for _, img := range r.Images {
		name, ok := strings.CutPrefix(img, "diagrams/")
		if !ok || c.Diagrams[name] == nil {
			p.add(f, "image %q is not a file in diagrams/", img)
			continue
		}
		l.Diagrams = append(l.Diagrams, name)
	}
	if len(l.Diagrams) == 0 {
		p.add(f, "needs at least one diagram")
	}
	for i, card := range meta.Cards {
		back, err := renderInline(card.Back)
		if err != nil || card.Front == "" || card.Back == "" {
			p.add(f, "card %d needs a front and a back", i+1)
			continue
		}
		l.Cards = append(l.Cards, Card{ID: fmt.Sprintf("lesson/%s/%d", l.Slug, i+1), Front: card.Front, Back: back, Source: l.Slug, Kind: "lesson"})
	}
	return l, true
}
