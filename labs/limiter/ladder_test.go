package limiter

import (
	"context"
	"slices"
	"testing"

	"github.com/sdworkbook/workbook/internal/testenv"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/labs/labtest"
)

func exerciseByID(tb testing.TB, id string) labs.Exercise {
	tb.Helper()
	for _, ex := range labs.ExercisesOf(Lab) {
		if ex.ID == id {
			return ex
		}
	}
	tb.Fatalf("no exercise %s", id)
	return labs.Exercise{}
}

// The login guard and the Pro plan are proven both ways on both backends:
// each reference design fails exactly the checks it names, and the good
// ones pass every check.
func TestLadderReferences(t *testing.T) {
	for _, id := range ladderIDs {
		ex := exerciseByID(t, id)
		labtest.CheckReferences(t, Lab, ex)
		for _, b := range testenv.Backends(t) {
			t.Run(id+"/"+b.Name, func(t *testing.T) {
				base := labtest.Env(t, b, "ladder")
				for _, ref := range ex.References {
					t.Run(ref.Name, func(t *testing.T) {
						t.Parallel()
						rs, err := labs.Run(context.Background(), Lab, ex, mustDesign(t, ref.Design), base, nil)
						if err != nil {
							t.Fatal(err)
						}
						var failed []string
						for _, r := range rs {
							t.Logf("%-45s %-5v %s", r.Name, r.Passed, r.Message)
							if !r.Passed {
								failed = append(failed, r.Name)
							}
						}
						want := slices.Clone(ref.Fails)
						slices.Sort(want)
						slices.Sort(failed)
						if !slices.Equal(failed, want) {
							t.Errorf("failed %v, want %v", failed, want)
						}
					})
				}
			})
		}
	}
}

// ladderIDs are the exercises TestLadderReferences proves.
var ladderIDs = []string{"limiter-login-guard", "limiter-pro-plan"}
