package web

import (
	"bytes"
	"fmt"
	"net/http"
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
	prefix := "/api/labs/" + r.Lab.Info().ID + "/instances/" + r.ID
	req := c.Request
	req.Body = http.MaxBytesReader(c.Writer, req.Body, 64<<10)
	if req.URL.RawPath != "" && !strings.HasPrefix(req.URL.RawPath, prefix) {
		req.URL.RawPath = "" // the prefix itself was escaped: match the decoded path
	}
	buf := &bufferedResponse{header: http.Header{}}
	http.StripPrefix(prefix, h).ServeHTTP(buf, req)
	if buf.status >= 500 && r.Replaced(gen) {
		s.fail(c, labErr(errReplaced(buf.status, buf.body.Bytes())))
		return
	}
	buf.copyTo(c.Writer)
}

// bufferedResponse holds a lab route's answer until it is known whether
// the instance was replaced while it was made. Lab answers are small JSON.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

func (b *bufferedResponse) copyTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	b.WriteHeader(http.StatusOK)
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}
