package web

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/labs"
)

// reconfiguringMessage answers a request that meets a reconfigure.
const reconfiguringMessage = "This instance is being reconfigured right now; send the request again in a moment."

// errReplaced is the detail logged when the instance that served a
// request was replaced under it.
func errReplaced(status int, body []byte) error {
	return fmt.Errorf("%w: the old instance answered %d: %.500s", labs.ErrReconfiguring, status, body)
}

// serveLabRoute hands the request to the instance's own handler, with
// the instance's prefix stripped (paths relative to the instance) and a
// body of at most 64 KiB. While a reconfigure replaces the instance the
// answer is 409 "reconfiguring"; and a request already in flight when one
// began, whose instance failed as it was closed under it (a 5xx), gets the
// same answer, with the lab's own in the log.
func (s *Server) serveLabRoute(c *gin.Context, r *labs.Running) {
	h, gen, err := r.Serving()
	if err != nil {
		s.fail(c, labErr(err))
		return
	}
	prefix := "/api/labs/" + r.LabID() + "/instances/" + r.ID
	req := c.Request
	req.Body = http.MaxBytesReader(c.Writer, req.Body, 64<<10)
	if req.URL.RawPath != "" && !strings.HasPrefix(req.URL.RawPath, prefix) {
		req.URL.RawPath = "" // the prefix itself was escaped: match the decoded path
	}
	w := &heldOn5xx{w: c.Writer}
	w.app = w.appKeys[:0]
	for k := range c.Writer.Header() {
		w.app = append(w.app, k)
	}
	http.StripPrefix(prefix, h).ServeHTTP(w, req)
	if !w.held {
		w.WriteHeader(http.StatusOK) // an answer with no body and no status
		return
	}
	if r.Replaced(gen) {
		s.fail(c, labErr(errReplaced(w.status, w.body.Bytes())))
		return
	}
	w.release()
}

// heldOn5xx passes a lab route's answer through as it is written, except
// a 5xx, which it holds until it is known whether the instance was
// replaced while it was made (then the learner gets "reconfiguring"
// instead). Lab answers are small JSON, and a 5xx is rare: the usual
// answer is not copied.
type heldOn5xx struct {
	w      http.ResponseWriter
	status int // 0 until WriteHeader
	held   bool
	header http.Header // a held answer's headers
	body   bytes.Buffer
	// app names the headers the app set before the lab's handler ran.
	app     []string
	appKeys [16]string
}

func (b *heldOn5xx) Header() http.Header {
	if b.held {
		return b.header
	}
	return b.w.Header()
}

func (b *heldOn5xx) WriteHeader(status int) {
	if b.status != 0 {
		return
	}
	b.status = status
	if status < 500 {
		b.w.WriteHeader(status)
		return
	}
	// The lab's headers so far go aside with the answer, so that a
	// "reconfiguring" error does not go out with them.
	b.held = true
	b.header = http.Header{}
	for k, v := range b.w.Header() {
		if !slices.Contains(b.app, k) {
			b.header[k] = v
			delete(b.w.Header(), k)
		}
	}
}

func (b *heldOn5xx) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	if b.held {
		return b.body.Write(p)
	}
	return b.w.Write(p)
}

// release sends a held answer as the lab made it.
func (b *heldOn5xx) release() {
	for k, v := range b.header {
		b.w.Header()[k] = v
	}
	b.w.WriteHeader(b.status)
	_, _ = b.w.Write(b.body.Bytes())
}
