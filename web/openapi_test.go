package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/paths"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// apiChecker validates real answers against the served OpenAPI document
// and remembers which documented operations were answered.
type apiChecker struct {
	t     *testing.T
	model *v3.Document
	v     validator.Validator
	opts  *config.ValidationOptions
	seen  map[string]bool // "GET /api/labs/{lab}/instances"
}

// newAPIChecker reads the document the app serves and builds a validator
// of it; the document must itself be valid OpenAPI 3.1.
func newAPIChecker(t *testing.T, body []byte) *apiChecker {
	t.Helper()
	doc, err := libopenapi.NewDocument(body)
	if err != nil {
		t.Fatal(err)
	}
	if v := doc.GetVersion(); v != "3.1.0" {
		t.Fatalf("openapi %q, want 3.1.0", v)
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		t.Fatalf("the document is not valid OpenAPI: %s", describe(verrs))
	}
	return &apiChecker{t: t, model: &m.Model, v: v, opts: config.NewValidationOptions(), seen: map[string]bool{}}
}

// check validates resp (its status and body) against the operation its
// request selects, and returns the body.
func (k *apiChecker) check(resp *http.Response) []byte {
	k.t.Helper()
	body := k.read(resp)
	k.validate(resp, body)
	return body
}

// read reads resp's body and puts it back for the validator.
func (k *apiChecker) read(resp *http.Response) []byte {
	k.t.Helper()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		k.t.Fatal(err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return body
}

func (k *apiChecker) validate(resp *http.Response, body []byte) {
	k.t.Helper()
	req := resp.Request
	_, perrs, tmpl := paths.FindPath(req, k.model, k.opts)
	if len(perrs) > 0 || tmpl == "" {
		k.t.Errorf("%s %s: not in the document: %s", req.Method, req.URL.Path, describe(perrs))
		return
	}
	k.seen[req.Method+" "+tmpl] = true
	if ok, verrs := k.v.ValidateHttpResponse(req, resp); !ok {
		k.t.Errorf("%s %s → %d does not match the document: %s\n%.600s", req.Method, req.URL.RequestURI(), resp.StatusCode, describe(verrs), body)
	}
}

// expect checks resp and that its status is want.
func (k *apiChecker) expect(resp *http.Response, want int) []byte {
	k.t.Helper()
	body := k.check(resp)
	if resp.StatusCode != want {
		k.t.Errorf("%s %s: status %d, want %d\n%.600s", resp.Request.Method, resp.Request.URL.RequestURI(), resp.StatusCode, want, body)
	}
	return body
}

// stream opens an event stream as b, checks its status and content type
// against the document, and closes it.
func (k *apiChecker) stream(b *browser, path string) {
	k.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.base+path, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.c.Do(req)
	if err != nil {
		k.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		k.t.Errorf("GET %s: %d %s, want a stream", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	resp.Body = io.NopCloser(strings.NewReader(""))
	k.validate(resp, nil)
}

// unseen lists the documented operations no answer was checked against,
// among the paths keep selects.
func (k *apiChecker) unseen(keep func(path string) bool) []string {
	var out []string
	for p, item := range k.model.Paths.PathItems.FromOldest() {
		if !keep(p) {
			continue
		}
		for m := range item.GetOperations().KeysFromOldest() {
			if key := strings.ToUpper(m) + " " + p; !k.seen[key] {
				out = append(out, key)
			}
		}
	}
	return out
}

// describe lists validation errors with each schema failure's place.
func describe(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  %s: %s", e.Message, e.Reason)
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n    %s: %s", f.FieldPath, f.Reason)
		}
	}
	return b.String()
}

// decodeBody decodes a JSON object.
func decodeBody(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%.300s", err, body)
	}
	return m
}
