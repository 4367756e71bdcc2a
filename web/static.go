package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/labs"
	"github.com/sdworkbook/workbook/lessons"
)

//go:embed static
var staticFS embed.FS

// assets serves the embedded static files. Each file's URL carries a hash of
// its content, so it can be cached for a year and still change on upgrade.
type assets struct {
	files map[string][]byte
	hash  map[string]string
}

func loadAssets() (*assets, error) {
	a := &assets{files: map[string][]byte{}, hash: map[string]string{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		sum := sha256.Sum256(b)
		a.files[name] = b
		a.hash[name] = hex.EncodeToString(sum[:6])
		return nil
	})
	a.add("chroma.css", []byte(lessons.HighlightCSS()))
	return a, err
}

// add registers a generated file (such as the highlighting stylesheet).
func (a *assets) add(name string, b []byte) {
	sum := sha256.Sum256(b)
	a.files[name] = b
	a.hash[name] = hex.EncodeToString(sum[:6])
}

// addPictures serves the picture scripts of the labs that have one.
func (a *assets) addPictures(ls []labs.Lab) {
	for _, l := range ls {
		if p, ok := l.(labs.Pictured); ok {
			a.add(pictureFile(l.Info().ID), p.Picture())
		}
	}
}

// pictureFile is where a lab's picture script is served under /static/.
func pictureFile(labID string) string { return "labs/" + labID + ".js" }

// pictureURL is the versioned URL of a lab's picture script, or "" when
// the lab draws no pictures (labs.Pictured).
func (s *Server) pictureURL(labID string) string {
	if _, ok := s.assets.files[pictureFile(labID)]; !ok {
		return ""
	}
	return s.assets.url(pictureFile(labID))
}

// url is the versioned URL of a static file.
func (a *assets) url(name string) string {
	if h, ok := a.hash[name]; ok {
		return "/static/" + name + "?v=" + h
	}
	return "/static/" + name
}

func (s *Server) static(c *gin.Context) {
	name := strings.TrimPrefix(path.Clean(c.Param("path")), "/")
	b, ok := s.assets.files[name]
	if !ok {
		s.notFound(c)
		return
	}
	h := s.assets.hash[name]
	if c.Query("v") == h {
		c.Header("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		c.Header("Cache-Control", "public, max-age=300")
	}
	c.Header("ETag", `"`+h+`"`)
	http.ServeContent(c.Writer, c.Request, name, time.Time{}, bytes.NewReader(b))
}
