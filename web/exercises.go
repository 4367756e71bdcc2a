package web

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/labs"
)

// exerciseJSON is an exercise as GET /api/exercises lists it.
type exerciseJSON struct {
	ID    string `json:"id"`
	Lab   string `json:"lab"`
	Title string `json:"title"`
	Kind  string `json:"kind"`
	// Step is a design exercise's rung on its lab's ladder, from 1; 0 for
	// a build exercise, which is off the ladder.
	Step     int         `json:"step"`
	MaxScore int         `json:"max_score"`
	Checks   []checkJSON `json:"checks"`
	// Languages a build exercise may be written in; absent for a design
	// exercise.
	Languages []string `json:"languages,omitempty"`
	// Starter names a build exercise's starter kits' address, with
	// ?lang= one of Languages.
	Starter string `json:"starter,omitempty"`
}

type checkJSON struct {
	Name   string `json:"name"`
	Points int    `json:"points"`
}

// apiExercises lists every graded exercise, or one lab's (?lab=), ordered
// by lab (as pages show the labs) and then by step, a lab's build
// exercises after its ladder. A lab that does not exist, or has no
// exercises, is a 404 naming lab.
func (s *Server) apiExercises(c *gin.Context) {
	labID, filtered := c.GetQuery("lab")
	if filtered && !slices.ContainsFunc(s.grader.Labs(), func(l labs.Lab) bool { return l.Info().ID == labID }) {
		s.failWith(c, http.StatusNotFound, string(apperr.NotFound), "No such lab.",
			map[string]string{"lab": fmt.Sprintf("No graded lab %q; the labs with exercises are %s.", labID, s.gradedLabIDs())})
		return
	}
	out := []exerciseJSON{}
	for _, l := range s.grader.Labs() {
		if labID != "" && l.Info().ID != labID {
			continue
		}
		for _, ex := range s.grader.Exercises(l.Info().ID) {
			out = append(out, exerciseOut(ex))
		}
	}
	c.JSON(http.StatusOK, gin.H{"exercises": out})
}

func (s *Server) gradedLabIDs() string {
	var ids []string
	for _, l := range s.grader.Labs() {
		ids = append(ids, l.Info().ID)
	}
	return strings.Join(ids, ", ")
}

func exerciseOut(ex labs.Exercise) exerciseJSON {
	e := exerciseJSON{ID: ex.ID, Lab: ex.Lab, Title: ex.Title, Kind: ex.Kind(), Step: ex.Step, MaxScore: ex.MaxScore(), Checks: []checkJSON{}}
	for _, ch := range ex.Checks {
		e.Checks = append(e.Checks, checkJSON{Name: ch.Name, Points: ch.Points})
	}
	if ex.Build != nil {
		e.Languages = slices.Clone(labs.Languages)
		e.Starter = "/api/exercises/" + ex.ID + "/starter"
	}
	return e
}

// apiStarter answers a build exercise's starter kit in one language as a
// zip: the kit in a folder of its own, with a README of the contract. A
// design exercise, or one without a kit in that language, is a 404; a
// language the workbook does not offer is a 400 naming lang.
func (s *Server) apiStarter(c *gin.Context) {
	_, ex, ok := s.grader.Exercise(c.Param("id"))
	if !ok || ex.Build == nil || ex.Build.Starters == nil {
		s.notFound(c)
		return
	}
	lang := c.Query("lang")
	if !slices.Contains(labs.Languages, lang) {
		s.failWith(c, http.StatusBadRequest, string(apperr.Invalid), "Choose the starter kit's language.",
			map[string]string{"lang": fmt.Sprintf("One of %s.", strings.Join(labs.Languages, ", "))})
		return
	}
	kit, err := fs.Sub(ex.Build.Starters, lang)
	if err != nil {
		s.fail(c, err)
		return
	}
	folder := ex.ID + "-" + lang
	data, err := starterZip(kit, folder, starterReadme(ex, lang, s.siteURL(c, "")))
	if err != nil {
		if apperr.Is(err, apperr.NotFound) {
			s.notFound(c)
			return
		}
		s.fail(c, err)
		return
	}
	c.Header("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": folder + ".zip"}))
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/zip", data)
}

// starterZip zips every file of kit under folder/, with readme as
// folder/README.md (a kit's own README.md follows it there).
func starterZip(kit fs.FS, folder, readme string) ([]byte, error) {
	var files []string
	err := fs.WalkDir(kit, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil || len(files) == 0 {
		return nil, apperr.Wrap(err, apperr.NotFound, "no starter kit")
	}
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, p := range files {
		b, err := fs.ReadFile(kit, p)
		if err != nil {
			return nil, err
		}
		if p == "README.md" {
			readme += "\n---\n\n" + string(b)
			continue
		}
		if err := addZipFile(w, path.Join(folder, p), b); err != nil {
			return nil, err
		}
	}
	if err := addZipFile(w, path.Join(folder, "README.md"), []byte(readme)); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func addZipFile(w *zip.Writer, name string, b []byte) error {
	h := &zip.FileHeader{Name: name, Method: zip.Deflate}
	h.SetMode(0o644)
	f, err := w.CreateHeader(h)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, bytes.NewReader(b))
	return err
}

// starterReadme is a kit's README: the card, the contract, what the
// service is given, the checks, and how to run and submit it.
func starterReadme(ex labs.Exercise, lang, base string) string {
	var b strings.Builder
	name := map[string]string{labs.LangGo: "Go", labs.LangPython: "Python"}[lang]
	fmt.Fprintf(&b, "# %s: starter kit in %s\n\n", ex.Title, name)
	for _, line := range ex.Card {
		fmt.Fprintf(&b, "- %s\n", line)
	}
	b.WriteString("\n## The contract\n\n" + strings.Join(ex.Build.Contract, "\n\n") + "\n\n")
	b.WriteString("## What your service is given\n\n")
	fmt.Fprintf(&b, "The grader runs %d replica(s) of your service behind one address, each in a container with no network but its own dependencies. "+
		"It listens on `0.0.0.0:$PORT` and answers `GET /healthz` with 200 within 20 seconds of starting.\n\n", max(ex.Build.Replicas, 1))
	for _, v := range starterEnv(ex.Build) {
		fmt.Fprintf(&b, "- `%s`\n", v)
	}
	b.WriteString("\n## What the grader checks\n\n")
	for _, ch := range ex.Checks {
		fmt.Fprintf(&b, "- **%s** (%d points): %s\n", ch.Name, ch.Points, ch.Requirement)
	}
	run := "go run ."
	if lang == labs.LangPython {
		run = "python3 app.py"
	}
	fmt.Fprintf(&b, "\n## Running it\n\n```sh\nPORT=8080 REPLICA_ID=1 %s\n```\n\n", run)
	fmt.Fprintf(&b, "## Submitting\n\nZip this folder (or make a .tar.gz of it) and upload it on the exercise page, %s/labs/%s/exercises/%s, or with curl and a personal access token:\n\n", base, ex.Lab, ex.ID)
	fmt.Fprintf(&b, "```sh\ncurl -H \"Authorization: Bearer $WORKBOOK_TOKEN\" -F exercise=%s -F language=%s -F archive=@service.zip %s/api/labs/%s/submissions\n```\n", ex.ID, lang, base, ex.Lab)
	return b.String()
}

// starterEnv lists the environment a build exercise's service gets.
func starterEnv(bd *labs.Build) []string {
	out := []string{"PORT", "REPLICA_ID"}
	if bd.Redis {
		out = append(out, "REDIS_URL (redis://[:password@]host:port/db)")
	}
	if bd.Postgres {
		out = append(out, "DATABASE_URL (a PostgreSQL URL)")
	}
	if bd.Downstream {
		out = append(out, "DOWNSTREAM_URL (the dependency to call)")
	}
	keys := make([]string, 0, len(bd.Env))
	for k := range bd.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		out = append(out, k+"="+bd.Env[k])
	}
	return out
}
