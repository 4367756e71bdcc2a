package lessons

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// problems collects every content error so an author sees them all at once.
type problems []string

func (p *problems) add(file, format string, args ...any) {
	*p = append(*p, file+": "+fmt.Sprintf(format, args...))
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return errors.New("content has problems:\n  " + strings.Join(p, "\n  "))
}

var (
	slugRE      = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	lessonFile  = regexp.MustCompile(`^(\d\d)-([a-z0-9-]+)\.md$`)
	bugIDRE     = regexp.MustCompile(`<div class="spot-the-bug" id="(bug-[a-z0-9-]+)">`)
	asciiArtBox = regexp.MustCompile(`[┌┐└┘│─├┤▼►]`)
)

// splitFrontMatter separates YAML front matter from a Markdown body.
func splitFrontMatter(b []byte) (meta, body []byte, ok bool) {
	b = bytes.TrimPrefix(b, []byte("\ufeff"))
	if !bytes.HasPrefix(b, []byte("---\n")) {
		return nil, b, false
	}
	rest := b[4:]
	i := bytes.Index(rest, []byte("\n---\n"))
	if i < 0 {
		return nil, b, false
	}
	return rest[:i+1], rest[i+5:], true
}

// readDoc reads a Markdown file's front matter into meta and returns its
// body; problems are recorded and reported as not ok.
func (p *problems) readDoc(fsys fs.FS, f string, meta any) ([]byte, bool) {
	raw, err := fs.ReadFile(fsys, f)
	if err != nil {
		p.add(f, "%v", err)
		return nil, false
	}
	metaB, body, ok := splitFrontMatter(raw)
	if !ok {
		p.add(f, "no front matter between --- lines")
		return nil, false
	}
	if err := yaml.Unmarshal(metaB, meta); err != nil {
		p.add(f, "front matter: %v", err)
		return nil, false
	}
	return body, true
}

// Load reads, validates and renders all content in fsys. Every problem
// is reported at once, so an author fixes them in one pass.
func Load(fsys fs.FS) (*Catalog, error) {
	c := &Catalog{
		Quizzes:        map[string]*Quiz{},
		Diagrams:       map[string][]byte{},
		lessonBySlug:   map[string]*Lesson{},
		questionBySlug: map[string]*Question{},
		cardByID:       map[string]*Card{},
	}
	var p problems
	c.loadDiagrams(fsys, &p)
	c.loadLessons(fsys, &p)
	c.loadQuestions(fsys, &p)
	c.loadQuizzes(fsys, &p)
	c.checkLinks(&p)
	c.loadChecklist(fsys, &p)
	c.collectCards()
	c.index = buildIndex(c)
	return c, p.err()
}

// knownTopic reports whether id is one of the Topics.
func knownTopic(id string) bool {
	for _, t := range Topics {
		if t.ID == id {
			return true
		}
	}
	return false
}

// loadDiagrams reads the SVG drawings lessons show.
func (c *Catalog) loadDiagrams(fsys fs.FS, p *problems) {
	diagrams, _ := fs.Glob(fsys, "diagrams/*.svg")
	for _, f := range diagrams {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			p.add(f, "%v", err)
			continue
		}
		if !bytes.Contains(b, []byte("<svg")) || bytes.Contains(b, []byte("<script")) || bytes.Contains(b, []byte("foreignObject")) {
			p.add(f, "must be a plain SVG drawing (no script, no foreignObject)")
		}
		c.Diagrams[path.Base(f)] = b
	}
}

// checkLinks checks that lessons and questions link each other by slugs
// that exist.
func (c *Catalog) checkLinks(p *problems) {
	for _, l := range c.Lessons {
		for _, q := range l.Questions {
			if c.questionBySlug[q] == nil {
				p.add("lessons/"+l.Slug, "links unknown question %q", q)
			}
		}
	}
	for _, q := range c.Questions {
		for _, s := range q.Lessons {
			if c.lessonBySlug[s] == nil {
				p.add("questions/"+q.Slug, "links unknown lesson %q", s)
			}
		}
	}
}

// loadChecklist reads the module's outcomes and checks their evidence.
func (c *Catalog) loadChecklist(fsys fs.FS, p *problems) {
	raw, err := fs.ReadFile(fsys, "checklist.yaml")
	if err != nil {
		p.add("checklist.yaml", "%v", err)
		return
	}
	var cl struct {
		Outcomes []Outcome `yaml:"outcomes"`
	}
	if err := yaml.Unmarshal(raw, &cl); err != nil {
		p.add("checklist.yaml", "%v", err)
	}
	for _, o := range cl.Outcomes {
		if o.ID == "" || o.Title == "" {
			p.add("checklist.yaml", "outcome needs an id and a title")
		}
		for _, e := range o.Evidence {
			if !c.validEvidence(e.Kind, e.Ref) {
				p.add("checklist.yaml", "outcome %s: bad evidence %s %q", o.ID, e.Kind, e.Ref)
			}
		}
	}
	c.Outcomes = cl.Outcomes
}

// validEvidence reports whether an outcome's evidence names something.
func (c *Catalog) validEvidence(kind, ref string) bool {
	switch kind {
	case "lesson", "quiz":
		return c.lessonBySlug[ref] != nil
	case "lab":
		return labID.MatchString(ref)
	}
	return false
}

// collectCards gathers the flashcards: lessons' own, then one per
// question (the question on the front, its key points on the back).
func (c *Catalog) collectCards() {
	for _, l := range c.Lessons {
		c.Cards = append(c.Cards, l.Cards...)
	}
	for _, q := range c.Questions {
		var back strings.Builder
		back.WriteString("<ul>")
		for _, k := range q.KeyPoints {
			back.WriteString("<li>" + string(k) + "</li>")
		}
		back.WriteString("</ul>")
		c.Cards = append(c.Cards, Card{ID: "question/" + q.Slug, Front: q.Title, Back: templateHTML(back.String()), Source: q.Slug, Kind: "question"})
	}
	for i := range c.Cards {
		c.cardByID[c.Cards[i].ID] = &c.Cards[i]
	}
}
