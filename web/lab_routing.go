package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sdworkbook/workbook/internal/apperr"
	"github.com/sdworkbook/workbook/internal/duplex"
	"github.com/sdworkbook/workbook/labs"
)

// Sentences for an instance that is between replicas.
const (
	movingMessage     = "This lab instance is moving to another server right now; send the request again in a few seconds."
	holderDownMessage = "The server running this lab instance is not answering. If it does not come back, another server starts the instance again within half a minute; send the request again then."
)

// replicaTransport carries requests forwarded to the replica holding an
// instance: a replica that is gone is known within a second.
func replicaTransport() *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // the answer goes on as it came
	}
}

// ownInstance finds the signed-in learner's instance that :lab and :id
// name; another learner's instance and a missing one are the same 404.
// The replica that holds the instance serves it from memory; a request
// reaching another replica is forwarded to the holder, or, when the
// holder is gone, the instance is started again here.
func (s *Server) ownInstance(c *gin.Context) {
	lab, id, owner := c.Param("lab"), c.Param("id"), currentUser(c).ID
	r, err := s.labs.Get(lab, id, owner)
	if errors.Is(err, labs.ErrNotFound) {
		var loc labs.Located
		loc, err = s.labs.Locate(c.Request.Context(), lab, id, owner, c.GetHeader(labs.ReplicaHeader))
		if err == nil && loc.Local == nil {
			loc.Local = s.forward(c, lab, id, owner, loc.Remote)
			if loc.Local == nil {
				c.Abort()
				return
			}
		}
		r = loc.Local
	}
	if err != nil {
		s.fail(c, labErr(err))
		return
	}
	c.Set(ctxInstance, r)
}

// forward hands the request to the replica that holds instance id, and
// its answer back as it comes (event streams too). The forwarded request
// names the replica it expects, which never forwards it again. When the
// holder cannot be reached and its process has ended, the instance is
// taken over here: forward returns it when the request never left this
// replica, so it is served here; otherwise nil, the answer given.
func (s *Server) forward(c *gin.Context, lab, id string, owner int64, to labs.Replica) *labs.Running {
	target, err := url.Parse(to.URL)
	if err != nil {
		s.fail(c, fmt.Errorf("replica address %q: %w", to.URL, err))
		return nil
	}
	body := keepBody(c.Request)
	var taken *labs.Running
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // cross-origin checks compare it with Origin
			pr.Out.Header.Set(labs.ReplicaHeader, to.ID)
		},
		Transport: s.replicas,
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode == http.StatusNotFound || resp.StatusCode >= 500 {
				s.labs.Forget(id) // read where it is again next time
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			s.labs.Forget(id)
			if errors.Is(err, context.Canceled) && req.Context().Err() != nil {
				return // the client went away
			}
			r, terr := s.labs.TakeOverGone(req.Context(), lab, id, owner, to)
			switch {
			case terr == nil && notSent(err) && !body.touched():
				taken = r // served here, as if it had come here first
			case terr == nil:
				s.fail(c, labErr(labs.ErrMoving)) // it may have reached the holder before it died
			case errors.Is(terr, labs.ErrHolderDown):
				s.fail(c, labErr(fmt.Errorf("%w: %s: %w", labs.ErrHolderDown, to.URL, errors.Join(err, terr))))
			default:
				s.fail(c, labErr(terr))
			}
		},
	}
	duplex.Allow(c.Writer)
	req := c.Request
	if strings.HasSuffix(req.URL.Path, "/events") && req.Method == http.MethodGet {
		// A live stream ends when this replica shuts down, as one served
		// here does; the browser connects again.
		ctx, cancel := context.WithCancel(req.Context())
		defer cancel()
		defer s.metrics.StreamOpened("forwarded")()
		go func() {
			select {
			case <-s.ending.ch:
				cancel()
			case <-ctx.Done():
			}
		}()
		req = req.WithContext(ctx)
	}
	p.ServeHTTP(c.Writer, req)
	return taken
}

// notSent reports whether a forwarding error happened before any of the
// request left this replica: the holder's address could not be dialled.
func notSent(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return (errors.As(err, &op) && op.Op == "dial") || errors.As(err, &dns)
}

// keptBody is a request body the forwarding transport may close but not
// take away: when nothing of it was read, it can still be served here.
type keptBody struct {
	io.ReadCloser
	read atomic.Bool
}

func (b *keptBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.ReadCloser.Read(p)
}

func (*keptBody) Close() error { return nil } // the server closes the request's own body

func (b *keptBody) touched() bool { return b != nil && b.read.Load() }

func keepBody(req *http.Request) *keptBody {
	if req.Body == nil || req.Body == http.NoBody {
		return nil
	}
	b := &keptBody{ReadCloser: req.Body}
	req.Body = b
	return b
}

// labClusterErr maps the errors of instances between replicas.
func labClusterErr(err error) (error, bool) {
	switch {
	case errors.Is(err, labs.ErrMoving):
		e := apperr.Wrap(err, apperr.Unavailable, movingMessage)
		e.RetryAfterSeconds = 2
		return e, true
	case errors.Is(err, labs.ErrHolderDown):
		e := apperr.Wrap(err, apperr.Unavailable, holderDownMessage)
		e.RetryAfterSeconds = 5
		return e, true
	}
	return err, false
}
