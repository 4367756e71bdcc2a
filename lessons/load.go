package lessons

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
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

type quizFile struct {
	Lesson      string `yaml:"lesson"`
	PassPercent int    `yaml:"pass_percent"`
	Questions   []struct {
		ID          string   `yaml:"id"`
		Kind        string   `yaml:"kind"`
		Prompt      string   `yaml:"prompt"`
		Choices     []string `yaml:"choices"`
		Correct     []int    `yaml:"correct"`
		Answer      *float64 `yaml:"answer"`
		Tolerance   float64  `yaml:"tolerance"`
		Unit        string   `yaml:"unit"`
		Explanation string   `yaml:"explanation"`
	} `yaml:"questions"`
}

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

// Load reads, validates and renders all content in fsys.
func Load(fsys fs.FS) (*Catalog, error) {
	c := &Catalog{
		Quizzes:        map[string]*Quiz{},
		Diagrams:       map[string][]byte{},
		lessonBySlug:   map[string]*Lesson{},
		questionBySlug: map[string]*Question{},
		cardByID:       map[string]*Card{},
	}
	var p problems
	topics := map[string]bool{}
	for _, t := range Topics {
		topics[t.ID] = true
	}

	// Diagrams.
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

	// Lessons.
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
		if meta.Title == "" || meta.Summary == "" || meta.Minutes <= 0 {
			p.add(f, "title, summary and minutes are required")
		}
		if !topics[meta.Topic] {
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
		if asciiArtBox.Match(body) {
			p.add(f, "uses box-drawing characters: draw diagrams as SVG files instead")
		}
		r, err := render(body)
		if err != nil {
			p.add(f, "markdown: %v", err)
			continue
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
		if c.lessonBySlug[l.Slug] != nil {
			p.add(f, "duplicate lesson slug %q", l.Slug)
		}
		c.Lessons = append(c.Lessons, l)
		c.lessonBySlug[l.Slug] = l
	}

	// Questions.
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
		if meta.Title == "" || !topics[meta.Topic] {
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

	// Quizzes.
	for _, l := range c.Lessons {
		f := "quizzes/" + l.Slug + ".yaml"
		raw, err := fs.ReadFile(fsys, f)
		if err != nil {
			p.add(f, "every lesson needs a quiz: %v", err)
			continue
		}
		var qf quizFile
		if err := yaml.Unmarshal(raw, &qf); err != nil {
			p.add(f, "%v", err)
			continue
		}
		if qf.Lesson != l.Slug {
			p.add(f, "lesson: %q, want %q", qf.Lesson, l.Slug)
		}
		if qf.PassPercent <= 0 || qf.PassPercent > 100 {
			qf.PassPercent = 70
		}
		if len(qf.Questions) < 5 {
			p.add(f, "needs at least 5 questions, has %d", len(qf.Questions))
		}
		quiz := &Quiz{Lesson: l.Slug, PassPercent: qf.PassPercent}
		ids := map[string]bool{}
		for i, raw := range qf.Questions {
			where := fmt.Sprintf("question %d (%s)", i+1, raw.ID)
			if raw.ID == "" || ids[raw.ID] {
				p.add(f, "%s: missing or duplicate id", where)
			}
			ids[raw.ID] = true
			if strings.TrimSpace(raw.Explanation) == "" {
				p.add(f, "%s: needs an explanation", where)
			}
			qq := &QuizQuestion{ID: raw.ID, Kind: raw.Kind, Correct: raw.Correct, Tolerance: raw.Tolerance, Unit: raw.Unit}
			qq.Prompt, _ = renderInline(raw.Prompt)
			qq.Explanation, _ = renderInline(raw.Explanation)
			switch raw.Kind {
			case KindSingle, KindMultiple:
				if len(raw.Choices) < 2 {
					p.add(f, "%s: needs at least 2 choices", where)
				}
				if len(raw.Correct) == 0 || (raw.Kind == KindSingle && len(raw.Correct) != 1) {
					p.add(f, "%s: %s needs %s correct choice", where, raw.Kind, map[string]string{KindSingle: "exactly one", KindMultiple: "at least one"}[raw.Kind])
				}
				for _, ci := range raw.Correct {
					if ci < 0 || ci >= len(raw.Choices) {
						p.add(f, "%s: correct index %d out of range", where, ci)
					}
				}
				slices.Sort(qq.Correct)
				for _, ch := range raw.Choices {
					h, _ := renderInline(ch)
					qq.Choices = append(qq.Choices, h)
				}
			case KindNumeric:
				if raw.Answer == nil {
					p.add(f, "%s: numeric needs an answer", where)
				} else {
					qq.Answer = *raw.Answer
				}
				if raw.Tolerance < 0 {
					p.add(f, "%s: tolerance must not be negative", where)
				}
			default:
				p.add(f, "%s: kind must be single, multiple or numeric", where)
			}
			quiz.Questions = append(quiz.Questions, qq)
		}
		c.Quizzes[l.Slug] = quiz
	}

	// Cross references.
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

	// Checklist.
	if raw, err := fs.ReadFile(fsys, "checklist.yaml"); err != nil {
		p.add("checklist.yaml", "%v", err)
	} else {
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
				ok := false
				switch e.Kind {
				case "lesson", "quiz":
					ok = c.lessonBySlug[e.Ref] != nil
				case "lab":
					ok = labID.MatchString(e.Ref)
				}
				if !ok {
					p.add("checklist.yaml", "outcome %s: bad evidence %s %q", o.ID, e.Kind, e.Ref)
				}
			}
		}
		c.Outcomes = cl.Outcomes
	}

	// Cards: lessons' own, then one per question (the question on the
	// front, its key points on the back).
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
	c.index = buildIndex(c)
	return c, p.err()
}
