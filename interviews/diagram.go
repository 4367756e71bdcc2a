package interviews

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Palette is the kinds of box a diagram may hold, in the order the board
// offers them.
var Palette = []Kind{
	{"client", "Client"}, {"dns", "DNS"}, {"cdn", "CDN"}, {"load-balancer", "Load balancer"},
	{"service", "Service"}, {"cache", "Cache"}, {"database", "Database"}, {"replica", "Replica"},
	{"queue", "Queue"}, {"stream", "Stream"}, {"object-store", "Object store"},
	{"search-index", "Search index"}, {"worker", "Worker"},
}

// Kind is a kind of box.
type Kind struct {
	ID    string
	Title string
}

// KindTitle names a kind of box ("" when there is none).
func KindTitle(id string) string {
	for _, k := range Palette {
		if k.ID == id {
			return k.Title
		}
	}
	return ""
}

// Bounds of a diagram, so a stored one stays small and readable.
const (
	MaxNodes       = 40
	MaxEdges       = 80
	MaxLabelChars  = 40
	MaxDiagramSize = 16 << 10 // bytes of JSON
	BoardWidth     = 960
	BoardHeight    = 600
)

// Node is a box on the board, placed by its centre.
type Node struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Label string `json:"label"`
	X     int    `json:"x"`
	Y     int    `json:"y"`
}

// Edge is an arrow from one box to another.
type Edge struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Label string `json:"label"`
}

// Diagram is a board's boxes and arrows.
type Diagram struct {
	Nodes []Node `json:"nodes"`
	Edges []Edge `json:"edges"`
}

var nodeIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,15}$`)

// ParseDiagram reads a diagram from JSON and validates it. A refused one
// comes with a message per field at fault ("nodes[2].label"); "" is the
// empty diagram.
func ParseDiagram(raw string) (Diagram, map[string]string) {
	var d Diagram
	if strings.TrimSpace(raw) == "" {
		return Diagram{Nodes: []Node{}, Edges: []Edge{}}, nil
	}
	if len(raw) > MaxDiagramSize {
		return d, map[string]string{"diagram": fmt.Sprintf("The diagram is larger than %d KB.", MaxDiagramSize>>10)}
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil || dec.More() {
		return Diagram{}, map[string]string{"diagram": "The diagram is not valid: expected {\"nodes\": [...], \"edges\": [...]}."}
	}
	if d.Nodes == nil {
		d.Nodes = []Node{}
	}
	if d.Edges == nil {
		d.Edges = []Edge{}
	}
	if errs := d.Validate(); len(errs) > 0 {
		return Diagram{}, errs
	}
	return d, nil
}

// Validate checks counts, kinds, ids, labels, places and that every
// arrow joins two different boxes that exist.
func (d Diagram) Validate() map[string]string {
	errs := map[string]string{}
	if len(d.Nodes) > MaxNodes {
		errs["nodes"] = fmt.Sprintf("A diagram holds at most %d boxes.", MaxNodes)
	}
	if len(d.Edges) > MaxEdges {
		errs["edges"] = fmt.Sprintf("A diagram holds at most %d arrows.", MaxEdges)
	}
	if len(errs) > 0 {
		return errs
	}
	ids := map[string]bool{}
	for i, n := range d.Nodes {
		f := fmt.Sprintf("nodes[%d]", i)
		switch {
		case !nodeIDRE.MatchString(n.ID):
			errs[f+".id"] = "A box's id is 1 to 16 lower-case letters, digits and dashes."
		case ids[n.ID]:
			errs[f+".id"] = "Two boxes have the id " + n.ID + "."
		}
		ids[n.ID] = true
		if KindTitle(n.Kind) == "" {
			errs[f+".kind"] = "Choose a kind of box from the palette."
		}
		if msg := labelProblem(n.Label, true); msg != "" {
			errs[f+".label"] = msg
		}
		if n.X < 0 || n.X > BoardWidth || n.Y < 0 || n.Y > BoardHeight {
			errs[f+".x"] = fmt.Sprintf("A box's place is within %d × %d.", BoardWidth, BoardHeight)
		}
	}
	for i, e := range d.Edges {
		f := fmt.Sprintf("edges[%d]", i)
		switch {
		case !ids[e.From]:
			errs[f+".from"] = "An arrow starts at a box on the board."
		case !ids[e.To]:
			errs[f+".to"] = "An arrow ends at a box on the board."
		case e.From == e.To:
			errs[f+".to"] = "An arrow joins two different boxes."
		}
		if msg := labelProblem(e.Label, false); msg != "" {
			errs[f+".label"] = msg
		}
	}
	return errs
}

func labelProblem(s string, required bool) string {
	switch {
	case !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "A label is one line of plain text."
	case required && strings.TrimSpace(s) == "":
		return "Give the box a label."
	case utf8.RuneCountInString(s) > MaxLabelChars:
		return fmt.Sprintf("A label is at most %d characters.", MaxLabelChars)
	}
	return ""
}

// JSON is the diagram as stored.
func (d Diagram) JSON() string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(d) // a Diagram always encodes
	return strings.TrimSpace(b.String())
}

// Node returns a box by id.
func (d Diagram) Node(id string) (Node, bool) {
	for _, n := range d.Nodes {
		if n.ID == id {
			return n, true
		}
	}
	return Node{}, false
}

// NewNodeID returns an id no box of d has.
func (d Diagram) NewNodeID() string {
	for i := len(d.Nodes) + 1; ; i++ {
		id := fmt.Sprintf("n%d", i)
		if _, taken := d.Node(id); !taken {
			return id
		}
	}
}

// FreeSpot is where a box added without a place goes: the next cell of
// a grid of four columns.
func (d Diagram) FreeSpot() (x, y int) {
	i := len(d.Nodes)
	return 120 + (i%4)*240, 60 + (i/4)*90%(BoardHeight-60)
}

// RemoveNode takes a box and its arrows off the board.
func (d Diagram) RemoveNode(id string) Diagram {
	out := Diagram{Nodes: []Node{}, Edges: []Edge{}}
	for _, n := range d.Nodes {
		if n.ID != id {
			out.Nodes = append(out.Nodes, n)
		}
	}
	for _, e := range d.Edges {
		if e.From != id && e.To != id {
			out.Edges = append(out.Edges, e)
		}
	}
	return out
}
