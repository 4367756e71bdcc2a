package grader_test

import (
	"context"
	"testing"
	"time"

	"github.com/sdworkbook/workbook/grader"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
)

// skippingProbe has a check its targets cannot take.
type skippingProbe struct{ testLab }

func (skippingProbe) Exercises() []labs.Exercise {
	return []labs.Exercise{{ID: "probe-skips", Lab: "probe", Step: 1, Title: "Probe", Card: []string{"be good"},
		Checks: []labs.Check{
			{Name: "answers", Requirement: "it answers", Points: 5,
				Run: func(context.Context, *labs.Trial) labs.Outcome { return labs.Pass("it answered") }},
			{Name: "survives a restart", Requirement: "it keeps its data", Points: 10,
				Run: func(context.Context, *labs.Trial) labs.Outcome {
					return labs.Skip("This target cannot be restarted, so this check counts neither way.")
				}},
		}}}
}

// A skipped check is kept as skipped, not as failed: it reads back with
// its sentence, no points either way, and the score is out of the checks
// that ran.
func TestSkippedChecksStaySkipped(t *testing.T) {
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			r := MustRig(t, b, grader.Options{Workers: 1, Environment: grader.EnvEmbedded}, skippingProbe{})
			res := r.wait(t, r.submit(t, "probe", map[string]any{}).ID, time.Minute)
			if res.Status != store.StatusGraded || len(res.Checks) != 2 {
				t.Fatalf("result %+v", res)
			}
			c := res.Checks[1]
			if !c.Skipped || c.Passed || c.Points != 0 || c.MaxPoints != 0 || c.Message == "" {
				t.Errorf("the skipped check read back as %+v", c)
			}
			if res.Checks[0].Skipped || res.Score == nil || *res.Score != 5 || res.MaxScore != 5 {
				t.Errorf("score %v of %d, first check %+v", res.Score, res.MaxScore, res.Checks[0])
			}
		})
	}
}
