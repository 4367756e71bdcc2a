package drills

// Graded is one asked quantity with the learner's estimate.
type Graded struct {
	Ask
	// Typed is the estimate as typed; Value is it read in the ask's unit.
	Typed string
	Value float64
	Right bool
}

// Result is a graded attempt.
type Result struct {
	Items []Graded
	// Right counts the quantities estimated within the tolerance; Correct
	// says all of them were.
	Right   int
	Correct bool
}

// Grade reads and grades the learner's estimates, typed by ask id. When
// any cannot be read it returns no result and, by ask id, a sentence
// saying why; nothing is graded until every estimate reads.
func Grade(p Problem, typed map[string]string) (Result, map[string]string) {
	var res Result
	errs := map[string]string{}
	for _, a := range p.Asks {
		raw := typed[a.ID]
		v, err := ParseEstimate(raw, a.Unit)
		if err != nil {
			errs[a.ID] = err.Error()
			continue
		}
		g := Graded{Ask: a, Typed: raw, Value: v, Right: a.Right(v)}
		if g.Right {
			res.Right++
		}
		res.Items = append(res.Items, g)
	}
	if len(errs) > 0 {
		return Result{}, errs
	}
	res.Correct = res.Right == len(p.Asks)
	return res, nil
}
