package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/interviews"
	"github.com/sdworkbook/workbook/web/views"
)

// diagramView lays out a stored diagram; one that no longer reads (it
// was validated when stored) shows as empty.
func (s *Server) diagramView(raw string) views.DiagramView {
	d, errs := interviews.ParseDiagram(raw)
	if len(errs) > 0 {
		d = interviews.Diagram{}
	}
	return views.NewDiagramView(d)
}

// interviewDiagram changes a design stage's diagram: a list editor's
// operation (add-node, add-edge, remove-node, remove-edge) from a form,
// or the whole diagram (replace, with diagram as JSON) from the board's
// script, which asks for a JSON answer.
func (s *Server) interviewDiagram(c *gin.Context) {
	p, sess, step, ok := s.sessionStage(c)
	if !ok {
		return
	}
	if stage, _ := interviews.StageByID(step.Stage); !stage.Design {
		s.notFound(c)
		return
	}
	row, _ := sess.Stage(step.Stage)
	current, errs := interviews.ParseDiagram(row.Diagram)
	if len(errs) > 0 {
		current = interviews.Diagram{Nodes: []interviews.Node{}, Edges: []interviews.Edge{}}
	}
	form := c.Request.PostForm
	next, errs := diagramOp(current, form.Get("op"), form)
	if len(errs) > 0 {
		if wantsJSON(c) {
			s.fail(c, apperr.Fields(errs))
			return
		}
		v := s.diagramView(row.Diagram)
		v.Errors, v.Kind, v.Label = errs, form.Get("kind"), form.Get("label")
		s.renderSession(c, http.StatusUnprocessableEntity, p, sess, &stageInput{stage: step.Stage, answer: row.Answer, diagram: &v})
		return
	}
	js := next.JSON()
	if err := s.store.UpdateInterviewStage(c.Request.Context(), currentUser(c).ID, sess.ID, step.Stage,
		store.StageUpdate{Diagram: &js}, s.now()); err != nil {
		s.failOr404(c, err)
		return
	}
	if wantsJSON(c) {
		c.JSON(http.StatusOK, gin.H{"diagram": next})
		return
	}
	c.Redirect(http.StatusSeeOther, sessionURL(sess)+"#diagram-"+step.Stage)
}

// diagramOp applies one operation to a diagram; refused input comes back
// as messages by form field.
func diagramOp(d interviews.Diagram, op string, form map[string][]string) (interviews.Diagram, map[string]string) {
	get := func(k string) string {
		if v := form[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	switch op {
	case "replace":
		return interviews.ParseDiagram(get("diagram"))
	case "add-node":
		x, y := d.FreeSpot()
		d.Nodes = append(d.Nodes, interviews.Node{ID: d.NewNodeID(), Kind: get("kind"), Label: strings.TrimSpace(get("label")), X: x, Y: y})
		return checked(d, len(d.Nodes)-1, -1)
	case "add-edge":
		d.Edges = append(d.Edges, interviews.Edge{From: get("from"), To: get("to"), Label: strings.TrimSpace(get("edge_label"))})
		return checked(d, -1, len(d.Edges)-1)
	case "remove-node":
		return d.RemoveNode(get("id")), nil
	case "remove-edge":
		i, err := strconv.Atoi(get("index"))
		if err != nil || i < 0 || i >= len(d.Edges) {
			return d, map[string]string{"index": "That arrow is not on the board."}
		}
		d.Edges = append(d.Edges[:i:i], d.Edges[i+1:]...)
		return d, nil
	}
	return d, map[string]string{"op": "Choose add-node, add-edge, remove-node, remove-edge or replace."}
}

// checked validates a diagram after a box (node) or an arrow (edge) was
// added, naming the add form's fields in its messages.
func checked(d interviews.Diagram, node, edge int) (interviews.Diagram, map[string]string) {
	errs := d.Validate()
	if len(errs) == 0 {
		return d, nil
	}
	out := map[string]string{}
	rename := map[string]string{"nodes": "label", "edges": "edge_label"}
	if node >= 0 {
		p := "nodes[" + strconv.Itoa(node) + "]."
		rename[p+"kind"], rename[p+"label"], rename[p+"x"] = "kind", "label", "label"
	}
	if edge >= 0 {
		p := "edges[" + strconv.Itoa(edge) + "]."
		rename[p+"from"], rename[p+"to"], rename[p+"label"] = "from", "to", "edge_label"
	}
	for k, v := range errs {
		if f, ok := rename[k]; ok {
			out[f] = v
		} else {
			out["diagram"] = v
		}
	}
	return d, out
}
