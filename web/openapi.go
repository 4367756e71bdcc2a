package web

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
)

// The OpenAPI 3.1 description of /api/: the app's routes are written by
// hand (openapi/base.json); each lab instance's own routes are generated
// from the labs' routers (openapi/labs.json, rewritten by
// `go test ./web -run TestOpenAPIDocument -update`).
var (
	//go:embed openapi/base.json
	openAPIBase []byte
	//go:embed openapi/labs.json
	openAPILabs []byte
)

// apiDocument is the served document and its entity tag.
type apiDocument struct {
	body []byte
	etag string
}

// buildAPIDocument merges the generated lab paths into the hand-written
// document.
func buildAPIDocument() (apiDocument, error) {
	var base, labs map[string]any
	if err := json.Unmarshal(openAPIBase, &base); err != nil {
		return apiDocument{}, fmt.Errorf("openapi/base.json: %w", err)
	}
	if err := json.Unmarshal(openAPILabs, &labs); err != nil {
		return apiDocument{}, fmt.Errorf("openapi/labs.json: %w", err)
	}
	paths, _ := base["paths"].(map[string]any)
	extra, _ := labs["paths"].(map[string]any)
	if paths == nil || extra == nil {
		return apiDocument{}, fmt.Errorf("openapi: a document without paths")
	}
	for p, item := range extra {
		if _, dup := paths[p]; dup {
			return apiDocument{}, fmt.Errorf("openapi: %s is both written and generated", p)
		}
		paths[p] = item
	}
	body, err := json.Marshal(base)
	if err != nil {
		return apiDocument{}, err
	}
	sum := sha256.Sum256(body)
	return apiDocument{body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}, nil
}

// openAPI serves the document: public, revalidated by its ETag.
func (s *Server) openAPI(c *gin.Context) {
	c.Header("ETag", s.apiDoc.etag)
	c.Header("Cache-Control", "public, no-cache")
	if match := c.GetHeader("If-None-Match"); match != "" && match == s.apiDoc.etag {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, "application/json", s.apiDoc.body)
}
