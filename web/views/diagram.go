package views

import (
	"math"

	"github.com/sdworkbook/workbook/interviews"
)

// The size of a box on the board.
const (
	boxW = 140
	boxH = 50
)

// DiagramView is a stage's diagram, laid out for the SVG and the list
// editor, with what was refused last.
type DiagramView struct {
	JSON  string
	Nodes []DiagramNode
	Edges []DiagramEdge
	// Errors map a field of the list editor's forms (kind, label, from,
	// to, edge_label) or of the JSON (nodes[0].label) to its message.
	Errors map[string]string
	// Kind and Label are the add-box form's last input.
	Kind, Label string
}

// DiagramNode is a box with its top-left corner.
type DiagramNode struct {
	interviews.Node
	KindTitle string
	Left, Top int
}

// DiagramEdge is an arrow clipped to its boxes' borders.
type DiagramEdge struct {
	interviews.Edge
	Index          int
	FromLabel      string
	ToLabel        string
	X1, Y1, X2, Y2 int
	MidX, MidY     int
}

// NewDiagramView lays out a diagram.
func NewDiagramView(d interviews.Diagram) DiagramView {
	v := DiagramView{JSON: d.JSON()}
	for _, n := range d.Nodes {
		v.Nodes = append(v.Nodes, DiagramNode{Node: n, KindTitle: interviews.KindTitle(n.Kind), Left: n.X - boxW/2, Top: n.Y - boxH/2})
	}
	for i, e := range d.Edges {
		a, okA := d.Node(e.From)
		b, okB := d.Node(e.To)
		if !okA || !okB {
			continue
		}
		x1, y1 := clip(a, b)
		x2, y2 := clip(b, a)
		v.Edges = append(v.Edges, DiagramEdge{Edge: e, Index: i, FromLabel: a.Label, ToLabel: b.Label,
			X1: x1, Y1: y1, X2: x2, Y2: y2, MidX: (x1 + x2) / 2, MidY: (y1 + y2) / 2})
	}
	return v
}

// clip is where the line from a's centre towards b's leaves a's box.
func clip(a, b interviews.Node) (int, int) {
	dx, dy := float64(b.X-a.X), float64(b.Y-a.Y)
	if dx == 0 && dy == 0 {
		return a.X, a.Y
	}
	t := math.Inf(1)
	if dx != 0 {
		t = math.Min(t, float64(boxW/2)/math.Abs(dx))
	}
	if dy != 0 {
		t = math.Min(t, float64(boxH/2)/math.Abs(dy))
	}
	t = math.Min(t, 1)
	return a.X + int(math.Round(t*dx)), a.Y + int(math.Round(t*dy))
}

// Palette is the kinds of box offered.
func (DiagramView) Palette() []interviews.Kind { return interviews.Palette }
