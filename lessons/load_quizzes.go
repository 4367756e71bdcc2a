package lessons

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

type quizFile struct {
	Lesson      string             `yaml:"lesson"`
	PassPercent int                `yaml:"pass_percent"`
	Questions   []quizQuestionMeta `yaml:"questions"`
}

type quizQuestionMeta struct {
	ID          string   `yaml:"id"`
	Kind        string   `yaml:"kind"`
	Prompt      string   `yaml:"prompt"`
	Choices     []string `yaml:"choices"`
	Correct     []int    `yaml:"correct"`
	Answer      *float64 `yaml:"answer"`
	Tolerance   float64  `yaml:"tolerance"`
	Estimate    bool     `yaml:"estimate"`
	Unit        string   `yaml:"unit"`
	Explanation string   `yaml:"explanation"`
}

// loadQuizzes reads every lesson's quiz, quizzes/slug.yaml.
func (c *Catalog) loadQuizzes(fsys fs.FS, p *problems) {
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
			quiz.Questions = append(quiz.Questions, raw.question(p, f, where))
		}
		c.Quizzes[l.Slug] = quiz
	}
}

// question renders one quiz question and records what is wrong with it.
func (raw quizQuestionMeta) question(p *problems, f, where string) *QuizQuestion {
	if strings.TrimSpace(raw.Explanation) == "" {
		p.add(f, "%s: needs an explanation", where)
	}
	qq := &QuizQuestion{ID: raw.ID, Kind: raw.Kind, Correct: raw.Correct, Tolerance: raw.Tolerance, Estimate: raw.Estimate, Unit: raw.Unit}
	qq.Prompt, _ = renderInline(raw.Prompt)
	qq.Explanation, _ = renderInline(raw.Explanation)
	switch raw.Kind {
	case KindSingle, KindMultiple:
		raw.checkChoices(p, f, where)
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
		if raw.Estimate && raw.Answer != nil && *raw.Answer == 0 {
			p.add(f, "%s: an estimate needs a non-zero answer", where)
		}
		if raw.Tolerance < 0 {
			p.add(f, "%s: tolerance must not be negative", where)
		}
	default:
		p.add(f, "%s: kind must be single, multiple or numeric", where)
	}
	if raw.Estimate && raw.Kind != KindNumeric {
		p.add(f, "%s: only a numeric question can be an estimate", where)
	}
	return qq
}

// checkChoices records what is wrong with a choice question's choices.
func (raw quizQuestionMeta) checkChoices(p *problems, f, where string) {
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
}
