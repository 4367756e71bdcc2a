// Package drills generates back-of-the-envelope estimation problems and
// grades the answers. Every problem comes from a kind (peak QPS, storage
// per year, …) and a seed: the same kind and seed always give the same
// numbers, answers and worked solution, so an attempt stored as its seed
// can be shown again and graded again, and a new seed gives fresh numbers.
package drills

import (
	"math/rand/v2"
	"slices"
)

// Tolerance is how far an estimate may be from the answer, relative to
// the answer, and still count as right.
const Tolerance = 0.15

// Kind is one sort of problem.
type Kind struct {
	ID, Title, Summary string
	gen                func(p *Problem, r *rand.Rand)
}

// Problem is one generated problem: what the learner reads, what is asked
// and the worked solution, all with the same numbers.
type Problem struct {
	Kind Kind
	Seed int64
	// Prompt is the problem in sentences, with its numbers.
	Prompt []string
	// Inputs are the numbers the prompt gives, by name, so a test can
	// compute the answers on its own.
	Inputs []Input
	// Asks are the quantities to estimate, in the order shown.
	Asks []Ask
	// Solution is the worked solution, one step a line.
	Solution []string
}

// Input is one number a problem gives.
type Input struct {
	Name  string
	Value float64
	// Text is the number as the prompt writes it.
	Text string
}

// Ask is one quantity to estimate.
type Ask struct {
	// ID is the form field's name.
	ID    string
	Label string
	Unit  Unit
	// Answer is the right value in Unit. For a whole count it is rounded
	// up; Raw keeps the value before rounding, and an estimate within the
	// tolerance of either is right.
	Answer, Raw float64
}

// Input returns the value of the input named name (0 when there is none).
func (p Problem) Input(name string) float64 {
	for _, in := range p.Inputs {
		if in.Name == name {
			return in.Value
		}
	}
	return 0
}

// AskByID returns the ask whose field is id.
func (p Problem) AskByID(id string) (Ask, bool) {
	i := slices.IndexFunc(p.Asks, func(a Ask) bool { return a.ID == id })
	if i < 0 {
		return Ask{}, false
	}
	return p.Asks[i], true
}

// in records an input and returns its text for the prompt.
func (p *Problem) in(name string, v float64, text string) string {
	p.Inputs = append(p.Inputs, Input{Name: name, Value: v, Text: text})
	return text
}

// ask records a quantity to estimate.
func (p *Problem) ask(id, label string, u Unit, v float64) {
	a := Ask{ID: id, Label: label, Unit: u, Answer: v, Raw: v}
	if u.Whole {
		a.Answer = ceilWhole(v)
	}
	p.Asks = append(p.Asks, a)
}

func (p *Problem) say(lines ...string)  { p.Prompt = append(p.Prompt, lines...) }
func (p *Problem) step(lines ...string) { p.Solution = append(p.Solution, lines...) }

// Kinds returns every kind, in the order the drills page lists them.
func Kinds() []Kind {
	return slices.Clone(kinds)
}

// ByID returns the kind named id.
func ByID(id string) (Kind, bool) {
	i := slices.IndexFunc(kinds, func(k Kind) bool { return k.ID == id })
	if i < 0 {
		return Kind{}, false
	}
	return kinds[i], true
}

// Generate makes the problem of kind k from seed: the same seed always
// gives the same problem.
func (k Kind) Generate(seed int64) Problem {
	p := Problem{Kind: k, Seed: seed}
	r := rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x9e3779b97f4a7c15))
	k.gen(&p, r)
	return p
}

// NewSeed returns a fresh seed (non-negative, so it fits a signed column).
func NewSeed() int64 { return rand.Int64() }

// pick returns one of vs.
func pick[T any](r *rand.Rand, vs ...T) T { return vs[r.IntN(len(vs))] }

// text is the answer of the ask id written with its unit.
func (p *Problem) text(id string) string {
	a, _ := p.AskByID(id)
	return a.Text()
}

// day is a day in seconds; the solutions round it to 10⁵.
const day = 86400.0
