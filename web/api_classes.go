package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/names"
	"github.com/sdworkbook/workbook/internal/store"
)

// The class API, for scripts: the same session as the pages, or a
// personal access token.

// classJSON is a class as the API shows it; the join code only to the
// class's instructor.
type classJSON struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	JoinCode  string    `json:"join_code,omitempty"`
	JoinURL   string    `json:"join_url,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	URL       string    `json:"url"`
}

func (s *Server) classJSON(c *gin.Context, cl store.Class, teaching bool) classJSON {
	out := classJSON{ID: cl.ID, Name: cl.Name, CreatedAt: cl.CreatedAt, URL: "/classes/" + strconv.FormatInt(cl.ID, 10)}
	if teaching {
		out.JoinCode, out.JoinURL = cl.JoinCode, s.joinURL(c, cl.JoinCode)
	}
	return out
}

// decodeStrict reads one JSON object into v, refusing unknown fields and
// trailing data; the error names what is wrong.
func decodeStrict(body []byte, v any, shape string) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, tail := dec.Token(); !errors.Is(tail, io.EOF) {
			err = errors.New("one JSON object with nothing after it")
		}
	}
	if err != nil {
		return apperr.Fields(map[string]string{"body": "The body must be a JSON object " + shape + ": " + err.Error()})
	}
	return nil
}

// ParseCreateClass reads POST /api/classes: {"name"}, the name trimmed and
// checked.
func ParseCreateClass(body []byte) (string, error) {
	var req struct {
		Name *string `json:"name"`
	}
	if err := decodeStrict(body, &req, `{"name": "…"}`); err != nil {
		return "", err
	}
	name := ""
	if req.Name != nil {
		name = strings.TrimSpace(*req.Name)
	}
	if msg := checkClassName(name); msg != "" {
		return "", apperr.Fields(map[string]string{"name": msg})
	}
	return name, nil
}

// ParseJoinClass reads POST /api/classes/join: {"join_code"}, upper-cased.
func ParseJoinClass(body []byte) (string, error) {
	var req struct {
		JoinCode *string `json:"join_code"`
	}
	if err := decodeStrict(body, &req, `{"join_code": "…"}`); err != nil {
		return "", err
	}
	code := ""
	if req.JoinCode != nil {
		code = strings.ToUpper(strings.TrimSpace(*req.JoinCode))
	}
	if code == "" || len(code) > 16 {
		return "", apperr.Fields(map[string]string{"join_code": "The class's join code: 8 letters and digits, like K7QM2XPA."})
	}
	return code, nil
}

var errNotInstructor = apperr.New(apperr.Forbidden, "Only instructors create classes; an admin can make your account an instructor's.")

// checkClassName returns the message for a bad class name, or "".
func checkClassName(name string) string {
	switch {
	case name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxClassName:
		return fmt.Sprintf("A class needs a name of 1 to %d characters.", maxClassName)
	case names.HasUnsafe(name):
		return names.Message
	}
	return ""
}

// newClass creates a class for the current user, who must teach.
func (s *Server) newClass(c *gin.Context, name string) (store.Class, error) {
	u := currentUser(c)
	if !isStaff(u) {
		return store.Class{}, errNotInstructor
	}
	if msg := checkClassName(name); msg != "" {
		return store.Class{}, apperr.Fields(map[string]string{"name": msg})
	}
	taught, err := s.store.ClassesTaught(c.Request.Context(), u.ID)
	if err != nil {
		return store.Class{}, err
	}
	if len(taught) >= maxClasses {
		return store.Class{}, apperr.New(apperr.TooMany, "You already run %d classes; delete an old one first.", maxClasses)
	}
	return s.store.CreateClass(c.Request.Context(), u.ID, name, s.now())
}

// apiClasses lists the classes the user teaches and the ones they are in.
func (s *Server) apiClasses(c *gin.Context) {
	ts, js, err := s.classLists(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	taught, joined := make([]classJSON, 0, len(ts)), make([]classJSON, 0, len(js))
	for _, cl := range ts {
		taught = append(taught, s.classJSON(c, cl, true))
	}
	for _, cl := range js {
		joined = append(joined, s.classJSON(c, cl, false))
	}
	c.JSON(http.StatusOK, gin.H{"teaching": taught, "joined": joined})
}

// apiCreateClass: {"name"} → 201 {"id", "join_code", …}.
func (s *Server) apiCreateClass(c *gin.Context) {
	if !isStaff(currentUser(c)) {
		s.fail(c, errNotInstructor)
		return
	}
	body, err := readJSONBody(c, 4<<10)
	if err != nil {
		s.fail(c, err)
		return
	}
	name, err := ParseCreateClass(body)
	if err != nil {
		s.fail(c, err)
		return
	}
	cl, err := s.newClass(c, name)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := s.classJSON(c, cl, true)
	c.Header("Location", "/api/classes/"+strconv.FormatInt(cl.ID, 10)+"/gradebook")
	c.JSON(http.StatusCreated, out)
}

// apiJoinClass: {"join_code"} → 200 with the class joined.
func (s *Server) apiJoinClass(c *gin.Context) {
	body, err := readJSONBody(c, 4<<10)
	if err != nil {
		s.fail(c, err)
		return
	}
	code, err := ParseJoinClass(body)
	if err != nil {
		s.fail(c, err)
		return
	}
	cl, err := s.store.ClassByCode(c.Request.Context(), code)
	if apperr.Is(err, apperr.NotFound) {
		s.fail(c, apperr.Fields(map[string]string{"join_code": "No class has this join code."}))
		return
	}
	if err != nil {
		s.fail(c, err)
		return
	}
	if cl.InstructorID == currentUser(c).ID {
		s.fail(c, apperr.Fields(map[string]string{"join_code": ownClassJoin}))
		return
	}
	if err := s.store.JoinClass(c.Request.Context(), cl.ID, currentUser(c).ID, s.now()); err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"joined": true, "class": s.classJSON(c, cl, false)})
}

// apiGradebook is a class's gradebook as JSON for its instructor, sorted
// and filtered like the page (sort, dir, q, only).
func (s *Server) apiGradebook(c *gin.Context) {
	cl, ok := s.classOr404(c)
	if !ok {
		return
	}
	book, err := s.books.Build(c.Request.Context(), cl)
	if err != nil {
		s.fail(c, err)
		return
	}
	only := c.Query("only")
	if only != "" && only != "late" && only != "missing" {
		s.fail(c, apperr.Fields(map[string]string{"only": `"late", "missing" or nothing`}))
		return
	}
	book.Filter(c.Query("q"), only)
	book.Sort(c.Query("sort"), c.Query("dir") == "desc")
	c.JSON(http.StatusOK, gin.H{"class": s.classJSON(c, cl, true), "generated_at": s.now().UTC(),
		"assignments": book.Columns, "learners": book.Rows, "lessons_total": book.Lessons})
}
