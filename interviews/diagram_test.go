package interviews

import (
	"reflect"
	"strings"
	"testing"
)

const goodDiagram = `{"nodes":[{"id":"n1","kind":"client","label":"Browser","x":100,"y":80},` +
	`{"id":"n2","kind":"service","label":"API","x":400,"y":80}],"edges":[{"from":"n1","to":"n2","label":"HTTPS"}]}`

func TestParseDiagram(t *testing.T) {
	d, errs := ParseDiagram(goodDiagram)
	if len(errs) > 0 || len(d.Nodes) != 2 || len(d.Edges) != 1 {
		t.Fatalf("a good diagram: %v %+v", errs, d)
	}
	long := strings.Repeat("x", MaxLabelChars+1)
	cases := map[string]struct{ raw, field string }{
		"not json":      {`{"nodes":`, "diagram"},
		"unknown field": {`{"nodes":[],"edges":[],"extra":1}`, "diagram"},
		"bad kind":      {`{"nodes":[{"id":"a","kind":"rocket","label":"x","x":1,"y":1}]}`, "nodes[0].kind"},
		"long label":    {`{"nodes":[{"id":"a","kind":"cache","label":"` + long + `","x":1,"y":1}]}`, "nodes[0].label"},
		"empty label":   {`{"nodes":[{"id":"a","kind":"cache","label":" ","x":1,"y":1}]}`, "nodes[0].label"},
		"off board":     {`{"nodes":[{"id":"a","kind":"cache","label":"c","x":5000,"y":1}]}`, "nodes[0].x"},
		"duplicate id": {`{"nodes":[{"id":"a","kind":"cache","label":"c","x":1,"y":1},` +
			`{"id":"a","kind":"cache","label":"d","x":1,"y":1}]}`, "nodes[1].id"},
		"dangling edge": {`{"nodes":[{"id":"a","kind":"cache","label":"c","x":1,"y":1}],"edges":[{"from":"a","to":"b","label":""}]}`, "edges[0].to"},
		"self edge":     {`{"nodes":[{"id":"a","kind":"cache","label":"c","x":1,"y":1}],"edges":[{"from":"a","to":"a","label":""}]}`, "edges[0].to"},
		"too large":     {strings.Repeat(" ", MaxDiagramSize+1) + "{}", "diagram"},
	}
	for name, tc := range cases {
		if _, errs := ParseDiagram(tc.raw); errs[tc.field] == "" {
			t.Errorf("%s: want an error on %s, got %v", name, tc.field, errs)
		}
	}
	many := Diagram{}
	for i := range MaxNodes + 1 {
		many.Nodes = append(many.Nodes, Node{ID: many.NewNodeID(), Kind: "cache", Label: "c", X: i, Y: 1})
	}
	if _, errs := ParseDiagram(many.JSON()); errs["nodes"] == "" {
		t.Errorf("%d boxes were accepted", MaxNodes+1)
	}
}

func TestRemoveNodeTakesItsArrows(t *testing.T) {
	d, _ := ParseDiagram(goodDiagram)
	d = d.RemoveNode("n2")
	if len(d.Nodes) != 1 || len(d.Edges) != 0 {
		t.Fatalf("after removing n2: %+v", d)
	}
}

// FuzzParseDiagram checks that no input panics the parser and that a
// diagram it accepts is valid and reads back the same from its JSON.
func FuzzParseDiagram(f *testing.F) {
	f.Add(goodDiagram)
	f.Add(`{"nodes":[],"edges":[]}`)
	f.Add(`{"nodes":[{"id":"a","kind":"dns","label":"é\u0000","x":-1,"y":1e9}]}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, raw string) {
		d, errs := ParseDiagram(raw)
		if len(errs) > 0 {
			return
		}
		if v := d.Validate(); len(v) > 0 {
			t.Fatalf("accepted an invalid diagram: %v", v)
		}
		again, errs := ParseDiagram(d.JSON())
		if len(errs) > 0 || !reflect.DeepEqual(again, d) {
			t.Fatalf("round trip changed the diagram: %v\n%+v\n%+v", errs, d, again)
		}
	})
}
