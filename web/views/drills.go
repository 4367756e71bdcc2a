package views

import "github.com/sdworkbook/workbook/drills"

// DrillIndex is the list of drill kinds.
type DrillIndex struct {
	Kinds    []DrillKindRow
	SignedIn bool
}

// DrillKindRow is one kind on the drills page, with the learner's figures
// when signed in.
type DrillKindRow struct {
	ID, Title, Summary        string
	Attempts, Correct, Streak int
}

// DrillPage is one problem: its form, or its graded result.
type DrillPage struct {
	Problem drills.Problem
	// Values are the estimates as typed; Errors say, by field, why one
	// could not be read; Message sums up above the form.
	Values, Errors map[string]string
	Message        string
	Result         *drills.Result
	SignedIn       bool
	// Saved says the attempt was stored; Notice says why it was not.
	Saved  bool
	Notice string
	// Attempt is set when a stored attempt is shown again.
	Attempt *DrillAttemptInfo
}

// DrillAttemptInfo describes a stored attempt shown again.
type DrillAttemptInfo struct{ When, Took string }

// DrillProgress is the drills part of the progress page.
type DrillProgress struct {
	Rows             []DrillProgressRow
	Attempts, Streak int
	Best             string
	Recent           []DrillRecent
}

// DrillProgressRow is one kind's figures.
type DrillProgressRow struct {
	ID, Title                 string
	Attempts, Correct, Streak int
	Best                      string
}

// DrillRecent is one of the latest attempts.
type DrillRecent struct {
	ID           int64
	Title        string
	Correct      bool
	Right, Asked int
	When, Took   string
}

// offBy says how far an estimate was from the answer, in percent.
func offBy(g drills.Graded) string {
	if g.Answer == 0 {
		return ""
	}
	d := (g.Value - g.Answer) / g.Answer * 100
	switch {
	case d >= 0.5:
		return "+" + drills.Num(d) + "%"
	case d <= -0.5:
		return "−" + drills.Num(-d) + "%"
	}
	return "±0%"
}
