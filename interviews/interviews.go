// Package interviews holds the mock system design interview problems: for
// each problem, the stages of a real interview with a prompt and the
// checkpoints a strong answer covers, and the lessons that help. The
// problems are YAML files embedded in the binary, loaded and validated at
// start like the lessons.
package interviews

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

//go:embed content
var embedded embed.FS

// Embedded returns the problems compiled into the binary.
func Embedded() fs.FS {
	sub, _ := fs.Sub(embedded, "content")
	return sub
}

// Stage is one of the stages every interview walks through, in order.
type Stage struct {
	ID    string
	Title string
	// Design is true for the stages that take a diagram.
	Design bool
}

// Stages are the stages of an interview in the order they are taken.
var Stages = []Stage{
	{"requirements", "Requirements and scope", false},
	{"estimation", "Estimation", false},
	{"api", "API", false},
	{"data-model", "Data model", false},
	{"high-level", "High-level design", true},
	{"deep-dives", "Deep dives", true},
	{"tradeoffs", "Bottlenecks and trade-offs", false},
}

// StageIDs are the stages' ids in order.
func StageIDs() []string {
	out := make([]string, len(Stages))
	for i, s := range Stages {
		out[i] = s.ID
	}
	return out
}

// StageByID returns a stage by its id.
func StageByID(id string) (Stage, bool) {
	for _, s := range Stages {
		if s.ID == id {
			return s, true
		}
	}
	return Stage{}, false
}

// Bounds of the content, so every problem reads alike.
const (
	MinCheckpoints = 3
	MaxCheckpoints = 6
)

// Bounds of what a learner keeps.
const (
	// MaxAnswerChars bounds a stage's answer.
	MaxAnswerChars = 20000
	// MaxSessions bounds the sessions one account keeps.
	MaxSessions = 200
	// DefaultMinutes is a session's time limit.
	DefaultMinutes = 45
)

// Step is one stage of one problem.
type Step struct {
	Stage       string   `yaml:"stage"`
	Prompt      string   `yaml:"prompt"`
	Checkpoints []string `yaml:"checkpoints"`
	// Lessons are the slugs of the lessons that help with this stage.
	Lessons []string `yaml:"lessons"`
}

// Problem is one mock interview problem.
type Problem struct {
	Slug    string   `yaml:"slug"`
	Title   string   `yaml:"title"`
	Summary string   `yaml:"summary"`
	Lessons []string `yaml:"lessons"`
	Steps   []Step   `yaml:"stages"`
}

// Step returns the problem's step for a stage id.
func (p *Problem) Step(stage string) (*Step, bool) {
	for i := range p.Steps {
		if p.Steps[i].Stage == stage {
			return &p.Steps[i], true
		}
	}
	return nil, false
}

// Set is every problem, validated, in title order.
type Set struct {
	Problems []*Problem
	bySlug   map[string]*Problem
}

// Problem returns a problem by slug.
func (s *Set) Problem(slug string) (*Problem, bool) {
	p, ok := s.bySlug[slug]
	return p, ok
}

var slugRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Load reads and validates every problem in fsys; lessonExists says
// whether a lesson slug resolves. Every problem found is reported at once.
func Load(fsys fs.FS, lessonExists func(slug string) bool) (*Set, error) {
	files, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	set := &Set{bySlug: map[string]*Problem{}}
	var errs []string
	for _, f := range files {
		p, problems := loadFile(fsys, f, lessonExists)
		for _, m := range problems {
			errs = append(errs, f+": "+m)
		}
		if p == nil || len(problems) > 0 {
			continue
		}
		if _, dup := set.bySlug[p.Slug]; dup {
			errs = append(errs, f+": slug "+p.Slug+" is used twice")
			continue
		}
		set.bySlug[p.Slug] = p
		set.Problems = append(set.Problems, p)
	}
	if len(errs) > 0 {
		return nil, errors.New("interview problems have problems:\n  " + strings.Join(errs, "\n  "))
	}
	sort.Slice(set.Problems, func(i, j int) bool { return set.Problems[i].Title < set.Problems[j].Title })
	return set, nil
}

func loadFile(fsys fs.FS, f string, lessonExists func(string) bool) (*Problem, []string) {
	raw, err := fs.ReadFile(fsys, f)
	if err != nil {
		return nil, []string{err.Error()}
	}
	var p Problem
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, []string{err.Error()}
	}
	var out []string
	if want := strings.TrimSuffix(path.Base(f), ".yaml"); p.Slug != want {
		out = append(out, fmt.Sprintf("slug %q must match the file name %q", p.Slug, want))
	}
	if !slugRE.MatchString(p.Slug) {
		out = append(out, fmt.Sprintf("slug %q is not lower-case words joined by dashes", p.Slug))
	}
	if strings.TrimSpace(p.Title) == "" || strings.TrimSpace(p.Summary) == "" {
		out = append(out, "title and summary are required")
	}
	if len(p.Lessons) == 0 {
		out = append(out, "lessons: name at least one lesson that helps")
	}
	out = append(out, checkLessons("lessons", p.Lessons, lessonExists)...)
	out = append(out, checkSteps(p.Steps, lessonExists)...)
	return &p, out
}

func checkLessons(where string, slugs []string, lessonExists func(string) bool) []string {
	var out []string
	for _, s := range slugs {
		if !lessonExists(s) {
			out = append(out, fmt.Sprintf("%s: no lesson %q", where, s))
		}
	}
	return out
}

func checkSteps(steps []Step, lessonExists func(string) bool) []string {
	var out []string
	if len(steps) != len(Stages) {
		out = append(out, fmt.Sprintf("stages: want %d stages, got %d", len(Stages), len(steps)))
	}
	for i, st := range steps {
		where := fmt.Sprintf("stages[%d]", i)
		if i < len(Stages) && st.Stage != Stages[i].ID {
			out = append(out, fmt.Sprintf("%s: want stage %q, got %q", where, Stages[i].ID, st.Stage))
		}
		if strings.TrimSpace(st.Prompt) == "" {
			out = append(out, where+": prompt is empty")
		}
		if n := len(st.Checkpoints); n < MinCheckpoints || n > MaxCheckpoints {
			out = append(out, fmt.Sprintf("%s: want %d to %d checkpoints, got %d", where, MinCheckpoints, MaxCheckpoints, n))
		}
		for j, c := range st.Checkpoints {
			if strings.TrimSpace(c) == "" || len(c) > 200 {
				out = append(out, fmt.Sprintf("%s.checkpoints[%d]: empty or longer than 200 characters", where, j))
			}
		}
		out = append(out, checkLessons(where+".lessons", st.Lessons, lessonExists)...)
	}
	return out
}
