package progress

import (
	"html"
	"html/template"
	"slices"
	"strings"

	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/interviews"
	"github.com/sdworkbook/workbook/lessons"
)

// interviewCards are the flashcards of a learner's mock interviews: one
// per stage closed with checkpoints missed, asking what a strong answer
// covers and showing the checkpoints missed in any session. They follow
// the problems' and stages' order.
func (s *Service) interviewCards(closed []store.ClosedStage) []lessons.Card {
	if s.Interviews == nil || len(closed) == 0 {
		return nil
	}
	missed := map[string]map[int]bool{} // problem/stage → checkpoints missed
	for _, c := range closed {
		key := c.Problem + "/" + c.Stage
		ticked := c.TickedIndexes()
		for i := range c.Checkpoints {
			if !slices.Contains(ticked, i) {
				if missed[key] == nil {
					missed[key] = map[int]bool{}
				}
				missed[key][i] = true
			}
		}
	}
	var out []lessons.Card
	for _, p := range s.Interviews.Problems {
		for _, step := range p.Steps {
			if card, ok := stageCard(p, step, missed[p.Slug+"/"+step.Stage]); ok {
				out = append(out, card)
			}
		}
	}
	return out
}

// stageCard is the card of one stage's missed checkpoints (none: no card).
func stageCard(p *interviews.Problem, step interviews.Step, missed map[int]bool) (lessons.Card, bool) {
	var b strings.Builder
	for i, cp := range step.Checkpoints {
		if missed[i] {
			b.WriteString("<li>" + html.EscapeString(cp) + "</li>")
		}
	}
	if b.Len() == 0 {
		return lessons.Card{}, false
	}
	stage, _ := interviews.StageByID(step.Stage)
	return lessons.Card{
		ID:     "interview/" + p.Slug + "/" + step.Stage,
		Front:  p.Title + ", " + strings.ToLower(stage.Title) + ": " + step.Prompt + " What does a strong answer cover that you missed?",
		Back:   template.HTML("<ul>" + b.String() + "</ul>"), // #nosec: escaped above
		Source: p.Slug,
		Kind:   "interview",
	}, true
}
