package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/gradebook"
	"github.com/sdworkbook/workbook/internal/store"
	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/web/views"
)

// exercise finds a lab exercise the grader grades.
func (s *Server) exercise(id string) (labs.Exercise, bool) {
	if s.grader == nil {
		return labs.Exercise{}, false
	}
	_, ex, ok := s.grader.Exercise(id)
	return ex, ok
}

// unassigned leaves out of opts what the class assigns already.
func unassigned(opts []views.AssignOption, cols []gradebook.Column) []views.AssignOption {
	set := map[string]bool{}
	for _, c := range cols {
		set[c.Kind+":"+c.Ref] = true
	}
	out := opts[:0:0]
	for _, o := range opts {
		if !set[o.Value] {
			out = append(out, o)
		}
	}
	return out
}

// gradebookPage is the class page of its instructor: the gradebook,
// sorted and filtered, with the forms that set assignments.
func (s *Server) gradebookPage(c *gin.Context, cl store.Class) {
	book, err := s.books.Build(c.Request.Context(), cl)
	if err != nil {
		s.fail(c, err)
		return
	}
	q, only, sortKey := c.Query("q"), c.Query("only"), c.Query("sort")
	if only != "late" && only != "missing" {
		only = ""
	}
	dists := book.Distributions()
	book.Filter(q, only)
	book.Sort(sortKey, c.Query("dir") == "desc")
	m := views.GradebookPage{Class: classRef(cl), Book: book, Distributions: dists, JoinURL: s.joinURL(c, cl.JoinCode), Query: q, Only: only, Sort: sortKey,
		Desc: c.Query("dir") == "desc", Now: s.now()}
	m.Options = unassigned(s.assignmentOptions(), book.Columns)
	s.render(c, http.StatusOK, views.Page{Title: cl.Name, Section: "classes"}, views.GradebookView(m))
}

func (s *Server) gradebookCSV(c *gin.Context) {
	cl, ok := s.classOr404(c)
	if !ok {
		return
	}
	book, err := s.books.Build(c.Request.Context(), cl)
	if err != nil {
		s.fail(c, err)
		return
	}
	book.Sort("email", false)
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-gradebook.csv"; filename*=UTF-8''%s-gradebook.csv`,
		fileSafe(cl.Name), url.PathEscape(cl.Name)))
	c.Status(http.StatusOK)
	if err := book.WriteCSV(c.Writer); err != nil {
		_ = c.Error(err)
	}
}

// resultsJSON is a class's results: learners, assignments, every counted
// submission with its score, the class's override and late flag.
func (s *Server) resultsJSON(c *gin.Context) {
	cl, ok := s.classOr404(c)
	if !ok {
		return
	}
	res, err := s.books.Results(c.Request.Context(), cl, s.now())
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-results.json"`, fileSafe(cl.Name)))
	c.Header("Content-Type", "application/json")
	enc := json.NewEncoder(c.Writer)
	enc.SetIndent("", "  ")
	c.Status(http.StatusOK)
	_ = enc.Encode(res)
}

// fileSafe is a class name as a download's file name: lower-case
// letters and digits joined by dashes.
func fileSafe(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if out == "" {
		return "class"
	}
	return out
}
