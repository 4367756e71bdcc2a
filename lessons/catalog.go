// Package lessons loads the workbook's teaching content (lessons, quizzes,
// interview questions, flashcards and the module's checklist) from Markdown
// and YAML, validates it, and renders it to HTML once at start-up.
package lessons

import (
	"embed"
	"html/template"
	"io/fs"
	"regexp"
	"slices"
)

//go:embed content
var embedded embed.FS

// Embedded returns the content compiled into the binary.
func Embedded() fs.FS {
	sub, _ := fs.Sub(embedded, "content")
	return sub
}

// Topic is one of the module's subjects.
type Topic struct {
	ID    string
	Title string
}

// Topics are the module's subjects in teaching order.
var Topics = []Topic{
	{"principles", "Design principles"},
	{"cap", "CAP and PACELC"},
	{"acid-base", "ACID and BASE"},
	{"scaling", "Scaling"},
	{"load-balancing", "Load balancing"},
	{"database-scaling", "Database scaling"},
	{"availability", "Availability"},
	{"fault-tolerance", "Fault tolerance"},
	{"data-storage", "Data storage patterns"},
	{"microservices", "Microservices"},
	{"caching", "Caching"},
	{"message-queues", "Message queues"},
	{"case-studies", "Case studies"},
	{"migrations", "Zero-downtime migrations"},
	{"debugging", "Debugging outages"},
	{"dns-cdn", "DNS and CDNs"},
	{"api-design", "API styles and protocols"},
	{"storage-engines", "SQL, NoSQL and storage engines"},
	{"consensus", "Consensus, leader election and clocks"},
}

// labID is the form of a lab's id. Which labs exist is the lab
// registry's to say (Catalog.UnknownLabs), not the content's.
var labID = regexp.MustCompile(`^[a-z][a-z0-9]*$`)

// Heading is an entry of a lesson's table of contents.
type Heading struct {
	Level int
	ID    string
	Text  string
}

// Lesson is one rendered lesson.
type Lesson struct {
	Slug       string
	Title      string
	Topic      string
	Order      int
	Minutes    int
	Summary    string
	Objectives []string
	// Pitfalls are rendered inline Markdown.
	Pitfalls  []template.HTML
	Labs      []string
	Questions []string
	Cards     []Card
	HTML      template.HTML
	TOC       []Heading
	// Bugs are the ids of the lesson's spot-the-bug exercises.
	Bugs []string
	// GoBlocks are the lesson's fenced Go blocks, for the compile test.
	GoBlocks []CodeBlock
	// Diagrams are the diagram files the lesson shows.
	Diagrams []string
	text     string
}

// CodeBlock is a fenced code block as written.
type CodeBlock struct {
	Info string
	Code string
	Line int
}

// Question is an interview question with its model answer.
type Question struct {
	Slug       string
	Title      string
	Topic      string
	Source     string
	Difficulty string
	Lessons    []string
	KeyPoints  []template.HTML
	FollowUps  []template.HTML
	AnswerHTML template.HTML
	GoBlocks   []CodeBlock
	text       string
}

// Card is a flashcard.
type Card struct {
	// ID is stable across content edits that keep the card's place:
	// "lesson/SLUG/N" or "question/SLUG" ("interview/SLUG/STAGE" for the
	// cards the progress package makes of missed interview checkpoints).
	ID     string
	Front  string
	Back   template.HTML
	Source string // lesson or question slug
	Kind   string // "lesson", "question" or "interview"
}

// Evidence is one thing that ticks an outcome.
type Evidence struct {
	Kind string `yaml:"kind"` // lesson (completed), quiz (passed), lab (graded)
	Ref  string `yaml:"ref"`
}

// Outcome is an item of the module's checklist.
type Outcome struct {
	ID       string     `yaml:"id"`
	Title    string     `yaml:"title"`
	Evidence []Evidence `yaml:"evidence"`
}

// Catalog is all content, validated and rendered.
type Catalog struct {
	Lessons   []*Lesson
	Questions []*Question
	Quizzes   map[string]*Quiz // by lesson slug
	Outcomes  []Outcome
	Cards     []Card
	// Diagrams maps a file name to its SVG bytes.
	Diagrams map[string][]byte

	lessonBySlug   map[string]*Lesson
	questionBySlug map[string]*Question
	cardByID       map[string]*Card
	index          *searchIndex
}

// Lesson returns a lesson by slug.
func (c *Catalog) Lesson(slug string) (*Lesson, bool) { l, ok := c.lessonBySlug[slug]; return l, ok }

// Question returns a question by slug.
func (c *Catalog) Question(slug string) (*Question, bool) {
	q, ok := c.questionBySlug[slug]
	return q, ok
}

// Card returns a card by id.
func (c *Catalog) Card(id string) (*Card, bool) { k, ok := c.cardByID[id]; return k, ok }

// LabRefs lists the labs the content names (lessons' labs and the
// checklist's lab evidence), each once, in order of first mention.
func (c *Catalog) LabRefs() []string {
	var out []string
	add := func(id string) {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	for _, l := range c.Lessons {
		for _, id := range l.Labs {
			add(id)
		}
	}
	for _, o := range c.Outcomes {
		for _, e := range o.Evidence {
			if e.Kind == "lab" {
				add(e.Ref)
			}
		}
	}
	return out
}

// UnknownLabs lists the labs the content names that are not among known
// (the registry's ids); none when every link resolves.
func (c *Catalog) UnknownLabs(known []string) []string {
	var out []string
	for _, id := range c.LabRefs() {
		if !slices.Contains(known, id) {
			out = append(out, id)
		}
	}
	return out
}

// TopicTitle names a topic id.
func TopicTitle(id string) string {
	for _, t := range Topics {
		if t.ID == id {
			return t.Title
		}
	}
	return id
}

// Next returns the lesson after l, or nil.
func (c *Catalog) Next(l *Lesson) *Lesson {
	if l.Order < len(c.Lessons) {
		return c.Lessons[l.Order]
	}
	return nil
}

// Prev returns the lesson before l, or nil.
func (c *Catalog) Prev(l *Lesson) *Lesson {
	if l.Order > 1 {
		return c.Lessons[l.Order-2]
	}
	return nil
}
